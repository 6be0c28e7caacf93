from .configuration_siglip import SiglipVisionConfig  # noqa: F401
from .image_processing_siglip import SiglipImageProcessor  # noqa: F401
from .modeling_siglip import SiglipVisionModel  # noqa: F401
