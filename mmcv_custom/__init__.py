"""Layer-wise learning-rate decay for OpenMMLab 2.x.

Importing the package registers ``CustomLayerDecayOptimizerConstructor``,
``LearningRateDecayOptimizerConstructor`` and ``LayerDecayOptimizerConstructor`` in MMEngine's
registries (see ``mmcv_custom.registry``), and the ``LayerDecayLrHook``,
``LayerDecayLogProcessor``, ``PolyLRRatio`` and ``LrUpdaterLR`` helpers. It needs only torch and
MMEngine.
"""
from .checkpoint import load_from_local
from .constructors import (CustomLayerDecayOptimizerConstructor, LayerDecayOptimizerConstructor,
                           LearningRateDecayOptimizerConstructor)
from .engine import ConfigKeyError, MissingKeyError, UnknownKeyError, summarize_groups
from .hooks import LayerDecayLogProcessor, LayerDecayLrHook
from .layer_ids import (RECIPES, ConvNeXtLayerIds, ConvNeXtStageIds, LayerDecayRecipe,
                        LayerIdRule, ModelLayerDepth, ViTLayerIds)
from .lr_updater import LrUpdaterLR
from .param_groups_internimage import build_internimage_optimizer, param_groups_internimage
from .param_groups_lrd import param_groups_lrd
from .registry import register_constructors
from .schedulers import PolyLRRatio
from .version import __version__

register_constructors(CustomLayerDecayOptimizerConstructor, LearningRateDecayOptimizerConstructor,
                      LayerDecayOptimizerConstructor)

__all__ = [
    '__version__', 'CustomLayerDecayOptimizerConstructor', 'LearningRateDecayOptimizerConstructor',
    'LayerDecayOptimizerConstructor', 'RECIPES', 'LayerDecayRecipe', 'param_groups_lrd',
    'param_groups_internimage', 'build_internimage_optimizer', 'ViTLayerIds', 'ConvNeXtLayerIds',
    'ConvNeXtStageIds', 'ModelLayerDepth', 'LayerIdRule', 'summarize_groups', 'ConfigKeyError',
    'MissingKeyError', 'UnknownKeyError', 'LayerDecayLrHook', 'LayerDecayLogProcessor',
    'PolyLRRatio', 'LrUpdaterLR', 'load_from_local',
]
