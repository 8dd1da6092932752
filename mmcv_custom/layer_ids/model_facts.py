"""Facts read from the model itself: layer ids through mmpretrain's ``get_layer_depth`` protocol,
and the names its ``no_weight_decay()`` lists (timm / MAE / EVA convention).

A backbone that implements ``get_layer_depth(param_name, prefix) -> (layer_id, max_layer_id)`` (all
of mmpretrain's ViT-style, Swin and ConvNeXt backbones do) knows its own depth best. mmpretrain's
``max_layer_id`` is ``num_layers + 2``: the head id is ``max_layer_id - 1``.
"""
from dataclasses import dataclass
from typing import Callable, FrozenSet, Iterable, Optional, Sequence, Tuple

from mmengine.model import is_model_wrapper
from torch import nn

from .base import head_layer_id
from .compiled import normalize_prefix
from .prefixes import KNOWN_PREFIXES

LayerDepthFn = Callable[[str], Tuple[int, int]]

def backbone_module(model: nn.Module, prefix: str) -> Optional[nn.Module]:
    """The submodule ``prefix`` names (``'backbone.'``, ``'img_backbone.'``, ``'a.b.'``), inside
    the model wrapper that holds it (MMEngine's ``MMSeparateDistributedDataParallel`` wraps each
    submodule); the model itself for ``''``; None when there is no such submodule."""
    if not prefix:
        return model
    try:
        module = model.get_submodule(prefix.rstrip('.'))
    except AttributeError:
        return None
    # MMSeparateDistributedDataParallel wraps each submodule: the backbone is inside its wrapper
    while is_model_wrapper(module):
        module = module.module
    return module


def no_weight_decay_names(model: nn.Module, prefix: str = 'backbone.') -> FrozenSet[str]:
    """Full names listed by ``model.no_weight_decay()`` and ``<backbone>.no_weight_decay()``."""
    names = set()
    backbone = backbone_module(model, prefix) if prefix else None
    for owner, owner_prefix in ((model, ''), (backbone, prefix)):
        listed = getattr(owner, 'no_weight_decay', None)
        if callable(listed):
            result = listed()
            if isinstance(result, str) or not all(isinstance(n, str) for n in result):
                raise TypeError(f'{type(owner).__name__}.no_weight_decay() must return names '
                                f'(an iterable of str), got {result!r}')
            names.update(owner_prefix + name for name in result)
    return frozenset(names)


def model_backbone_prefix(model: nn.Module, given: Optional[str] = None) -> str:
    """The prefix of the backbone that answers ``get_layer_depth``: ``given`` if set, else
    ``backbone.`` / ``img_backbone.`` when the model has one with the method, else ``''``."""
    if given is not None:
        return normalize_prefix(given)
    for prefix in KNOWN_PREFIXES:
        if hasattr(model, prefix[:-1]) and callable(
                getattr(backbone_module(model, prefix), 'get_layer_depth', None)):
            return prefix
    return ''


def find_layer_depth_fn(model: nn.Module, prefix: str = 'backbone.') -> Optional[LayerDepthFn]:
    """The ``get_layer_depth`` of the module ``prefix`` names (the model itself for ``''``),
    called with ``prefix``; else the model's own; None when neither has one."""
    backbone = backbone_module(model, prefix)
    if backbone is not None and callable(getattr(backbone, 'get_layer_depth', None)):
        return lambda name: backbone.get_layer_depth(name, prefix)
    if callable(getattr(model, 'get_layer_depth', None)):
        return model.get_layer_depth
    return None


@dataclass(frozen=True)
class ModelLayerDepth:
    """Layer ids read from a ``get_layer_depth`` function for the backbone under ``prefix``."""

    get_layer_depth: LayerDepthFn
    prefix: str = 'backbone.'
    family: str = 'model (get_layer_depth)'

    def recognizes(self, names: Iterable[str]) -> bool:
        return True

    def depth(self, name: str) -> Tuple[int, int]:
        """``get_layer_depth(name)`` checked: two ints, ``0 <= layer_id < max_layer_id`` and
        ``max_layer_id >= 2``; TypeError / ValueError naming the parameter otherwise."""
        answer = self.get_layer_depth(name)
        if not (isinstance(answer, tuple) and len(answer) == 2
                and all(isinstance(v, int) and not isinstance(v, bool) for v in answer)):
            raise TypeError(f'get_layer_depth({name!r}) must return (layer_id, max_layer_id), two '
                            f'ints, got {answer!r}')
        layer_id, max_layer_id = answer
        if max_layer_id < 2 or not 0 <= layer_id < max_layer_id:
            raise ValueError(f'get_layer_depth({name!r}) returned {answer!r}: layer ids go from '
                             f'0 to max_layer_id - 1 and max_layer_id is at least 2')
        return layer_id, max_layer_id

    def infer_num_layers(self, names: Iterable[str]) -> Optional[int]:
        """``max_layer_id - 2``, which every parameter's answer must agree on."""
        depths = {name: self.depth(name)[1] for name in names}
        values = set(depths.values())
        if len(values) > 1:
            first = next(iter(depths.items()))
            other = next(item for item in depths.items() if item[1] != first[1])
            raise ValueError(f'get_layer_depth gives max_layer_id {first[1]} for {first[0]!r} '
                             f'but {other[1]} for {other[0]!r}: a model has one depth')
        return values.pop() - 2 if values else None

    def layer_id(self, name: str, num_layers: int) -> int:
        return self.depth(name)[0]

    def no_decay(self, name: str, ndim: int) -> bool:
        return ndim == 1 or name.endswith('.bias')

    def multiplier(self, name: str, layer_id: int, num_layers: int) -> Tuple[float, str]:
        return 1.0, ''

    def layer_scale(self, rate: float, layer_id: int, num_layers: int) -> float:
        return rate ** (head_layer_id(num_layers) - layer_id)

    def check_layer_ids(self, names: Sequence[str], num_layers: int, owner: str) -> None:
        """ValueError when the model's ids cannot be right: no parameter name (trainable or
        frozen) starts with the backbone prefix it was asked about, or every backbone parameter
        got the head id (one group at the full lr, which is what a wrapper-renamed or
        mis-prefixed backbone silently gives)."""
        inside = [name for name in names if name.startswith(self.prefix)]
        if not inside:
            raise ValueError(
                f'{owner}: paramwise_cfg.layer_ids_from_model=True asked the backbone for the '
                f'depth of names under {self.prefix!r}, but no parameter name starts with it '
                f'(first names: {list(names[:3])}). Set paramwise_cfg.backbone_prefix to the '
                'module that holds the backbone.')
        head = head_layer_id(num_layers)
        where = f'under {self.prefix!r}' if self.prefix else 'of the model'
        if all(self.layer_id(name, num_layers) == head for name in inside):
            raise ValueError(
                f'{owner}: paramwise_cfg.layer_ids_from_model=True: get_layer_depth gave every one '
                f"of the {len(inside)} parameters {where} the head id {head}, so no layer would "
                'be decayed. The backbone did not recognise the names '
                f'it was given (first names: {inside[:3]}); check paramwise_cfg.backbone_prefix or '
                'leave layer_ids_from_model unset to use the name recipes.')
