class PretrainedConfig:
    """The attributes of transformers' PretrainedConfig that the SigLIP vision forward reads."""

    model_type = ""

    def __init__(self, output_hidden_states=False, output_attentions=False, return_dict=True,
                 attn_implementation=None, **kwargs):
        self.output_hidden_states = output_hidden_states
        self.output_attentions = output_attentions
        self.return_dict = return_dict
        # transformers 4.43 defaults a config built in code to "eager"; from_pretrained would pick "sdpa"
        # on torch >= 2.1.1, which torch 1.13 lacks. Same mathematics, another summation order.
        self._attn_implementation = attn_implementation or "eager"
        for key, value in kwargs.items():
            setattr(self, key, value)

    @property
    def use_return_dict(self):
        return self.return_dict

    def to_dict(self):
        return dict(vars(self))

    def __repr__(self):
        return f"{type(self).__name__} {self.to_dict()}"
