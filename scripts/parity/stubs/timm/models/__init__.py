from . import layers  # noqa: F401


def create_model(model_name, pretrained=False, **kwargs):
    # Only the vitamin_xlarge_256 teacher goes through timm; it needs timm's model zoo and its weights.
    raise NotImplementedError(
        f"timm stub: create_model({model_name!r}) needs the real timm; the parity fixtures use the "
        "clipb_224 and siglip_384 teachers only")
