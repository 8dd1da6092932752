"""Shared test helpers: build groups through the public API and flatten them for comparison."""
from typing import Dict, Optional, Tuple

from mmengine.optim import build_optim_wrapper
from torch import nn


def optim_cfg(constructor: str, paramwise_cfg: Optional[dict], lr: float = 1e-3,
              weight_decay: Optional[float] = 0.05, optimizer: str = 'AdamW', **wrapper) -> dict:
    optimizer_cfg = dict(type=optimizer, lr=lr)
    if weight_decay is not None:
        optimizer_cfg['weight_decay'] = weight_decay
    return dict(type='OptimWrapper', optimizer=optimizer_cfg, constructor=constructor,
                paramwise_cfg=paramwise_cfg, **wrapper)


def build_groups(model: nn.Module, constructor: str, paramwise_cfg: Optional[dict], **kwargs):
    return build_optim_wrapper(model, optim_cfg(constructor, paramwise_cfg, **kwargs)) \
        .optimizer.param_groups


def lr_wd_by_name(groups) -> Dict[str, Tuple[float, float]]:
    """``{param_name: (lr, weight_decay)}`` over all groups."""
    return {name: (group['lr'], group['weight_decay'])
            for group in groups for name in group['param_names']}


def group_layout(groups):
    """What a peer-parity test compares: names, members, lr, lr_scale and weight decay, in order."""
    return [(g['group_name'], list(g['param_names']), g['lr'], g['lr_scale'], g['weight_decay'])
            for g in groups]
