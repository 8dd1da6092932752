"""Bind a recipe to a model's names: find its backbone prefix and, for hierarchical backbones,
its ``depths``. A layout no candidate recognises is an error listing the candidates' families
and the top-level modules seen; never a silent head lr."""
from typing import Any, Mapping, Optional, Sequence

from .compiled import NameIndex, RecipeRule, compile_recipe, normalize_prefix
from .prefixes import KNOWN_PREFIXES, candidate_prefixes, find_prefix
from .recipe import LayerDecayRecipe, LayerIdError, describe
from .recipes import RECIPES


def _top_level_modules(names: Sequence[str]) -> list:
    seen = []
    for name in names:
        top = name.split('.', 1)[0] + ('.' if '.' in name else '')
        if top not in seen:
            seen.append(top)
    return seen


def _check_outside_multipliers(rule: RecipeRule) -> None:
    """A multiplier of everything outside the backbone means nothing when the backbone was found
    as the whole model: an error rather than a key that silently does nothing."""
    if rule.prefix:
        return
    keys = sorted(multiplier.factor_key for multiplier in rule.recipe.multipliers
                  if multiplier.scope == 'outside' and multiplier.factor_key is not None
                  and rule.options.get(multiplier.factor_key) is not None)
    if keys:
        raise LayerIdError(
            f"paramwise_cfg {keys} multiply the lr of what lies outside the backbone, but recipe "
            f"{rule.recipe.name!r} found its layout at the top of the model (backbone prefix ''), "
            'so nothing lies outside it. Set paramwise_cfg.backbone_prefix to the module that '
            'holds the backbone.')


def bind_depths(rule: RecipeRule, names: Sequence[str], given: Optional[Sequence[int]],
                owner: str) -> RecipeRule:
    """``rule`` with ``depths`` set: the given ones after checking them against the names (same
    number of stages, same blocks per stage), else the ones the names show."""
    if rule.recipe.depth_rule != 'stage_depths':
        return rule
    seen = rule.stage_depths(names)
    if given is not None:
        given = tuple(given)
        if not seen:
            raise ValueError(
                f'{owner}: paramwise_cfg.depths={list(given)} cannot be checked: no parameter '
                f'under {rule.prefix!r} lies in a block ({rule.recipe.layout}), so the ids would '
                'rest on depths alone. Check that the backbone has blocks under that prefix.')
        if given != seen:
            raise ValueError(
                f'{owner}: paramwise_cfg.depths={list(given)} does not match the model: under '
                f'{rule.prefix!r} its names show {len(seen)} stages with {list(seen)} blocks '
                f'(sum {sum(seen)}; depths sums to {sum(given)}). Set depths={list(seen)}, the '
                "backbone's own depths.")
        depths = given
    else:
        depths = seen
    return compile_recipe(rule.recipe, rule.prefix, depths, rule.options,
                          rule.head_embeddings_at_layer_0, rule.index)


class UnrecognisedLayoutError(ValueError):
    """No candidate recipe recognises the model's parameter names."""

    def __init__(self, owner: str, candidates: Sequence[LayerDecayRecipe], names: Sequence[str],
                 prefix: Optional[str], context: str = '') -> None:
        self.candidates, self.names, self.prefix = tuple(candidates), tuple(names), prefix
        self.sample = ', '.join(repr(name) for name in names[:4])
        tried = {recipe.name for recipe in candidates}
        looks_like = sorted({recipe.family for recipe in RECIPES.values()
                             if recipe.name not in tried and recipe.family not in
                             {candidate.family for candidate in candidates}
                             and find_prefix(recipe, names, prefix) is not None})
        self.looks_like = (f' These names look like the {" / ".join(looks_like)} family.'
                           if looks_like else '')
        known = candidate_prefixes(names, None)
        if prefix is not None:
            where = f'under the prefix {normalize_prefix(prefix)!r} (paramwise_cfg.backbone_prefix)'
        elif known:
            where = f"under {', '.join(repr(p) for p in known)}"
        else:
            where = (f"(the model has no {' or '.join(repr(p) for p in KNOWN_PREFIXES)}) where a "
                     'block layout starts, or without a prefix')
        super().__init__(
            f'{owner}: {context}cannot recognise the backbone family from the parameter names '
            f'(first ones: {self.sample}).{self.looks_like} Looked {where} for the layouts of '
            f'{describe(candidates)}. Top-level modules: {_top_level_modules(names)}. '
            + GUIDANCE)


#: What a user can do when no recipe recognises the names.
GUIDANCE = ('Set paramwise_cfg.backbone_prefix to the module that holds the backbone, name a '
            'recipe with paramwise_cfg.recipe (known: ' + ', '.join(sorted(RECIPES)) + '), or, '
            'for a backbone with get_layer_depth(param_name, prefix), set '
            'paramwise_cfg.layer_ids_from_model=True.')


def select_rule(candidates: Sequence[LayerDecayRecipe], names: Sequence[str], *, owner: str,
                context: str = '', prefix: Optional[str] = None,
                depths: Optional[Sequence[int]] = None,
                options: Optional[Mapping[str, Any]] = None,
                head_embeddings_at_layer_0: bool = True) -> RecipeRule:
    """The first candidate recipe that recognises ``names`` (under ``prefix`` if given, else under
    ``backbone.``, ``img_backbone.``, where its layout is found, or no prefix), bound to the model.

    :class:`UnrecognisedLayoutError` (a ValueError) when none does, naming the candidates'
    families and layouts, the prefix looked at, the model's top-level modules and the families
    the names do look like.
    """
    names = NameIndex(names)
    prefixes = candidate_prefixes(names, prefix)
    try:
        for recipe in candidates:
            found = find_prefix(recipe, names, prefix, prefixes)
            if found is None:
                continue
            rule = compile_recipe(recipe, found, (), options, head_embeddings_at_layer_0,
                                  names)
            rule.check_refused(names)
            _check_outside_multipliers(rule)
            return bind_depths(rule, names, depths, owner)
    except LayerIdError as error:
        raise ValueError(f'{owner}: {error}') from None
    raise UnrecognisedLayoutError(owner, candidates, names, prefix, context)
