"""InternImage's classification optimizer (plain PyTorch, no MMEngine needed at call time).

Follows OpenGVLab/InternImage ``classification/optimizer.py`` (``build_optimizer`` /
``set_weight_decay_and_lr``), which InternVL's classification code shares. Per parameter:

- **weight decay** 0 for 1-D parameters, names ending in ``.bias``, names in the model's
  ``no_weight_decay()`` and names containing one of its ``no_weight_decay_keywords()``; else
  ``weight_decay``;
- **lr**, when ``lr_layer_decay_ratio`` is given: ``base_lr * ratio`` with ``ratio`` the value of
  the first key of ``model.lr_decay_keywords(lr_layer_decay_ratio)`` (InternImage's models spell it
  ``lr_decay_keywards``; both are read) that is a substring of the name, 1.0 when none is; then,
  with ``dcn_lr_mul``, times ``dcn_lr_mul`` for names containing ``offset``,
  ``attention_weights``, ``center_feature_scale_proj`` or ``alpha_beta`` (as in the source, the DCN
  multiplier applies only together with layer decay). Without ``lr_layer_decay_ratio`` every lr is
  ``base_lr``.
- ``freeze_backbone`` levels: parameters whose name contains ``levels.{i}.`` for a listed ``i``
  are in no group. (InternImage also sets their ``requires_grad=False``; this function changes
  nothing in the model: freeze them there if their gradients should not be computed.)

InternImage builds one group per parameter; here parameters with the same ``(lr, weight_decay)``
share a group, in first-appearance order, so every parameter gets exactly the same lr and weight
decay with far fewer groups.
"""
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import torch
from torch import nn

from .._checks import RATE, Interval, check_number
from ..recipes._schema import flat_or_bias

_POSITIVE = Interval(low=0, low_open=True, text='a finite number > 0')
_NON_NEGATIVE = Interval(low=0, text='a finite number >= 0')

#: Names the DCN lr multiplier applies to.
DCN_KEYWORDS = ('offset', 'attention_weights', 'center_feature_scale_proj', 'alpha_beta')
#: The method names a model may give its lr ratios under (InternImage spells the second).
LR_DECAY_METHODS = ('lr_decay_keywords', 'lr_decay_keywards')


def _model_list(model: nn.Module, method: str) -> Tuple[str, ...]:
    listed = getattr(model, method, None)
    if not callable(listed):
        return ()
    result = listed()
    if isinstance(result, str) or not all(isinstance(item, str) for item in result):
        raise TypeError(f'{type(model).__name__}.{method}() must return names (an iterable of '
                        f'str), got {result!r}')
    return tuple(result)


def lr_ratios(model: nn.Module, lr_layer_decay_ratio: float) -> Mapping[str, float]:
    """``{name substring: lr ratio}`` from the model's ``lr_decay_keywords(ratio)``; TypeError
    naming the model when it has no such method."""
    for method in LR_DECAY_METHODS:
        get_ratios = getattr(model, method, None)
        if callable(get_ratios):
            ratios = dict(get_ratios(lr_layer_decay_ratio))
            for key, ratio in ratios.items():
                if not isinstance(key, str):
                    raise TypeError(f'{type(model).__name__}.{method}() keys must be name '
                                    f'substrings (str), got {key!r}')
                check_number(f'{type(model).__name__}.{method}(): {key!r}', ratio, _POSITIVE)
            return ratios
    raise TypeError(f'param_groups_internimage: lr_layer_decay_ratio is set, but '
                    f'{type(model).__name__} has neither {LR_DECAY_METHODS[0]}(ratio) nor '
                    f'{LR_DECAY_METHODS[1]}(ratio), which give the lr ratio of each name')


def _frozen_levels(model: nn.Module, freeze_backbone: Iterable[int]) -> Tuple[str, ...]:
    """``('levels.0', ...)`` for the listed levels; an error for a level the model lacks."""
    if isinstance(freeze_backbone, (str, bytes)):
        raise TypeError('param_groups_internimage: freeze_backbone must be level indices such '
                        f'as [0, 1], got {freeze_backbone!r}')
    names = [name for name, _ in model.named_parameters()]
    frozen = []
    for level in freeze_backbone:
        if not isinstance(level, int) or isinstance(level, bool):
            raise TypeError(f'param_groups_internimage: freeze_backbone must hold level indices '
                            f'(ints), got {level!r}')
        marker = f'levels.{level}.'
        if not any(marker in name for name in names):
            raise ValueError(f'param_groups_internimage: freeze_backbone lists level {level}, but '
                             f'no parameter of {type(model).__name__} lies under {marker!r}')
        frozen.append(marker)
    return tuple(frozen)


def _first_ratio(name: str, ratios: Mapping[str, float]) -> Optional[float]:
    return next((ratio for key, ratio in ratios.items() if key in name), None)


def param_groups_internimage(model: nn.Module, weight_decay: float, base_lr: float,
                             lr_layer_decay_ratio: Optional[float] = None,
                             freeze_backbone: Iterable[int] = (),
                             dcn_lr_mul: Optional[float] = None) -> List[Dict[str, Any]]:
    """Parameter groups with InternImage's per-parameter lr and weight decay (see the module).

    Returns dicts with ``params``, ``param_names``, ``lr`` and ``weight_decay``, ready for any
    ``torch.optim`` optimizer. TypeError / ValueError, naming the argument, for a non-number, a
    non-finite or negative ``weight_decay`` / ``dcn_lr_mul``, a ``base_lr`` <= 0, a ratio outside
    (0, 1], a model ratio that is not a finite number > 0, or a frozen level the model lacks.
    """
    owner = 'param_groups_internimage'
    weight_decay = check_number(f'{owner}: weight_decay', weight_decay, _NON_NEGATIVE)
    check_number(f'{owner}: base_lr', base_lr, _POSITIVE)
    if lr_layer_decay_ratio is not None:
        check_number(f'{owner}: lr_layer_decay_ratio', lr_layer_decay_ratio, RATE)
    if dcn_lr_mul is not None:
        check_number(f'{owner}: dcn_lr_mul', dcn_lr_mul, _NON_NEGATIVE)
    skip = set(_model_list(model, 'no_weight_decay'))
    skip_keywords = _model_list(model, 'no_weight_decay_keywords')
    ratios = lr_ratios(model, lr_layer_decay_ratio) if lr_layer_decay_ratio is not None else None
    frozen = _frozen_levels(model, freeze_backbone)
    groups: Dict[Tuple[float, float], Dict[str, Any]] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad or any(level in name for level in frozen):
            continue
        no_decay = (flat_or_bias(name, param.ndim) or name in skip
                    or any(keyword in name for keyword in skip_keywords))
        wd = 0.0 if no_decay else weight_decay
        lr = base_lr
        if ratios is not None:
            ratio = _first_ratio(name, ratios)
            lr = base_lr * (ratio if ratio is not None else 1.0)
            if dcn_lr_mul is not None and any(key in name for key in DCN_KEYWORDS):
                lr = dcn_lr_mul * lr
        group = groups.setdefault((lr, wd), {'params': [], 'param_names': [], 'lr': lr,
                                              'weight_decay': wd})
        group['params'].append(param)
        group['param_names'].append(name)
    return list(groups.values())


def build_internimage_optimizer(model: nn.Module, name: str, base_lr: float, weight_decay: float,
                                *, lr_layer_decay_ratio: Optional[float] = None,
                                freeze_backbone: Sequence[int] = (),
                                dcn_lr_mul: Optional[float] = None, momentum: float = 0.9,
                                eps: float = 1e-8, betas: Tuple[float, float] = (0.9, 0.999),
                                use_zero: bool = False) -> torch.optim.Optimizer:
    """InternImage's ``build_optimizer``: ``name`` ``'adamw'`` (``eps``, ``betas``) or ``'sgd'``
    (``momentum``, Nesterov) over :func:`param_groups_internimage`; ``use_zero`` wraps it in
    ``torch.distributed.optim.ZeroRedundancyOptimizer`` (needs an initialised process group; every
    rank's local groups keep the true ``param_names``).
    ValueError for another ``name``."""
    groups = param_groups_internimage(model, weight_decay, base_lr, lr_layer_decay_ratio,
                                      freeze_backbone, dcn_lr_mul)
    lowered = name.lower()
    if lowered == 'adamw':
        optimizer_class, options = torch.optim.AdamW, dict(eps=eps, betas=betas)
    elif lowered == 'sgd':
        optimizer_class, options = torch.optim.SGD, dict(momentum=momentum, nesterov=True)
    else:
        raise ValueError(f"build_internimage_optimizer: name must be 'adamw' or 'sgd', got "
                         f'{name!r}')
    if not use_zero:
        return optimizer_class(groups, lr=base_lr, weight_decay=weight_decay, **options)
    from torch.distributed.optim import ZeroRedundancyOptimizer

    from ..distributed._zero_groups import keep_zero_param_names
    optimizer = ZeroRedundancyOptimizer(groups, optimizer_class=optimizer_class, lr=base_lr,
                                        weight_decay=weight_decay, **options)
    keep_zero_param_names(optimizer)
    return optimizer
