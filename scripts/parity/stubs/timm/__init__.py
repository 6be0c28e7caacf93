"""Stand-in for timm (not packaged by Debian 12): the few helpers the official tokenizer imports.

vq_model.py / vqkd_model.py import `trunc_normal_`, `drop_path`, `to_2tuple` from timm.models.layers
(copied below from timm 0.9, the behaviour is unchanged across versions) and `create_model`, which is
used only for the `vitamin_xlarge_256` teacher (not covered by any fixture), so it raises.
"""

from .models import create_model  # noqa: F401

__version__ = "0.9.16-parity-stub"
