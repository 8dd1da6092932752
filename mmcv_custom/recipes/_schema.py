"""What a published layer-decay recipe is, as data (policy only; no tensors, no logging): for a
parameter's canonical name, its **layer id** (regexes, each with the *id formula* of
:data:`ID_FORMULAS` that turns a match into an id), whether it is **weight-decayed**
(:class:`WeightDecayRule`) and which **extra lr multiplier** applies (:class:`LrMultiplier`).
The lr formula is the same for every recipe (``mmcv_custom.layer_decay._plan``).

The shape of timm's ``group_matcher`` (regexes handed to one mechanism, ``_rule``), extended by
what the published mmcv-style recipes need; ``_published`` holds them, with their sources.
"""
from dataclasses import dataclass
from typing import Callable, Dict, FrozenSet, Mapping, Optional, Tuple

from ..config._keys import Key
from ._layout import LayerIdError, check_within_names

#: The layer id of the embeddings (patch / position embeddings, class and mask tokens). Block
#: ``i`` has id ``i + 1``, everything above the blocks the head id ``num_layers + 1``.
EMBED_LAYER_ID = 0


def head_layer_id(num_layers: int) -> int:
    """The layer id of everything above the last block: ``num_layers + 1``."""
    return num_layers + 1


def flat_or_bias(name: str, ndim: int) -> bool:
    """The common no-decay rule: 1-D parameters (``ndim``: the original shape's) and biases."""
    return ndim == 1 or name.endswith('.bias')


Match = Mapping[str, str]


def _stage(match: Match, depths: Tuple[int, ...], name: str) -> int:
    stage = int(match['stage'])
    if depths and stage >= len(depths):
        raise LayerIdError(f'parameter {name!r} lies in stage {stage}, but depths='
                           f'{list(depths)} defines stages 0-{len(depths) - 1}')
    return stage


def _convnext_stage(match: Match, name: str) -> int:
    stage = int(match['stage'])
    if stage > 3:
        raise LayerIdError(f'ConvNeXt layer ids are defined for stages 0-3, but parameter '
                           f'{name!r} lies in stage {stage}')
    return stage


def _plain(match: Match, num_layers: int, depths: Tuple[int, ...], name: str) -> int:
    return int(match['block']) + 1


def _cumulative(match: Match, num_layers: int, depths: Tuple[int, ...], name: str) -> int:
    return int(match['block']) + 1 + sum(depths[:_stage(match, depths, name)])


def _last_block_of_stage(match: Match, num_layers: int, depths: Tuple[int, ...],
                         name: str) -> int:
    return sum(depths[:_stage(match, depths, name) + 1])


def _internimage_level_end(match: Match, num_layers: int, depths: Tuple[int, ...],
                           name: str) -> int:
    # InternImage spells out levels 0-2 and gives every later level's downsample / norm the
    # value of level 2 (the last level of its 4-level models shares the previous one's id).
    return 1 + sum(depths[:min(_stage(match, depths, name), 2) + 1])


def _convnext_downsample(match: Match, num_layers: int, depths: Tuple[int, ...],
                         name: str) -> int:
    return (0, 2, 3, num_layers)[_convnext_stage(match, name)]


def _convnext_block(match: Match, num_layers: int, depths: Tuple[int, ...], name: str) -> int:
    stage = _convnext_stage(match, name)
    return 3 + int(match['block']) // 3 if stage == 2 else (1, 2, 0, num_layers)[stage]


def _stage_plus_one(match: Match, num_layers: int, depths: Tuple[int, ...], name: str) -> int:
    return _convnext_stage(match, name) + 1


#: The id formulas a recipe's block patterns name: ``formula(match, num_layers, depths, name)``,
#: where ``match[group]`` gives the pattern's named groups (``stage``, ``block``).
ID_FORMULAS: Dict[str, Callable[[Match, int, Tuple[int, ...], str], int]] = {
    'plain': _plain,                                    # block i -> i + 1
    'cumulative': _cumulative,                          # B + 1 + sum(depths[:S])
    'last_block_of_stage': _last_block_of_stage,        # sum(depths[:S + 1])
    'internimage_level_end': _internimage_level_end,    # 1 + sum(depths[:min(S, 2) + 1])
    'convnext_downsample': _convnext_downsample,        # (0, 2, 3, L)[S]
    'convnext_block': _convnext_block,                  # (1, 2, 3 + B // 3, L)[S]
    'stage_plus_one': _stage_plus_one,                  # S + 1
}

#: How a recipe reads the model's depth from its names.
DEPTH_RULES = ('max_block', 'stage_depths', 'convnext')


@dataclass(frozen=True)
class WeightDecayRule:
    """Which parameters get weight decay 0 (all others get the optimizer's ``weight_decay``).

    - ``flat_and_bias``: :func:`flat_or_bias` (1-D parameters, by their original shape, and names
      ending in ``.bias``);
    - ``substrings``: names (full, canonical) that contain one of these;
    - ``backbone_patterns``: regexes matched at the start of the backbone-relative name.
    """

    flat_and_bias: bool = True
    substrings: Tuple[str, ...] = ()
    backbone_patterns: Tuple[str, ...] = ()


@dataclass(frozen=True)
class LrMultiplier:
    """An extra lr multiplier; the first of a recipe's multipliers that applies wins.

    - ``patterns``: regexes searched in the full canonical name (``''`` matches every name);
    - ``scope``: ``'any'``, ``'backbone'`` (names under the backbone prefix) or ``'outside'``;
    - ``factor_key``: the ``paramwise_cfg`` key holding the factor, ``factor`` its default (or
      the constant factor when ``factor_key`` is None);
    - ``enabled_by``: a bool ``paramwise_cfg`` key that must be true for the multiplier to apply;
    - ``at_head_only``: applies only to parameters with the head id;
    - ``tag``: appended to the group name (``layer_3_decay_offset_lr_scale``), so parameters with a
      multiplier never share a group with those without, even at a factor of 1.
    """

    patterns: Tuple[str, ...]
    tag: str
    scope: str = 'any'
    factor_key: Optional[str] = None
    factor: float = 1.0
    enabled_by: Optional[str] = None
    at_head_only: bool = False


@dataclass(frozen=True)
class BlockPattern:
    """A regex (matched at the start of the backbone-relative name, named groups ``stage`` /
    ``block``) and the name of the :data:`ID_FORMULAS` entry that turns a match into a layer id."""

    regex: str
    formula: str


@dataclass(frozen=True)
class LayerDecayRecipe:
    """One published layer-decay recipe. Regexes are matched at the start of the name relative to
    the backbone prefix (after ``name_aliases``) unless said otherwise.

    - ``name`` (``paramwise_cfg.recipe``), ``family`` (``vit``, ``convnext``, ``swin``,
      ``internimage``), ``source`` (the repository and path it follows), ``layout`` (the names it
      recognises, for messages);
    - ``embeddings`` -> id 0; ``blocks``: :class:`BlockPattern` s, tried in order, never
      overlapping; ``depth_rule`` (:data:`DEPTH_RULES`): how ``num_layers`` and ``depths`` are
      read from the names;
    - ``name_aliases``: ``(regex, replacement)`` applied first (CBNet's ``cb_modules.N.``,
      InternVL's ``levels.`` -> ``layers.``); ``layout_aliases``: applied only to read the layout,
      not the ids unless the bool key ``layout_aliases_for_ids`` is true (CB-InternImage);
      ``refused``: ``(regex, why)``: layouts the recipe must not read, an error naming the first
      such parameter; ``block_chunks``: ``(chunked, unchunked)`` regexes of chunked blocks
      (DINOv2's ``blocks.C.I``): other layouts of them are an error; ``strict_prefixes``: prefixes
      under which an unmatched name is an error instead of the head id;
    - ``model_embeddings``: searched in full names anywhere -> id 0; ``head_embeddings``: matched
      at the start of full names outside the backbone -> id 0 unless
      ``head_embeddings_at_layer_0=False`` (Mask2Former's learned queries);
    - ``weight_decay`` (:class:`WeightDecayRule`), ``multipliers`` (:class:`LrMultiplier` s, the
      first that applies wins), ``below_base_factor``: ``(bool key, factor)``: with the key true,
      every layer scale below 1 is multiplied by ``factor`` (InternImage's ``backbone_small_lr``);
      ``groups_by_layer_id``: the source keys its groups by layer id only, so a group keeps the lr
      of its first member (``layer_decay._groups``), unless this bool key is true (OmniDrive);
    - ``keys``: the recipe-only ``paramwise_cfg`` keys it reads (``config._keys``); the
      multipliers and ``below_base_factor`` name keys among them.
    """

    name: str
    family: str
    source: str
    layout: str
    embeddings: Tuple[str, ...]
    blocks: Tuple[BlockPattern, ...]
    depth_rule: str = 'max_block'
    name_aliases: Tuple[Tuple[str, str], ...] = ()
    layout_aliases: Tuple[Tuple[str, str], ...] = ()
    layout_aliases_for_ids: Optional[str] = None
    refused: Tuple[Tuple[str, str], ...] = ()
    block_chunks: Tuple[str, ...] = ()
    model_embeddings: Tuple[str, ...] = ()
    head_embeddings: Tuple[str, ...] = ()
    strict_prefixes: Tuple[str, ...] = ()
    weight_decay: WeightDecayRule = WeightDecayRule()
    multipliers: Tuple[LrMultiplier, ...] = ()
    below_base_factor: Optional[Tuple[str, float]] = None
    groups_by_layer_id: Optional[str] = None
    keys: Tuple[Key, ...] = ()

    def __post_init__(self) -> None:
        unknown = [block.formula for block in self.blocks if block.formula not in ID_FORMULAS]
        if unknown:
            raise ValueError(f'recipe {self.name!r}: unknown id formula(s) {unknown}; known: '
                             f'{sorted(ID_FORMULAS)}')
        if self.depth_rule not in DEPTH_RULES:
            raise ValueError(f'recipe {self.name!r}: depth_rule must be one of {DEPTH_RULES}, '
                             f'got {self.depth_rule!r}')
        named = [m.factor_key for m in self.multipliers] + [m.enabled_by for m in self.multipliers]
        named += [self.below_base_factor[0]] if self.below_base_factor else []
        named += [self.layout_aliases_for_ids, self.groups_by_layer_id]
        undeclared = sorted({key for key in named if key is not None} - self.key_names)
        if undeclared:
            raise ValueError(f'recipe {self.name!r}: its multipliers and switches read '
                             f'{undeclared}, which are not among its keys {sorted(self.key_names)}')
        aliases = self.name_aliases + self.layout_aliases + self.refused
        check_within_names(self.name, (  # the patterns _layout searches over the joined names
            *self.embeddings, *(block.regex for block in self.blocks), *self.block_chunks,
            *(regex for regex, _ in aliases)))

    @property
    def key_names(self) -> FrozenSet[str]:
        """The names of the recipe's own ``paramwise_cfg`` keys."""
        return frozenset(key.name for key in self.keys)
