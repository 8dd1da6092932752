"""A recipe's regexes compiled once per recipe, for matching one canonical name at a time
(``_rule.RecipeRule``). The forms that search all names at once are ``_layout``'s."""
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Optional, Pattern, Sequence, Tuple

from ._schema import ID_FORMULAS, LayerDecayRecipe


def any_of(regexes: Sequence[str]) -> Optional[Pattern]:
    """One regex matching any of ``regexes`` (None for none)."""
    if not regexes:
        return None
    return re.compile('|'.join(f'(?:{regex})' for regex in regexes))


@dataclass(frozen=True)
class CompiledRecipe:
    """A recipe's patterns compiled, each kind as one regex (``blocks``: ``(regex, id formula,
    formula name)``; ``multipliers``: ``(LrMultiplier, regex)``)."""

    aliases: Tuple[Tuple[Pattern, str], ...]
    any_alias: Optional[Pattern]
    embeddings: Optional[Pattern]
    model_embeddings: Optional[Pattern]
    head_embeddings: Optional[Pattern]
    strict: Optional[Pattern]
    blocks: Tuple[Tuple[Pattern, Any, str], ...]
    no_decay_substrings: Tuple[str, ...]
    no_decay_patterns: Optional[Pattern]
    multipliers: Tuple[Tuple[Any, Pattern], ...]


@lru_cache(maxsize=None)
def compile_patterns(recipe: LayerDecayRecipe) -> CompiledRecipe:
    """The recipe's regexes, compiled once per recipe."""
    return CompiledRecipe(
        aliases=tuple((re.compile(regex), new) for regex, new in recipe.name_aliases),
        any_alias=any_of([regex for regex, _ in recipe.name_aliases]),
        embeddings=any_of(recipe.embeddings),
        model_embeddings=any_of(recipe.model_embeddings),
        head_embeddings=any_of(recipe.head_embeddings),
        strict=any_of([re.escape(prefix) for prefix in recipe.strict_prefixes]),
        blocks=tuple((re.compile(block.regex), ID_FORMULAS[block.formula], block.formula)
                     for block in recipe.blocks),
        no_decay_substrings=recipe.weight_decay.substrings,
        no_decay_patterns=any_of(recipe.weight_decay.backbone_patterns),
        multipliers=tuple((multiplier, re.compile('|'.join(multiplier.patterns)))
                          for multiplier in recipe.multipliers))
