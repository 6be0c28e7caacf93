class SiglipImageProcessor:
    """Imported by tokenizer/vq_model.py and vq_loss.py but never used by the tokenizer code."""

    def __init__(self, *args, **kwargs):
        raise NotImplementedError("transformers stub: SiglipImageProcessor is not implemented "
                                  "(the tokenizer fixtures feed tensors directly)")
