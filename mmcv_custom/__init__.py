"""Layer-wise learning-rate decay for OpenMMLab 2.x.

Importing the package registers ``CustomLayerDecayOptimizerConstructor`` and
``LearningRateDecayOptimizerConstructor`` in MMEngine's registries (see ``mmcv_custom.registry``),
and the ``LayerDecayLrHook``, ``LayerDecayLogProcessor``, ``PolyLRRatio`` and ``LrUpdaterLR``
helpers. It needs only torch and MMEngine.
"""
from .checkpoint import load_from_local
from .constructors import (CustomLayerDecayOptimizerConstructor,
                           LearningRateDecayOptimizerConstructor)
from .engine import ConfigKeyError, MissingKeyError, UnknownKeyError, summarize_groups
from .hooks import LayerDecayLogProcessor, LayerDecayLrHook
from .layer_ids import (ConvNeXtLayerIds, ConvNeXtStageIds, LayerIdRule, ModelLayerDepth,
                        ViTLayerIds)
from .lr_updater import LrUpdaterLR
from .param_groups_lrd import param_groups_lrd
from .registry import register_constructors
from .schedulers import PolyLRRatio
from .version import __version__

register_constructors(CustomLayerDecayOptimizerConstructor, LearningRateDecayOptimizerConstructor)

__all__ = [
    '__version__', 'CustomLayerDecayOptimizerConstructor', 'LearningRateDecayOptimizerConstructor',
    'param_groups_lrd', 'ViTLayerIds', 'ConvNeXtLayerIds', 'ConvNeXtStageIds', 'ModelLayerDepth',
    'LayerIdRule', 'summarize_groups', 'ConfigKeyError', 'MissingKeyError', 'UnknownKeyError',
    'LayerDecayLrHook', 'LayerDecayLogProcessor', 'PolyLRRatio', 'LrUpdaterLR', 'load_from_local',
]
