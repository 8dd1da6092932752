"""Load a config and build its model and optimizer wrapper for inspection (steps 1-3 of the
inspector, ``mmcv_custom.analysis``): on the ``meta`` device when asked, ``AmpOptimWrapper``
replaced where no accelerator is present."""
import copy
import logging
from pathlib import Path
from typing import Any, Callable, ContextManager, Dict, List, Optional, Tuple, Union

import torch
from mmengine.config import Config
from mmengine.device import (is_cuda_available, is_mlu_available, is_musa_available,
                             is_npu_available)
from mmengine.logging import MMLogger
from mmengine.optim import OptimWrapper, build_optim_wrapper
from mmengine.registry import MODELS, DefaultScope
from mmengine.utils import import_modules_from_strings
from torch import nn
from torch.overrides import TorchFunctionMode

#: ``AmpOptimWrapper`` arguments that ``OptimWrapper`` does not take.
AMP_ONLY_KEYS = ('loss_scale', 'dtype', 'use_fsdp')

PathLike = Union[str, Path]


def _log(message: str, level: int = logging.INFO) -> None:
    MMLogger.get_current_instance().log(level, message)


def load_config(path: PathLike, cfg_options: Optional[Dict[str, Any]] = None) -> Config:
    """The config at ``path`` with ``cfg_options`` merged and its ``custom_imports`` imported."""
    cfg = Config.fromfile(str(path))
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    custom_imports = cfg.get('custom_imports')
    if custom_imports:
        import_modules_from_strings(**custom_imports)
    return cfg


def _default_scope(cfg: Config) -> ContextManager[Any]:
    return DefaultScope.overwrite_default_scope(cfg.get('default_scope'))


#: Factories that allocate storage (parameters, buffers): sent to ``meta`` by ``MetaAllocation``.
ALLOCATING_FACTORIES = frozenset({
    torch.empty, torch.empty_strided, torch.empty_permuted, torch.zeros, torch.ones, torch.full,
    torch.rand, torch.randn, torch.randint,
})


class MetaAllocation(TorchFunctionMode):
    """Inside this mode, allocating factories without a ``device`` (``torch.empty``, ``zeros``,
    ``ones``, ``full``, ``rand*``: how modules create their parameters) create ``meta`` tensors.

    Value factories (``arange``, ``linspace``, ``tensor`` ...) stay on the CPU, because model
    constructors read their values: mmseg's ViT and mmpretrain's ConvNeXt take drop-path rates
    from ``torch.linspace(...)`` with ``.item()``, which ``with torch.device('meta')`` refuses.
    """

    def __torch_function__(self, func: Callable[..., Any], types: Tuple[type, ...],
                           args: Tuple[Any, ...] = (),
                           kwargs: Optional[Dict[str, Any]] = None) -> Any:
        kwargs = dict(kwargs or {})
        if func in ALLOCATING_FACTORIES and kwargs.get('device') is None:
            kwargs['device'] = torch.device('meta')
        return func(*args, **kwargs)


def build_model(cfg: Config, meta: bool = False) -> nn.Module:
    """``cfg.model`` built under the config's default scope, without ``init_weights``.

    With ``meta=True`` the parameters are allocated on the ``meta`` device (see
    ``MetaAllocation``; small buffers computed from values may stay on the CPU). If the model's
    constructor still needs real values of a meta tensor, it is built on the CPU, with a warning.
    """
    with _default_scope(cfg):
        if meta:
            try:
                with MetaAllocation():
                    return MODELS.build(copy.deepcopy(cfg.model))
            except (RuntimeError, NotImplementedError) as error:
                if 'meta' not in str(error):
                    raise
                _log(f'the model cannot be built on the meta device ({error}); building it on '
                     'the CPU instead', logging.WARNING)
        return MODELS.build(copy.deepcopy(cfg.model))


def _has_accelerator() -> bool:
    return (is_cuda_available() or is_npu_available() or is_mlu_available()
            or is_musa_available())


def optim_wrapper_cfg_for_inspection(cfg: Config) -> Tuple[dict, List[str]]:
    """``cfg.optim_wrapper`` as a plain dict, and notes on what had to change to build it here.

    ``AmpOptimWrapper`` asserts that a GPU (or NPU, MLU, MUSA) is present; without one it becomes
    ``OptimWrapper`` (loss scaling and the autocast dtype do not change the parameter groups).
    """
    wrapper_cfg = copy.deepcopy(cfg.optim_wrapper)
    wrapper_cfg = wrapper_cfg.to_dict() if hasattr(wrapper_cfg, 'to_dict') else dict(wrapper_cfg)
    notes = []
    if wrapper_cfg.get('type') == 'AmpOptimWrapper' and not _has_accelerator():
        wrapper_cfg['type'] = 'OptimWrapper'
        dropped = [key for key in AMP_ONLY_KEYS if wrapper_cfg.pop(key, None) is not None]
        notes.append('AmpOptimWrapper needs an accelerator; built as OptimWrapper instead '
                     f'(dropped {dropped}); the parameter groups are the same')
    return wrapper_cfg, notes


def build_optim_wrapper_for_inspection(model: nn.Module,
                                       cfg: Config) -> Tuple[OptimWrapper, List[str]]:
    """The config's optimizer wrapper for ``model``, built through its constructor."""
    wrapper_cfg, notes = optim_wrapper_cfg_for_inspection(cfg)
    with _default_scope(cfg):
        return build_optim_wrapper(model, wrapper_cfg), notes
