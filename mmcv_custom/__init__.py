"""Layer-wise learning-rate decay for OpenMMLab 2.x.

Importing the package registers ``CustomLayerDecayOptimizerConstructor``,
``LearningRateDecayOptimizerConstructor`` and ``LayerDecayOptimizerConstructor`` in MMEngine's
registries (see ``mmcv_custom.registry``), and the ``LayerDecayLrHook``,
``LayerDecayLogProcessor``, ``PolyLRRatio`` and ``LrUpdaterLR`` helpers, the FSDP wrap policies of
``mmcv_custom.fsdp_wrap``, and installs two upstream fixes: the safe checkpoint loader
(``mmcv_custom.checkpoint``) and MMEngine 0.10.7's FSDP optimizer-state loading under torch >= 2.1
(``mmcv_custom.compat.mmengine_fsdp``), and lets ``mmpretrain.models`` import beside transformers
>= 4.52 (``mmcv_custom.compat.mmpretrain_multimodal``). It registers the ``InternViT`` backbone
and ``InternVLFeaturePyramid`` neck (``mmcv_custom.models``). It needs only torch and MMEngine.
"""
from . import fsdp_wrap  # noqa: F401  (registers the FSDP policies in MMEngine's FUNCTIONS)
from . import models  # noqa: F401  (registers InternViT and InternVLFeaturePyramid)
from .checkpoint import load_from_local
from .compat import mmengine_fsdp, mmpretrain_multimodal
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
mmengine_fsdp.install()
mmpretrain_multimodal.install()  # before anything imports mmpretrain.models

__all__ = [
    '__version__', 'CustomLayerDecayOptimizerConstructor', 'LearningRateDecayOptimizerConstructor',
    'LayerDecayOptimizerConstructor', 'RECIPES', 'LayerDecayRecipe', 'param_groups_lrd',
    'param_groups_internimage', 'build_internimage_optimizer', 'ViTLayerIds', 'ConvNeXtLayerIds',
    'ConvNeXtStageIds', 'ModelLayerDepth', 'LayerIdRule', 'summarize_groups', 'ConfigKeyError',
    'MissingKeyError', 'UnknownKeyError', 'LayerDecayLrHook', 'LayerDecayLogProcessor',
    'PolyLRRatio', 'LrUpdaterLR', 'load_from_local',
]
