"""What a model's parameter names show about a recipe's layout, each question answered by one
regex search over all the names at once: does the layout occur (under a prefix), with
embeddings; does a name lie in a layout the recipe refuses; how many blocks per stage and how
many layers the names show.

The names are joined by newlines (:class:`NameIndex`, once per prefix and aliases) and searched
at C speed. That is exact only because every recipe pattern stays inside one name
(``_schema.crossing_construct`` refuses the others where a recipe is defined); ``[^.]`` is kept
from crossing a newline here, and ``re.MULTILINE`` makes ``^`` / ``$`` the ends of a name.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import (TYPE_CHECKING, Dict, Iterable, Iterator, Match, Optional, Pattern, Sequence,
                    Tuple)

if TYPE_CHECKING:  # _schema imports this module: the invariant below is checked there
    from ._schema import LayerDecayRecipe


class LayerIdError(ValueError):
    """A name matched a recipe's pattern but lies outside what the recipe defines (a stage past
    ``depths``, a fifth ConvNeXt stage, a layout the recipe refuses, ...)."""


#: Regex constructs that can match a newline, found outside escapes: a negated class (``[^.]`` and
#: classes that exclude ``\n`` are safe), ``\s`` / ``\W`` / ``\D`` (also inside a class) and
#: the DOTALL flag.
_CONSTRUCT = re.compile(r'\\[sWD]|\\.|\[\^((?:\\.|[^\]\\])*)\]|\(\?[a-zA-Z]*s[a-zA-Z]*[:)]')


def crossing_construct(regex: str) -> Optional[str]:
    """The first construct of ``regex`` that can match a newline, or None.

    This module searches a recipe's patterns over the newline-joined parameter names at once,
    which is exact only while a match stays inside one name: ``LayerDecayRecipe`` refuses a
    pattern for which this is not None.
    """
    for match in _CONSTRUCT.finditer(regex):
        text = match.group(0)
        if text.startswith('\\') and text[1] not in 'sWD':
            continue  # another escape
        body = match.group(1)
        if body is not None and (body == '.' or '\\n' in body):
            continue  # [^.] (rewritten to [^.\n] by the mechanism) or a class excluding \n
        return text
    return None


def check_within_names(recipe: str, regexes: Iterable[str]) -> None:
    """ValueError for the first of recipe ``recipe``'s ``regexes`` that can match across names
    (:func:`crossing_construct`): the joined-names search here would misread it."""
    for regex in regexes:
        construct = crossing_construct(regex)
        if construct is not None:
            raise ValueError(
                f'recipe {recipe!r}: pattern {regex!r} uses {construct}, which can match across '
                'parameter names (the names are searched joined by newlines); write [^.] for '
                "'not a dot', or list the characters allowed")





def _within_line(regex: str) -> str:
    """``regex`` for one line of a newline-joined text: ``[^.]`` kept from crossing into the next
    line."""
    return regex.replace('[^.]', '[^.\n]')


def _line_regex(regex: str) -> str:
    """:func:`_within_line`, with named groups dropped (so that they may repeat in an
    alternation)."""
    return _within_line(re.sub(r'\(\?P<\w+>', '(?:', regex))


def _any_line(regexes: Sequence[str]) -> Optional[Pattern]:
    """One regex that finds, in ``'\\n' + text``, a line matching any of ``regexes`` at its start.
    The leading newline is a literal the regex engine scans for quickly, where ``^`` with
    ``re.MULTILINE`` tries every position."""
    if not regexes:
        return None
    return re.compile('\n(?:' + '|'.join(f'(?:{_line_regex(r)})' for r in regexes) + ')',
                      re.MULTILINE)


@dataclass(frozen=True)
class _LineRegexes:
    refused: Tuple[Tuple[Pattern, str], ...]
    blocks: Tuple[Tuple[str, Pattern], ...]
    any_block: Optional[Pattern]
    any_embedding: Optional[Pattern]


@lru_cache(maxsize=None)
def _line_regexes(recipe: LayerDecayRecipe) -> _LineRegexes:
    return _LineRegexes(
        refused=tuple((re.compile('\n(?:' + _line_regex(regex) + ')', re.MULTILINE), why)
                      for regex, why in recipe.refused),
        blocks=tuple((block.formula, re.compile('^(?:' + _within_line(block.regex) + ')',
                                                re.MULTILINE)) for block in recipe.blocks),
        any_block=_any_line([block.regex for block in recipe.blocks]),
        any_embedding=_any_line(recipe.embeddings))


class NameIndex:
    """A model's parameter names and, made once per prefix (and aliases), the newline-joined
    names relative to it."""

    __slots__ = ('names', '_texts')

    def __init__(self, names: Sequence[str]) -> None:
        self.names = tuple(names)
        self._texts: Dict[Tuple[str, tuple], str] = {}

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, index):  # noqa: ANN001, ANN204 (an int or a slice, as a tuple takes)
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


def _text(recipe: LayerDecayRecipe, prefix: str, names: NameIndex) -> str:
    """The names under ``prefix`` as the recipe reads its layout (``name_aliases`` and
    ``layout_aliases`` applied)."""
    return names.text(prefix, recipe.name_aliases + recipe.layout_aliases)


def recognizes(recipe: LayerDecayRecipe, prefix: str, names: NameIndex) -> bool:
    """Whether some name under ``prefix`` matches one of the recipe's block patterns."""
    any_block = _line_regexes(recipe).any_block
    return (any_block is not None
            and any_block.search('\n' + _text(recipe, prefix, names)) is not None)


def has_embeddings(recipe: LayerDecayRecipe, prefix: str, names: NameIndex) -> bool:
    """Whether some name under ``prefix`` is one of the recipe's embeddings."""
    any_embedding = _line_regexes(recipe).any_embedding
    return (any_embedding is not None
            and any_embedding.search('\n' + _text(recipe, prefix, names)) is not None)


def check_refused(recipe: LayerDecayRecipe, prefix: str, names: NameIndex) -> None:
    """LayerIdError naming the first parameter in a layout the recipe must not read."""
    refused = _line_regexes(recipe).refused
    if not refused:
        return
    text = '\n' + _text(recipe, prefix, names)
    for regex, why in refused:
        match = regex.search(text)
        if match:
            line = text.count('\n', 0, match.start())  # the index among the names read
            name = [name for name in names if name.startswith(prefix)][line]
            raise LayerIdError(f'recipe {recipe.name!r} cannot read {name!r}: {why}')


def check_block_chunks(recipe: LayerDecayRecipe, prefix: str, names: NameIndex) -> None:
    """LayerIdError naming two parameters when the names under ``prefix`` hold chunked blocks
    (``recipe.block_chunks``: DINOv2's ``blocks.C.I``) but not in DINOv2's layout: an unchunked
    block beside the chunks, a block index in two chunks, or chunks out of their blocks' order."""
    if not recipe.block_chunks:
        return
    chunked, unchunked = (re.compile('^(?:' + _within_line(regex) + ')', re.MULTILINE)
                          for regex in recipe.block_chunks)
    text = _text(recipe, prefix, names)
    matches = list(chunked.finditer(text))
    if not matches:
        return
    inside = [name for name in names if name.startswith(prefix)]

    def name_at(match: Match) -> str:
        return inside[text.count('\n', 0, match.start())]

    seen: Dict[int, Match] = {}  # block index -> the first name in it
    for match in matches:
        seen.setdefault(int(match['block']), match)
    plain = unchunked.search(text)
    if plain is not None:
        _not_chunks(recipe, name_at(plain), name_at(seen[min(seen)]),
                    f"blocks.{plain['block']} holds parameters of its own beside numbered ones")
    for match in matches:
        first = seen[int(match['block'])]
        if first['chunk'] != match['chunk']:
            _not_chunks(recipe, name_at(first), name_at(match),
                        f"block index {match['block']} lies in chunk {first['chunk']} and in "
                        f"chunk {match['chunk']}")
    ordered = [seen[block] for block in sorted(seen)]
    for first, later in zip(ordered, ordered[1:]):
        if int(later['chunk']) < int(first['chunk']):
            _not_chunks(recipe, name_at(first), name_at(later),
                        f"block {first['block']} lies in chunk {first['chunk']} but the later "
                        f"block {later['block']} in the earlier chunk {later['chunk']}")


def _not_chunks(recipe: LayerDecayRecipe, name_a: str, name_b: str, why: str) -> None:
    raise LayerIdError(
        f"recipe {recipe.name!r} reads blocks.C.I as DINOv2's chunked blocks (block_chunks > 0: "
        'I is the index of the block in the whole list, and gives the id I + 1), but '
        f'{name_a!r} and {name_b!r} do not have that layout: {why}. The names do not say which '
        'block a parameter belongs to. Give the backbone get_layer_depth(param_name, prefix) and '
        'set paramwise_cfg.layer_ids_from_model=True, or name the blocks blocks.N (or DINOv2\'s '
        'blocks.C.I).')


def _block_matches(recipe: LayerDecayRecipe, prefix: str, names: NameIndex,
                   formulas: Tuple[str, ...]) -> Iterator[Match]:
    """A match for every name under ``prefix`` in a block of one of ``formulas`` (a recipe's
    block patterns do not overlap, so each is searched over all names at once)."""
    text = _text(recipe, prefix, names)
    for formula, line_regex in _line_regexes(recipe).blocks:
        if formula in formulas:
            yield from line_regex.finditer(text)


def stage_depths(recipe: LayerDecayRecipe, prefix: str, names: NameIndex) -> Tuple[int, ...]:
    """The number of blocks of every stage (``cumulative`` patterns); LayerIdError when a stage
    between the first and the last has no block."""
    last: Dict[int, int] = {}
    for match in _block_matches(recipe, prefix, names, ('cumulative',)):
        stage, block = int(match['stage']), int(match['block'])
        last[stage] = max(last.get(stage, -1), block)
    if not last:
        return ()
    missing = [stage for stage in range(max(last) + 1) if stage not in last]
    if missing:
        raise LayerIdError(f'recipe {recipe.name!r}: no parameter lies in a block of stage(s) '
                           f'{missing} under prefix {prefix!r}, so the depth of every stage '
                           'cannot be read from the names; set paramwise_cfg.depths')
    return tuple(last[stage] + 1 for stage in range(len(last)))


def layers_shown(recipe: LayerDecayRecipe, prefix: str, depths: Sequence[int],
                 names: NameIndex) -> Optional[int]:
    """The ``num_layers`` the names imply (``recipe.depth_rule``): the number of blocks
    (``max_block``), ``sum(depths)`` (``stage_depths``), or ConvNeXt's published choice (12 when
    stage 2 has more than 9 blocks, else 6); None when the names show no block."""
    if recipe.depth_rule == 'stage_depths':
        return sum(depths) if depths else None
    if recipe.depth_rule == 'convnext':
        stage2 = [int(match['block']) for match in _block_matches(
            recipe, prefix, names, ('convnext_block', 'stage_plus_one')) if match['stage'] == '2']
        return None if not stage2 else (12 if max(stage2) + 1 > 9 else 6)
    last = max((int(match['block']) for match in _block_matches(recipe, prefix, names,
                                                                ('plain',))), default=None)
    return None if last is None else last + 1
