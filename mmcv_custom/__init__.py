"""Layer-wise learning-rate decay for OpenMMLab 2.x.

Importing the package registers ``CustomLayerDecayOptimizerConstructor``,
``LearningRateDecayOptimizerConstructor`` and ``LayerDecayOptimizerConstructor`` in MMEngine's
registries (see ``mmcv_custom.registry``), and the ``LayerDecayLrHook``,
``LayerDecayLogProcessor``, ``PolyLRRatio`` and ``LrUpdaterLR`` helpers, the FSDP wrap policies of
``mmcv_custom.distributed``, and installs two upstream fixes: the safe checkpoint loader
(``mmcv_custom.checkpoint``) and MMEngine 0.10.7's FSDP optimizer-state loading under torch >= 2.1
(``mmcv_custom.compat.mmengine_fsdp``). It needs only torch and MMEngine.

The public API is ``__all__`` below, ``mmcv_custom.migrate`` and ``mmcv_custom.analysis``; every
other module is internal (its name starts with ``_``).
"""
from .registry import register_constructors
from .checkpoint import load_from_local
from .compat import mmengine_fsdp
from .config._keys import ConfigKeyError, MissingKeyError, UnknownKeyError
from .constructors import (CustomLayerDecayOptimizerConstructor, LayerDecayOptimizerConstructor,
                           LearningRateDecayOptimizerConstructor)
from .distributed import _fsdp_policies  # noqa: F401  (registers the FSDP policies)
from .hooks import LayerDecayLogProcessor, LayerDecayLrHook
from .layer_decay._report import group_records, summarize_groups
from .plain import build_internimage_optimizer, param_groups_internimage, param_groups_lrd
from .recipes._published import RECIPES
from .recipes._schema import BlockPattern, LayerDecayRecipe, LrMultiplier, WeightDecayRule
from .schedulers import LrUpdaterLR, PolyLRRatio
from .version import __version__

register_constructors(CustomLayerDecayOptimizerConstructor, LearningRateDecayOptimizerConstructor,
                      LayerDecayOptimizerConstructor)
mmengine_fsdp.install()

__all__ = [
    '__version__', 'CustomLayerDecayOptimizerConstructor', 'LearningRateDecayOptimizerConstructor',
    'LayerDecayOptimizerConstructor', 'RECIPES', 'LayerDecayRecipe', 'BlockPattern',
    'LrMultiplier', 'WeightDecayRule', 'param_groups_lrd', 'param_groups_internimage',
    'build_internimage_optimizer', 'summarize_groups', 'group_records', 'ConfigKeyError',
    'MissingKeyError', 'UnknownKeyError', 'LayerDecayLrHook', 'LayerDecayLogProcessor',
    'PolyLRRatio', 'LrUpdaterLR', 'load_from_local',
]
