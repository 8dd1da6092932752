"""Layer-wise learning-rate decay for OpenMMLab 2.x.

Importing the package registers ``CustomLayerDecayOptimizerConstructor``,
``LearningRateDecayOptimizerConstructor`` and ``LayerDecayOptimizerConstructor`` in MMEngine's
registries (see ``mmcv_custom.registry``), and the ``LayerDecayLrHook``,
``LayerDecayLogProcessor``, ``PolyLRRatio`` and ``LrUpdaterLR`` helpers, and the FSDP wrap
policies of ``mmcv_custom.fsdp_wrap``. One fix is made on import, because it must come before
anything imports ``mmpretrain.models``: with transformers >= 4.52 installed, mmpretrain's
multimodal models (which cannot import with it) are left out so that ``mmpretrain.models``,
``mmdet.models`` and ``mmseg.models`` import (``mmcv_custom.compat.mmpretrain_multimodal``; it acts
only when that module is imported). Nothing else changes in the process: the other fixes for
upstream incompatibilities (``mmcv_custom.compat``) are installed where they are needed. It needs
only torch and MMEngine. It also registers the ``InternViT`` backbone and the
``InternVLFeaturePyramid`` neck (``mmcv_custom.models``).
"""
from typing import Any

from . import fsdp_wrap  # noqa: F401  (registers the FSDP policies in MMEngine's FUNCTIONS)
from . import models  # noqa: F401  (registers InternViT and InternVLFeaturePyramid)
from .compat import mmpretrain_multimodal
from .constructors import (CustomLayerDecayOptimizerConstructor, LayerDecayOptimizerConstructor,
                           LearningRateDecayOptimizerConstructor)
from .engine import ConfigKeyError, MissingKeyError, UnknownKeyError, summarize_groups
from .hooks import LayerDecayLrHook
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
mmpretrain_multimodal.install()  # before anything imports mmpretrain.models (nothing here does)


def __getattr__(name: str) -> Any:
    # These two import mmengine.runner (and with it DeepSpeed where installed): only when asked
    # for. LayerDecayLogProcessor is registered by name all the same (mmcv_custom.hooks).
    if name == 'load_from_local':
        from .compat.checkpoint_loading import load_from_local
        return load_from_local
    if name == 'LayerDecayLogProcessor':
        from .hooks import LayerDecayLogProcessor
        return LayerDecayLogProcessor
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')


__all__ = [
    '__version__', 'CustomLayerDecayOptimizerConstructor', 'LearningRateDecayOptimizerConstructor',
    'LayerDecayOptimizerConstructor', 'RECIPES', 'LayerDecayRecipe', 'param_groups_lrd',
    'param_groups_internimage', 'build_internimage_optimizer', 'ViTLayerIds', 'ConvNeXtLayerIds',
    'ConvNeXtStageIds', 'ModelLayerDepth', 'LayerIdRule', 'summarize_groups', 'ConfigKeyError',
    'MissingKeyError', 'UnknownKeyError', 'LayerDecayLrHook', 'LayerDecayLogProcessor',
    'PolyLRRatio', 'LrUpdaterLR', 'load_from_local',
]
