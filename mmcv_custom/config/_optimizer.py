"""``optim_wrapper.optimizer``, read once: its type (looked up once in the registry), base lr and
base weight decay (the optimizer's own default when the config gives none)."""
import difflib
import inspect
from dataclasses import dataclass
from typing import Any, Mapping

import torch
from mmengine.registry import OPTIMIZERS

from .._checks import NON_NEGATIVE, POSITIVE, check_number, is_number
from ._keys import MissingKeyError, UnknownKeyError

__all__ = ['OptimizerSettings', 'parse_optimizer']


@dataclass(frozen=True)
class OptimizerSettings:
    """What layer decay needs from the optimizer config: ``base_lr`` (``optimizer.lr``) and
    ``base_wd`` (``optimizer.weight_decay``, else the optimizer class's default: AdamW 0.01, SGD
    0), and whether the config gave the weight decay (the report says when it did not)."""

    base_lr: float
    base_wd: float
    wd_given: bool


def _optimizer_class(owner: str, optimizer: Mapping[str, Any]) -> type:
    """The class ``optimizer.type`` names in the current scope (``ZeroRedundancyOptimizer``: the
    wrapped ``optimizer_type`` of ``torch.optim``); UnknownKeyError with the close names."""
    kind = optimizer['type']
    if not isinstance(kind, str):
        return kind
    if 'optimizer_type' in optimizer:
        wrapped = getattr(torch.optim, str(optimizer['optimizer_type']), None)
        if wrapped is not None:
            return wrapped
    with OPTIMIZERS.switch_scope_and_registry(None) as registry:
        found = registry.get(kind)
        if found is None:
            known = sorted(set(registry.module_dict) | set(OPTIMIZERS.module_dict))
            close = difflib.get_close_matches(kind, known, n=1)
            hint = f' Did you mean {close[0]!r}?' if close else ''
            raise UnknownKeyError(f'{owner}: optim_wrapper.optimizer.type={kind!r} is not a '
                                  f'registered optimizer.{hint} Known: {known}')
    return found


def parse_optimizer(owner: str, optim_wrapper_cfg: Any) -> OptimizerSettings:
    """:class:`OptimizerSettings` of ``optim_wrapper_cfg``. TypeError / MissingKeyError /
    ValueError / UnknownKeyError naming the key: not a dict, no ``optimizer`` / ``type`` /
    ``lr``, an ``lr`` that is not a finite number > 0, a ``weight_decay`` that is not one >= 0,
    an optimizer type no registry knows."""
    if not isinstance(optim_wrapper_cfg, dict):
        raise TypeError(f'{owner}: optim_wrapper_cfg must be a dict, got '
                        f'{type(optim_wrapper_cfg).__name__}')
    if 'optimizer' not in optim_wrapper_cfg:
        raise MissingKeyError(f'{owner}: optim_wrapper.optimizer is required, e.g. '
                              "dict(type='AdamW', lr=1e-4, weight_decay=0.05)")
    optimizer = optim_wrapper_cfg['optimizer']
    if not isinstance(optimizer, dict):
        raise TypeError(f'{owner}: optim_wrapper.optimizer must be a dict, got '
                        f'{type(optimizer).__name__}')
    if 'type' not in optimizer:
        raise MissingKeyError(f"{owner}: optim_wrapper.optimizer.type is required, e.g. 'AdamW'")
    if 'lr' not in optimizer:
        raise MissingKeyError(f"{owner}: optim_wrapper.optimizer.lr is required: every group's "
                              'lr is the base lr times its layer-decay scale')
    path = f'{owner}: optim_wrapper.optimizer'
    base_lr = check_number(f'{path}.lr', optimizer['lr'], POSITIVE)
    wd_given = 'weight_decay' in optimizer
    if wd_given:
        base_wd = check_number(f'{path}.weight_decay', optimizer['weight_decay'], NON_NEGATIVE,
                               "a number (omit it to use the optimizer's default)")
    optimizer_class = _optimizer_class(owner, optimizer)
    if not wd_given:
        parameter = inspect.signature(optimizer_class).parameters.get('weight_decay')
        default = None if parameter is None else parameter.default
        base_wd = float(default) if is_number(default) else 0.0
    return OptimizerSettings(base_lr, base_wd, wd_given)
