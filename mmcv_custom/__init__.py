"""Layer-wise learning-rate decay for OpenMMLab 2.x.

Importing the package registers ``CustomLayerDecayOptimizerConstructor`` and
``LearningRateDecayOptimizerConstructor`` in MMEngine's registries (see ``mmcv_custom.registry``),
and the ``LayerDecayLrHook``, ``LayerDecayLogProcessor`` and ``PolyLRRatio`` helpers, the FSDP
wrap policies of ``mmcv_custom.fsdp_wrap``, and installs two upstream fixes: the safe checkpoint
loader (``mmcv_custom.checkpoint``) and MMEngine 0.10.7's FSDP optimizer-state loading under
torch >= 2.1 (``mmcv_custom.compat.mmengine_fsdp``). It needs only torch and MMEngine.
"""
from . import fsdp_wrap  # noqa: F401  (registers the FSDP policies in MMEngine's FUNCTIONS)
from .checkpoint import load_from_local
from .compat import mmengine_fsdp
from .constructors import (CustomLayerDecayOptimizerConstructor,
                           LearningRateDecayOptimizerConstructor)
from .engine import ConfigKeyError, MissingKeyError, UnknownKeyError, summarize_groups
from .hooks import LayerDecayLogProcessor, LayerDecayLrHook
from .layer_ids import (ConvNeXtLayerIds, ConvNeXtStageIds, LayerIdRule, ModelLayerDepth,
                        ViTLayerIds)
from .param_groups_lrd import param_groups_lrd
from .registry import register_constructors
from .schedulers import PolyLRRatio
from .version import __version__

register_constructors(CustomLayerDecayOptimizerConstructor, LearningRateDecayOptimizerConstructor)
mmengine_fsdp.install()

__all__ = [
    '__version__', 'CustomLayerDecayOptimizerConstructor', 'LearningRateDecayOptimizerConstructor',
    'param_groups_lrd', 'ViTLayerIds', 'ConvNeXtLayerIds', 'ConvNeXtStageIds', 'ModelLayerDepth',
    'LayerIdRule', 'summarize_groups', 'ConfigKeyError', 'MissingKeyError', 'UnknownKeyError',
    'LayerDecayLrHook', 'LayerDecayLogProcessor', 'PolyLRRatio', 'load_from_local',
]
