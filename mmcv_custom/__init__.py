"""Layer-wise learning-rate decay for OpenMMLab 2.x.

Importing the package registers ``CustomLayerDecayOptimizerConstructor``,
``LearningRateDecayOptimizerConstructor`` and ``LayerDecayOptimizerConstructor`` in MMEngine's
registries (see ``mmcv_custom.registry``), and the ``LayerDecayLrHook``,
``LayerDecayLogProcessor``, ``PolyLRRatio`` and ``LrUpdaterLR`` helpers, the FSDP wrap policies of
``mmcv_custom.distributed``, the ``InternViT`` backbone and the ``InternVLFeaturePyramid`` neck
(``mmcv_custom.models``). One fix is made on import, because it must come before anything imports
``mmpretrain.models``: with transformers >= 4.52 installed, mmpretrain's multimodal models (which
cannot import with it) are left out so that ``mmpretrain.models``, ``mmdet.models`` and
``mmseg.models`` import (``mmcv_custom.compat.mmpretrain_multimodal``; it acts only when that module
is imported). Nothing else changes in the process: the other fixes for upstream incompatibilities
(``mmcv_custom.compat``) are installed where they are needed. It needs only torch and MMEngine.

The public API is ``__all__`` below, ``mmcv_custom.migrate``, ``mmcv_custom.analysis``,
``mmcv_custom.models`` and ``mmcv_custom.compat``; every other module is internal (its name starts
with ``_``).
"""
from typing import Any

from . import models  # noqa: F401  (registers InternViT and InternVLFeaturePyramid)
from .compat import mmpretrain_multimodal
from .config._keys import ConfigKeyError, MissingKeyError, UnknownKeyError
from .constructors import (CustomLayerDecayOptimizerConstructor, LayerDecayOptimizerConstructor,
                           LearningRateDecayOptimizerConstructor)
from .distributed import _fsdp_policies  # noqa: F401  (registers the FSDP policies)
from .hooks import LayerDecayLrHook
from .layer_decay._report import group_records, summarize_groups
from .plain import build_internimage_optimizer, param_groups_internimage, param_groups_lrd
from .recipes._published import RECIPES
from .recipes._schema import BlockPattern, LayerDecayRecipe, LrMultiplier, WeightDecayRule
from .registry import register_constructors
from .schedulers import LrUpdaterLR, PolyLRRatio
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
    'LayerDecayOptimizerConstructor', 'RECIPES', 'LayerDecayRecipe', 'BlockPattern',
    'LrMultiplier', 'WeightDecayRule', 'param_groups_lrd', 'param_groups_internimage',
    'build_internimage_optimizer', 'summarize_groups', 'group_records', 'ConfigKeyError',
    'MissingKeyError', 'UnknownKeyError', 'LayerDecayLrHook', 'LayerDecayLogProcessor',
    'PolyLRRatio', 'LrUpdaterLR', 'load_from_local',
]
