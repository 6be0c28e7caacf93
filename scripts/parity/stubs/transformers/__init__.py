"""Stand-in for the slice of Hugging Face transformers 4.43.4 that the official TokenFlow tokenizer
imports (transformers is not packaged by Debian 12, and nothing can be downloaded here).

Covered: `modeling_utils.get_parameter_device/get_parameter_dtype`, `SiglipVisionConfig`,
`SiglipVisionModel` (the vision tower, its eager attention path, written after
models/siglip/modeling_siglip.py) and an offline `from_pretrained`, which builds a randomly
initialised model from a config the caller registered for the checkpoint name
(`modeling_utils.register_offline_pretrained`). `SiglipImageProcessor` is imported by vq_model.py but
never used there; it raises if instantiated.
"""

__version__ = "4.43.4"

from .models.siglip import SiglipImageProcessor, SiglipVisionConfig, SiglipVisionModel  # noqa: E402,F401
