"""What MMEngine's ``paramwise_cfg`` multipliers match, as ``DefaultOptimWrapperConstructor``
(MMEngine 0.10, ``mmengine/optim/optimizer/default_constructor.py``) decides it; where they stand
in the precedence is ``Plan.assign``'s (``_plan``).

- ``bias_lr_mult``: biases outside norm and DCN layers; ``dcn_offset_lr_mult``: the
  ``conv_offset`` convs of mmcv's deformable convs (both multiply the lr);
- the first of ``norm_decay_mult`` (norm layers), ``bias_decay_mult`` (biases outside DCN layers),
  ``dwconv_decay_mult`` (depth-wise convs), ``flat_decay_mult`` (1-D parameters outside DCN
  layers, by the original shape) sets ``weight_decay = base * mult``.
"""
from dataclasses import dataclass
from typing import Mapping, Optional, Tuple

from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.modules.instancenorm import _InstanceNorm

from ..config._schema import Settings
from ._params import ParamInfo

NORM_TYPES = (_BatchNorm, _InstanceNorm, nn.GroupNorm, nn.LayerNorm)


def _dcn_types() -> tuple:
    try:
        from mmcv.ops import DeformConv2d, ModulatedDeformConv2d
    except ImportError:
        return ()
    return (DeformConv2d, ModulatedDeformConv2d)


@dataclass(frozen=True)
class MMEngineMultipliers:
    """The multiplier keys of ``settings``, for the modules of one model (canonical paths)."""

    settings: Settings
    modules: Mapping[str, nn.Module]
    dcn_types: tuple

    @classmethod
    def of(cls, settings: Settings, modules: Mapping[str, nn.Module]) -> 'MMEngineMultipliers':
        """mmcv's DCN classes are imported only when a key that depends on them is set."""
        needs_dcn = any(value is not None for value in (
            settings.bias_lr_mult, settings.bias_decay_mult, settings.flat_decay_mult,
            settings.dcn_offset_lr_mult))
        return cls(settings, modules, _dcn_types() if needs_dcn else ())

    def __call__(self, param: ParamInfo) -> Tuple[float, Optional[float]]:
        """``(lr_mult, decay_mult)`` of ``param`` (``decay_mult`` None: no key applies)."""
        settings, module = self.settings, param.module
        in_dcn = bool(self.dcn_types and param.module_name and isinstance(
            self.modules.get(param.module_name.rpartition('.')[0]), self.dcn_types))
        is_norm = isinstance(module, NORM_TYPES)
        lr_mult = 1.0
        if param.attr == 'bias' and settings.bias_lr_mult is not None and not (is_norm or in_dcn):
            lr_mult = settings.bias_lr_mult
        if (settings.dcn_offset_lr_mult is not None and in_dcn
                and 'conv_offset' in param.module_name and isinstance(module, nn.Conv2d)):
            lr_mult = settings.dcn_offset_lr_mult
        if is_norm and settings.norm_decay_mult is not None:
            return lr_mult, settings.norm_decay_mult
        if param.attr == 'bias' and not in_dcn and settings.bias_decay_mult is not None:
            return lr_mult, settings.bias_decay_mult
        if (isinstance(module, nn.Conv2d) and module.in_channels == module.groups
                and settings.dwconv_decay_mult is not None):
            return lr_mult, settings.dwconv_decay_mult
        if len(param.shape) == 1 and not in_dcn and settings.flat_decay_mult is not None:
            return lr_mult, settings.flat_decay_mult
        return lr_mult, None
