from torch import nn

# name -> config: what `from_pretrained(name)` builds, since no checkpoint can be downloaded here.
_OFFLINE_PRETRAINED = {}


def register_offline_pretrained(name, config):
    """Make `SomeModel.from_pretrained(name)` return `SomeModel(config)` with random weights."""
    _OFFLINE_PRETRAINED[name] = config


def get_parameter_device(parameter):
    try:
        return next(parameter.parameters()).device
    except StopIteration:
        return next(parameter.buffers()).device


def get_parameter_dtype(parameter):
    # transformers returns the first floating-point parameter's dtype, else the first floating buffer's.
    last_dtype = None
    for t in parameter.parameters():
        last_dtype = t.dtype
        if t.is_floating_point():
            return t.dtype
    for t in parameter.buffers():
        last_dtype = t.dtype
        if t.is_floating_point():
            return t.dtype
    return last_dtype


class PreTrainedModel(nn.Module):
    config_class = None
    base_model_prefix = ""
    main_input_name = "input_ids"

    def __init__(self, config, *inputs, **kwargs):
        super().__init__()
        self.config = config

    def post_init(self):
        # transformers applies `_init_weights` here; from_pretrained then overwrites every weight with
        # the checkpoint's. Offline there is no checkpoint, so the modules keep PyTorch's default init.
        pass

    @property
    def device(self):
        return get_parameter_device(self)

    @property
    def dtype(self):
        return get_parameter_dtype(self)

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *model_args, config=None, **kwargs):
        name = str(pretrained_model_name_or_path)
        config = config if config is not None else _OFFLINE_PRETRAINED.get(name)
        if config is None:
            raise OSError(f"transformers stub: cannot download {name!r}; register a config for it with "
                          "transformers.modeling_utils.register_offline_pretrained(name, config)")
        attn_implementation = kwargs.pop("attn_implementation", None)
        if attn_implementation is not None:
            config._attn_implementation = attn_implementation
        model = cls(config, *model_args)
        model.eval()  # as transformers does after loading
        return model
