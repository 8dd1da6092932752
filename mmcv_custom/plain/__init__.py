"""Plain-PyTorch parameter groups (public in ``mmcv_custom``): MAE's ``param_groups_lrd`` and
InternImage's classification optimizer."""
from ._internimage import build_internimage_optimizer, param_groups_internimage
from ._mae import param_groups_lrd

__all__ = ['param_groups_lrd', 'param_groups_internimage', 'build_internimage_optimizer']
