"""The one mechanism that applies a :class:`~._schema.LayerDecayRecipe` to one parameter name.

A :class:`RecipeRule` is a recipe bound (by ``_match``) to a backbone prefix (``backbone.``,
``img_backbone.``, or ``''`` for a bare backbone), to ``depths`` for hierarchical backbones and to
the values of the recipe's own ``paramwise_cfg`` keys. For one canonical name it answers the
layer id, whether the recipe's weight-decay rule exempts it, and which recipe multiplier applies.
It never logs, reads config or touches tensors.
"""
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Sequence, Tuple

from ..config._keys import normalize_prefix
from ._compiled import CompiledRecipe, compile_patterns
from ._layout import LayerIdError
from ._schema import EMBED_LAYER_ID, LayerDecayRecipe, flat_or_bias, head_layer_id


@dataclass(frozen=True)
class RecipeRule:
    """A recipe bound to a prefix, ``depths`` and its ``paramwise_cfg`` values.

    ``options`` holds the recipe's own keys (``offset_lr_scale``, ``head_decay_rate``, ...; absent
    or None: the recipe's default). ``head_embeddings_at_layer_0=False`` gives the recipe's head
    embeddings (Mask2Former's queries) the head id instead of 0. ``layers_in_names``: the
    ``num_layers`` the model's names show (``_layout.layers_shown``), None when unknown.
    """

    recipe: LayerDecayRecipe
    prefix: str = 'backbone.'
    depths: Tuple[int, ...] = ()
    options: Mapping[str, Any] = field(default_factory=dict)
    head_embeddings_at_layer_0: bool = True
    layers_in_names: Optional[int] = None
    #: The recipe's regexes, compiled once per recipe.
    _c: CompiledRecipe = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, '_c', compile_patterns(self.recipe))

    @property
    def family(self) -> str:
        """The backbone family the rule reads (the report's ``layer ids: ...``)."""
        return self.recipe.family

    def relative(self, name: str) -> Optional[str]:
        """The backbone-relative name after the recipe's aliases; None outside the backbone."""
        prefix = self.prefix
        if not name.startswith(prefix):
            return None
        return self._aliased(name[len(prefix):])

    def _aliased(self, relative: str) -> str:
        c = self._c
        if c.any_alias is not None and c.any_alias.search(relative):
            for regex, new in c.aliases:
                relative = regex.sub(new, relative)
        return relative

    def in_backbone(self, name: str) -> bool:
        """Whether ``name`` lies under the backbone prefix."""
        return name.startswith(self.prefix)

    def check_layer_ids(self, names: Sequence[str], num_layers: int, owner: str) -> None:
        """Nothing to check for a recipe (the model's own ids are checked by
        ``_model.ModelLayerDepth``)."""

    def is_head_embedding(self, name: str) -> bool:
        """A parameter outside the backbone that the recipe trains as an embedding (id 0)."""
        c = self._c
        if self.in_backbone(name):
            return False
        if c.model_embeddings is not None and c.model_embeddings.search(name):
            return True
        return (self.head_embeddings_at_layer_0 and c.head_embeddings is not None
                and c.head_embeddings.match(name) is not None)

    def layer_id(self, name: str, num_layers: int) -> int:
        """The layer id of ``name`` (a full canonical name); LayerIdError for a name the recipe
        claims (a strict prefix) but cannot place."""
        c = self._c
        if c.model_embeddings is not None and c.model_embeddings.search(name):
            return EMBED_LAYER_ID
        prefix = self.prefix
        if not name.startswith(prefix):
            if self.is_head_embedding(name):
                return EMBED_LAYER_ID
            return head_layer_id(num_layers)
        relative = self._aliased(name[len(prefix):])
        if c.embeddings is not None and c.embeddings.match(relative):
            return EMBED_LAYER_ID
        for regex, formula, _ in c.blocks:
            match = regex.match(relative)
            if match:
                return formula(match, num_layers, self.depths, name)
        if c.strict is not None and c.strict.match(relative):
            raise LayerIdError(
                f'recipe {self.recipe.name!r} ({self.recipe.source}) cannot place parameter '
                f'{name!r}: it lies under {relative.split(".")[0]!r} but matches none of the '
                f'layouts {self.recipe.layout}')
        return head_layer_id(num_layers)

    def no_decay(self, name: str, ndim: int) -> bool:
        """The recipe's weight-decay rule: True when the parameter gets weight decay 0."""
        rule, c = self.recipe.weight_decay, self._c
        if rule.flat_and_bias and flat_or_bias(name, ndim):
            return True
        if c.no_decay_substrings and any(part in name for part in c.no_decay_substrings):
            return True
        if c.no_decay_patterns is not None:
            relative = self.relative(name)
            return relative is not None and c.no_decay_patterns.match(relative) is not None
        return False

    def multiplier(self, name: str, layer_id: int, num_layers: int) -> Tuple[float, str]:
        """``(factor, group tag)`` of the first of the recipe's multipliers that applies, or
        ``(1.0, '')``."""
        for m, regex in self._c.multipliers:
            if ((m.enabled_by is None or self.options.get(m.enabled_by))
                    and (not m.at_head_only or layer_id == head_layer_id(num_layers))
                    and (m.scope == 'any' or (m.scope == 'backbone') == self.in_backbone(name))
                    and regex.search(name)):
                value = self.options.get(m.factor_key) if m.factor_key is not None else None
                return (m.factor if value is None else value), m.tag
        return 1.0, ''


def compile_recipe(recipe: LayerDecayRecipe, prefix: str = 'backbone.',
                   depths: Sequence[int] = (), options: Optional[Mapping[str, Any]] = None,
                   head_embeddings_at_layer_0: bool = True,
                   layers_in_names: Optional[int] = None) -> RecipeRule:
    """A :class:`RecipeRule` for ``recipe`` under ``prefix`` (a trailing dot is added)."""
    return RecipeRule(recipe, normalize_prefix(prefix), tuple(depths), dict(options or {}),
                      head_embeddings_at_layer_0, layers_in_names)
