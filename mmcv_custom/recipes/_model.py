"""Facts read from the model itself: layer ids through mmpretrain's ``get_layer_depth`` protocol,
and the names its ``no_weight_decay()`` lists (timm / MAE / EVA convention).

A backbone that implements ``get_layer_depth(param_name, prefix) -> (layer_id, max_layer_id)`` (all
of mmpretrain's ViT-style, Swin and ConvNeXt backbones do) knows its own depth best. mmpretrain's
``max_layer_id`` is ``num_layers + 2``: the head id is ``max_layer_id - 1``.
"""
import re
from dataclasses import dataclass, field, replace
from typing import FrozenSet, Optional, Sequence, Tuple

from mmengine.model import is_model_wrapper
from torch import nn

from ..config._keys import normalize_prefix
from ._match import KNOWN_PREFIXES
from ._rule import RecipeRule
from ._schema import LayerDecayRecipe, head_layer_id

#: What the report names as the "recipe" of ids read from the model (no patterns: the model
#: answers; weight decay: the common rule).
MODEL_LAYER_DEPTH = LayerDecayRecipe(
    name='get_layer_depth', family='model (get_layer_depth)',
    source="the model's get_layer_depth(param_name, prefix) (open-mmlab/mmpretrain's protocol)",
    layout='any (the model gives the ids)', embeddings=(), blocks=())


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


_TOKEN = re.compile(r'(?:^|_)(?:tokens?|pos_embed|pos_embedding)$')
#: What a token name ends with (a cheap test before ``is_token_name``'s regex).
TOKEN_ENDINGS = ('token', 'tokens', 'pos_embed', 'pos_embedding')


def is_token_name(name: str) -> bool:
    """Class / mask / distillation / register tokens and position embeddings, by their last name
    component (``cls_token``, ``register_tokens``, ``pos_embed``, ``absolute_pos_embed`` ...)."""
    return bool(_TOKEN.search(name.rsplit('.', 1)[-1]))


def tokens_and_listed_names(model: nn.Module, prefix: str, names: Sequence[str]) -> FrozenSet[str]:
    """What ``exclude_tokens_from_decay`` exempts from weight decay: the tokens and position
    embeddings among ``names`` and what the model's and its backbone's ``no_weight_decay()``
    list."""
    return no_weight_decay_names(model, prefix) | {name for name in names if is_token_name(name)}


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


def layer_depth_module(model: nn.Module, prefix: str) -> Tuple[Optional[nn.Module], bool]:
    """The module answering ``get_layer_depth`` for the backbone under ``prefix`` (the model
    itself for ``''``), and whether it takes the prefix (a backbone's does; a model's own is
    called with the name alone); ``(None, False)`` when neither has one."""
    backbone = backbone_module(model, prefix)
    if backbone is not None and callable(getattr(backbone, 'get_layer_depth', None)):
        return backbone, True
    if callable(getattr(model, 'get_layer_depth', None)):
        return model, False
    return None, False


@dataclass(frozen=True)
class ModelLayerDepth(RecipeRule):
    """Layer ids read from the model's ``get_layer_depth`` for the backbone under ``prefix``; the
    rest of a :class:`RecipeRule` (the common weight-decay rule, no multipliers, no
    embeddings) from :data:`MODEL_LAYER_DEPTH`."""

    recipe: LayerDecayRecipe = MODEL_LAYER_DEPTH
    #: The module that answers, and whether it is called with the prefix.
    answers: Optional[nn.Module] = field(default=None, repr=False, compare=False)
    takes_prefix: bool = True

    def depth(self, name: str) -> Tuple[int, int]:
        """``get_layer_depth(name)`` checked: two ints, ``0 <= layer_id < max_layer_id`` and
        ``max_layer_id >= 2``; TypeError / ValueError naming the parameter otherwise."""
        answer = (self.answers.get_layer_depth(name, self.prefix) if self.takes_prefix
                  else self.answers.get_layer_depth(name))
        if not (isinstance(answer, tuple) and len(answer) == 2
                and all(isinstance(v, int) and not isinstance(v, bool) for v in answer)):
            raise TypeError(f'get_layer_depth({name!r}) must return (layer_id, max_layer_id), two '
                            f'ints, got {answer!r}')
        layer_id, max_layer_id = answer
        if max_layer_id < 2 or not 0 <= layer_id < max_layer_id:
            raise ValueError(f'get_layer_depth({name!r}) returned {answer!r}: layer ids go from '
                             f'0 to max_layer_id - 1 and max_layer_id is at least 2')
        return layer_id, max_layer_id

    def layer_id(self, name: str, num_layers: int) -> int:
        """The model's answer for ``name``."""
        return self.depth(name)[0]

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


def model_rule(model: nn.Module, given_prefix: Optional[str], names: Sequence[str],
               owner: str) -> ModelLayerDepth:
    """The layer ids of ``model``'s (or its backbone's) ``get_layer_depth``, for the backbone
    under ``given_prefix`` (else ``backbone.`` / ``img_backbone.`` with the method, else the
    model); ``layers_in_names``: ``max_layer_id - 2``, which the answers for every one of
    ``names`` must agree on. ValueError when the prefix names no submodule, nothing answers, or
    two answers give two depths."""
    prefix = model_backbone_prefix(model, given_prefix)
    if backbone_module(model, prefix) is None:
        answering = [name for name, _ in model.named_children()
                     if layer_depth_module(model, name + '.')[1]]
        advice = ('; ' + ' or '.join(f'set paramwise_cfg.backbone_prefix={name!r}'
                                     for name in answering)
                  + ' (the modules with get_layer_depth)' if answering else '')
        raise ValueError(
            f'{owner}: paramwise_cfg.backbone_prefix={prefix[:-1]!r} names no submodule of '
            f'{type(model).__name__} (its top-level modules: '
            f'{[name for name, _ in model.named_children()]}){advice}')
    answers, takes_prefix = layer_depth_module(model, prefix)
    if answers is None:
        backbone = getattr(model, 'backbone', None)
        raise ValueError(
            f'{owner}: paramwise_cfg.layer_ids_from_model=True needs the model or its backbone to '
            'implement get_layer_depth(param_name, prefix) (the mmpretrain protocol); neither '
            f'{type(model).__name__} nor its backbone {type(backbone).__name__} does')
    rule = ModelLayerDepth(prefix=prefix, answers=answers, takes_prefix=takes_prefix)
    depths = {name: rule.depth(name)[1] for name in names}
    values = set(depths.values())
    if len(values) > 1:
        first = next(iter(depths.items()))
        other = next(item for item in depths.items() if item[1] != first[1])
        raise ValueError(f'get_layer_depth gives max_layer_id {first[1]} for {first[0]!r} '
                         f'but {other[1]} for {other[0]!r}: a model has one depth')
    return replace(rule, layers_in_names=values.pop() - 2 if values else None)
