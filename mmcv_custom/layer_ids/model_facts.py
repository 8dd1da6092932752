"""Facts read from the model itself: layer ids through mmpretrain's ``get_layer_depth`` protocol,
and the names its ``no_weight_decay()`` lists (timm / MAE / EVA convention).

A backbone that implements ``get_layer_depth(param_name, prefix) -> (layer_id, max_layer_id)`` (all
of mmpretrain's ViT-style and ConvNeXt backbones do) knows its own depth best. mmpretrain's
``max_layer_id`` is ``num_layers + 2``: the head id is ``max_layer_id - 1``.
"""
from dataclasses import dataclass
from typing import Callable, FrozenSet, Iterable, Optional, Tuple

from torch import nn

LayerDepthFn = Callable[[str], Tuple[int, int]]


def _backbone(model: nn.Module, prefix: str) -> Optional[nn.Module]:
    return getattr(model, prefix.rstrip('.'), None) if prefix else None


def no_weight_decay_names(model: nn.Module, prefix: str = 'backbone.') -> FrozenSet[str]:
    """Full names listed by ``model.no_weight_decay()`` and ``<backbone>.no_weight_decay()``."""
    names = set()
    for owner, owner_prefix in ((model, ''), (_backbone(model, prefix), prefix)):
        listed = getattr(owner, 'no_weight_decay', None)
        if callable(listed):
            result = listed()
            if isinstance(result, str) or not all(isinstance(n, str) for n in result):
                raise TypeError(f'{type(owner).__name__}.no_weight_decay() must return names '
                                f'(an iterable of str), got {result!r}')
            names.update(owner_prefix + name for name in result)
    return frozenset(names)


def find_layer_depth_fn(model: nn.Module, prefix: str = 'backbone.') -> Optional[LayerDepthFn]:
    """The model's ``get_layer_depth``, preferring its backbone's; None when neither has one."""
    backbone = _backbone(model, prefix)
    if backbone is not None and callable(getattr(backbone, 'get_layer_depth', None)):
        return lambda name: backbone.get_layer_depth(name, prefix)
    if callable(getattr(model, 'get_layer_depth', None)):
        return model.get_layer_depth
    return None


@dataclass(frozen=True)
class ModelLayerDepth:
    """Layer ids read from a ``get_layer_depth`` function."""

    get_layer_depth: LayerDepthFn
    family: str = 'model (get_layer_depth)'

    def recognizes(self, names: Iterable[str]) -> bool:
        return True

    def infer_num_layers(self, names: Iterable[str]) -> Optional[int]:
        for name in names:
            _, max_layer_id = self.get_layer_depth(name)
            return max_layer_id - 2
        return None

    def layer_id(self, name: str, num_layers: int) -> int:
        layer_id, _ = self.get_layer_depth(name)
        return layer_id
