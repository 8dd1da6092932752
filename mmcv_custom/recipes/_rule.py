"""The one mechanism that applies a :class:`~._schema.LayerDecayRecipe` to parameter names.

:func:`compile_recipe` binds a recipe to a backbone prefix (``backbone.``, ``img_backbone.``, or
``''`` for a bare backbone), to ``depths`` for hierarchical backbones and to the values of the
recipe's own ``paramwise_cfg`` keys, and returns a :class:`RecipeRule`: for one name, its layer
id, whether the recipe's weight-decay rule exempts it, and which recipe multiplier applies. It
never logs, reads config or touches tensors. ``_match`` chooses the recipe and binds it.

Speed: whether a model's names show a layout is answered by one regex search over the names
joined by newlines (:class:`NameIndex`), which is exact because every recipe pattern stays inside
one name (``_schema.crossing_construct`` refuses the others where a recipe is defined).
"""
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import (Any, Dict, Iterable, Iterator, Mapping, Match, Optional, Pattern, Sequence,
                    Tuple, Union)

from ..config._keys import normalize_prefix
from ._schema import (EMBED_LAYER_ID, ID_FORMULAS, IdFacts, LayerDecayRecipe, LayerIdError,
                      WeightDecayRule, flat_or_bias, head_layer_id)


def _any_of(regexes: Sequence[str]) -> Optional[Pattern]:
    if not regexes:
        return None
    return re.compile('|'.join(f'(?:{regex})' for regex in regexes))


def _within_line(regex: str) -> str:
    """``regex`` for one line of a newline-joined text: ``[^.]`` kept from crossing into the next
    line."""
    return regex.replace('[^.]', '[^.\n]')


def _line_regex(regex: str) -> str:
    """:func:`_within_line`, with named groups dropped (so that they may repeat in an
    alternation)."""
    return _within_line(re.sub(r'\(\?P<\w+>', '(?:', regex))


def _any_line(regexes: Sequence[str]) -> Optional[Pattern]:
    """One regex that finds, in ``'\\n' + text`` (a newline-joined text), a line matching any of
    ``regexes`` at its start (named groups dropped, so that they may repeat). The leading newline
    is a literal the regex engine scans for quickly, where ``^`` with ``re.MULTILINE`` tries
    every position. ``re.MULTILINE``: ``$`` ends a name, not the text."""
    if not regexes:
        return None
    return re.compile('\n(?:' + '|'.join(f'(?:{_line_regex(r)})' for r in regexes) + ')',
                      re.MULTILINE)


@dataclass(frozen=True)
class _Compiled:
    aliases: Tuple[Tuple[Pattern, str], ...]
    any_alias: Optional[Pattern]
    refused: Tuple[Tuple[Pattern, str], ...]
    block_lines: Tuple[Tuple[str, Pattern], ...]
    any_block_line: Optional[Pattern]
    any_embedding_line: Optional[Pattern]
    embeddings: Optional[Pattern]
    model_embeddings: Optional[Pattern]
    head_embeddings: Optional[Pattern]
    strict: Optional[Pattern]
    blocks: Tuple[Tuple[Pattern, Any, str], ...]
    no_decay_substrings: Tuple[str, ...]
    no_decay_patterns: Optional[Pattern]
    multipliers: Tuple[Tuple[Any, Pattern], ...]


@lru_cache(maxsize=None)
def _compile(recipe: LayerDecayRecipe) -> _Compiled:
    """The recipe's regexes, compiled once per recipe."""
    return _Compiled(
        aliases=tuple((re.compile(regex), new) for regex, new in recipe.name_aliases),
        any_alias=_any_of([regex for regex, _ in recipe.name_aliases]),
        refused=tuple((re.compile('\n(?:' + _line_regex(regex) + ')', re.MULTILINE), why)
                      for regex, why in recipe.refused),
        block_lines=tuple((block.formula, re.compile('^(?:' + _within_line(block.regex) + ')',
                                                     re.MULTILINE))
                          for block in recipe.blocks),
        any_block_line=_any_line([block.regex for block in recipe.blocks]),
        any_embedding_line=_any_line(recipe.embeddings),
        embeddings=_any_of(recipe.embeddings),
        model_embeddings=_any_of(recipe.model_embeddings),
        head_embeddings=_any_of(recipe.head_embeddings),
        strict=_any_of([re.escape(prefix) for prefix in recipe.strict_prefixes]),
        blocks=tuple((re.compile(block.regex), ID_FORMULAS[block.formula], block.formula)
                     for block in recipe.blocks),
        no_decay_substrings=recipe.weight_decay.substrings,
        no_decay_patterns=_any_of(recipe.weight_decay.backbone_patterns),
        multipliers=tuple((multiplier, re.compile('|'.join(multiplier.patterns)))
                          for multiplier in recipe.multipliers))


class NameIndex:
    """A model's parameter names and, made once per prefix (and aliases), the newline-joined
    names relative to it: what :meth:`RecipeRule.recognizes` searches."""

    __slots__ = ('names', '_texts')

    def __init__(self, names: Sequence[str]) -> None:
        self.names = tuple(names)
        self._texts: Dict[Tuple[str, tuple], str] = {}

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, index):
        return self.names[index]

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def text(self, prefix: str, aliases: Tuple[Tuple[str, str], ...] = ()) -> str:
        """The names under ``prefix`` without it, one per line, after ``(regex, replacement)``
        ``aliases``."""
        text = self._texts.get((prefix, aliases))
        if text is None:
            if aliases:
                text = self.text(prefix)
                for regex, new in aliases:
                    text = re.sub(regex, new, text)
            elif not prefix:
                text = '\n'.join(self.names)
            else:
                text = '\n'.join(re.findall('^' + re.escape(prefix) + '(.*)$', self.text(''),
                                             re.MULTILINE))
            self._texts[(prefix, aliases)] = text
        return text


@dataclass(frozen=True)
class RecipeRule:
    """A recipe bound to a prefix, ``depths`` and its ``paramwise_cfg`` values.

    ``options`` holds the recipe's own keys (``offset_lr_scale``, ``head_decay_rate``, ...; absent
    or None: the recipe's default). ``head_embeddings_at_layer_0=False`` gives the recipe's head
    embeddings (Mask2Former's queries) the head id instead of 0.
    """

    recipe: LayerDecayRecipe
    prefix: str = 'backbone.'
    depths: Tuple[int, ...] = ()
    options: Mapping[str, Any] = field(default_factory=dict)
    head_embeddings_at_layer_0: bool = True
    #: The names this rule was chosen for (their joined texts are reused for the same names).
    index: Optional[NameIndex] = field(default=None, repr=False, compare=False)
    #: The recipe's regexes, compiled once per recipe.
    _c: _Compiled = field(init=False, repr=False, compare=False)

    #: ``IdFacts`` by ``num_layers``, made once per rule.
    _facts_by_num_layers: Dict[int, IdFacts] = field(default_factory=dict, init=False,
                                                     repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, '_c', _compile(self.recipe))

    def _facts(self, num_layers: int) -> IdFacts:
        facts = self._facts_by_num_layers.get(num_layers)
        if facts is None:
            facts = self._facts_by_num_layers[num_layers] = IdFacts(num_layers, self.depths)
        return facts

    @property
    def family(self) -> str:
        """The backbone family the rule reads (the report's ``layer ids: ...``)."""
        return self.recipe.family

    # -- names ---------------------------------------------------------------------------------
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

    def _block_matches(self, names: Union['NameIndex', Sequence[str]],
                       formulas: Tuple[str, ...]) -> Iterator[Match]:
        """A match for every name under the prefix that is in a block of one of ``formulas``
        (a recipe's block patterns do not overlap, so each pattern is searched over all names
        at once)."""
        text = self.relative_text(names)
        for formula, line_regex in self._c.block_lines:
            if formula in formulas:
                yield from line_regex.finditer(text)

    def relative_text(self, names: Union['NameIndex', Sequence[str]]) -> str:
        """The backbone-relative names (after the aliases), one per line: one regex search over
        it answers whether any name has a layout, at C speed."""
        if isinstance(names, NameIndex):
            index = names
        elif self.index is not None and self.index.names == tuple(names):
            index = self.index
        else:
            index = NameIndex(names)
        return index.text(self.prefix, self.recipe.name_aliases)

    def recognizes(self, names: Iterable[str]) -> bool:
        """Whether some name under the prefix matches one of the recipe's block patterns."""
        any_block = self._c.any_block_line
        return (any_block is not None
                and any_block.search('\n' + self.relative_text(names)) is not None)

    def has_embeddings(self, names: Iterable[str]) -> bool:
        """Whether some name under the prefix is one of the recipe's embeddings."""
        any_embedding = self._c.any_embedding_line
        return (any_embedding is not None
                and any_embedding.search('\n' + self.relative_text(names)) is not None)

    def check_refused(self, names: Union['NameIndex', Sequence[str]]) -> None:
        """LayerIdError naming the first parameter in a layout the recipe must not read."""
        if not self._c.refused:
            return
        text = '\n' + self.relative_text(names)
        for regex, why in self._c.refused:
            match = regex.search(text)
            if match:
                line = text.count('\n', 0, match.start())  # the index among the names read
                name = [name for name in names if name.startswith(self.prefix)][line]
                raise LayerIdError(f'recipe {self.recipe.name!r} cannot read {name!r}: {why}')

    # -- depth ---------------------------------------------------------------------------------
    def stage_depths(self, names: Iterable[str]) -> Tuple[int, ...]:
        """The number of blocks of every stage, read from the names (``cumulative`` patterns);
        LayerIdError when a stage between the first and the last has no block."""
        last: Dict[int, int] = {}
        for match in self._block_matches(names, ('cumulative',)):
            stage, block = int(match['stage']), int(match['block'])
            last[stage] = max(last.get(stage, -1), block)
        if not last:
            return ()
        missing = [stage for stage in range(max(last) + 1) if stage not in last]
        if missing:
            raise LayerIdError(f'recipe {self.recipe.name!r}: no parameter lies in a block of '
                               f'stage(s) {missing} under prefix {self.prefix!r}, so the depth of '
                               'every stage cannot be read from the names; set '
                               'paramwise_cfg.depths')
        return tuple(last[stage] + 1 for stage in range(len(last)))

    def infer_num_layers(self, names: Sequence[str]) -> Optional[int]:
        """The ``num_layers`` the model's names imply: the number of blocks (``max_block``), the
        sum of ``depths`` (``stage_depths``), or ConvNeXt's published choice (12 when stage 2 has
        more than 9 blocks, else 6)."""
        rule = self.recipe.depth_rule
        if rule == 'stage_depths':
            depths = self.depths or self.stage_depths(names)
            return sum(depths) if depths else None
        if rule == 'convnext':
            stage2 = [int(match['block']) for match in self._block_matches(
                names, ('convnext_block', 'stage_plus_one')) if match['stage'] == '2']
            return None if not stage2 else (12 if max(stage2) + 1 > 9 else 6)
        text = self.relative_text(names)
        last = max((int(block) for formula, line_regex in self._c.block_lines
                    if formula == 'plain' for block in line_regex.findall(text)), default=None)
        return None if last is None else last + 1

    # -- layer ids -----------------------------------------------------------------------------
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
            return num_layers + 1  # the head id
        relative = self._aliased(name[len(prefix):])
        if c.embeddings is not None and c.embeddings.match(relative):
            return EMBED_LAYER_ID
        for regex, formula, _ in c.blocks:
            match = regex.match(relative)
            if match:
                return formula(match, self._facts(num_layers), name)
        if c.strict is not None and c.strict.match(relative):
            raise LayerIdError(
                f'recipe {self.recipe.name!r} ({self.recipe.source}) cannot place parameter '
                f'{name!r}: it lies under {relative.split(".")[0]!r} but matches none of the '
                f'layouts {self.recipe.layout}')
        return head_layer_id(num_layers)

    # -- weight decay and multipliers ----------------------------------------------------------
    @property
    def plain_no_decay(self) -> bool:
        """Whether the weight-decay rule is the common one alone (1-D parameters and biases)."""
        return self.recipe.weight_decay == WeightDecayRule()

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
        for multiplier, regex in self._c.multipliers:
            if multiplier.enabled_by is not None and not self.options.get(multiplier.enabled_by):
                continue
            if multiplier.at_head_only and layer_id != head_layer_id(num_layers):
                continue
            if multiplier.scope != 'any' and (multiplier.scope == 'backbone') != \
                    self.in_backbone(name):
                continue
            if not regex.search(name):
                continue
            factor = multiplier.factor
            if multiplier.factor_key is not None and \
                    self.options.get(multiplier.factor_key) is not None:
                factor = self.options[multiplier.factor_key]
            return factor, multiplier.tag
        return 1.0, ''

def compile_recipe(recipe: LayerDecayRecipe, prefix: str = 'backbone.',
                   depths: Sequence[int] = (), options: Optional[Mapping[str, Any]] = None,
                   head_embeddings_at_layer_0: bool = True,
                   index: Optional[NameIndex] = None) -> RecipeRule:
    """A :class:`RecipeRule` for ``recipe`` under ``prefix``; ``index``: the model's names, whose
    joined texts the rule reuses when it is asked about the same names again."""
    return RecipeRule(recipe, normalize_prefix(prefix), tuple(depths), dict(options or {}),
                      head_embeddings_at_layer_0, index)
