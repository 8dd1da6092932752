"""Choose a recipe for a model and bind it to the model's names: the backbone prefix and, for
hierarchical backbones, ``depths``.

A constructor says which recipes to try, in order (:class:`Candidates`, from the keys the config
gives); the first that recognises the names under the backbone prefix is used. A layout no
candidate recognises is an error listing the candidates' layouts, the prefix looked at, the
model's top-level modules and the families the names do look like: never a silent head lr.
"""
import re
from dataclasses import dataclass, replace
from typing import Any, Iterable, List, Mapping, Optional, Sequence, Tuple

from ..config._keys import normalize_prefix
from ._layout import (LayerIdError, NameIndex, check_block_chunks, check_refused, has_embeddings,
                      layers_shown, recognizes, stage_depths)
from ._published import RECIPES
from ._rule import RecipeRule, compile_recipe
from ._schema import LayerDecayRecipe

#: Prefixes tried first, in this order, when the config names none: OpenMMLab's ``backbone.`` and
#: the ``img_backbone.`` of mmdet3d-style detectors (StreamPETR, Far3D, OmniDrive).
KNOWN_PREFIXES = ('backbone.', 'img_backbone.')

#: What a user can do when no recipe recognises the names.
GUIDANCE = ('Set paramwise_cfg.backbone_prefix to the module that holds the backbone, name a '
            'recipe with paramwise_cfg.recipe (known: ' + ', '.join(sorted(RECIPES)) + '), or, '
            'for a backbone with get_layer_depth(param_name, prefix), set '
            'paramwise_cfg.layer_ids_from_model=True.')


@dataclass(frozen=True)
class Candidates:
    """The recipes a constructor tries for a model, in order, chosen from what the config says.

    - ``because``: the setting that chose them, the start of the "cannot recognise" message
      (``"paramwise_cfg.decay_type='layer_wise': "``);
    - ``unrecognised``: that whole message instead, a ``str.format`` template with the fields
      ``owner``, ``model`` (its class name), ``sample`` (its first names) and ``looks_like``;
    - ``alternative``: ``(recipe, note)``: a recipe other keys would choose; the note is reported
      when it recognises the names too (InternImage's names read by InternVL's rule).
    """

    recipes: Tuple[LayerDecayRecipe, ...]
    because: str = ''
    unrecognised: str = ''
    alternative: Optional[Tuple[LayerDecayRecipe, str]] = None


def discovered_prefixes(recipe: LayerDecayRecipe, names: Iterable[str]) -> List[str]:
    """Where the recipe's block layout starts in the names, e.g. ``['img_backbone.']`` for
    ``img_backbone.blocks.0.attn.qkv.weight``; the first prefix found, or none."""
    searches = [re.compile(r'(?:^|(?<=\.))(?:' + block.regex + ')') for block in recipe.blocks]
    for name in names:
        for search in searches:
            match = search.search(name)
            if match:
                return [name[:match.start()]]
    return []


def candidate_prefixes(names: NameIndex, given: Optional[str] = None) -> List[str]:
    """The prefixes a recipe is tried under: ``given`` alone if set; else the known prefixes
    (``backbone.``, ``img_backbone.``) that some name starts with; else none (meaning: where the
    layout is found, then no prefix)."""
    if given is not None:
        return [normalize_prefix(given)]
    lines = '\n' + names.text('')
    return [prefix for prefix in KNOWN_PREFIXES if '\n' + prefix in lines]


def find_prefix(recipe: LayerDecayRecipe, names: NameIndex, given: Optional[str] = None,
                prefixes: Optional[Sequence[str]] = None) -> Optional[str]:
    """The backbone prefix under which ``recipe`` recognises ``names``, or None: ``given`` if set;
    else the known prefix (``backbone.``, ``img_backbone.``) the model has (LayerIdError when the
    layout is under both); a model with neither is searched where the recipe's layout starts and
    then without a prefix (a bare backbone), and there a ViT layout counts only with embeddings
    beside its blocks (a transformer decoder's ``layers.N`` is no backbone). ``prefixes``:
    :func:`candidate_prefixes`, when the caller has it already."""
    if prefixes is None:
        prefixes = candidate_prefixes(names, given)
    if prefixes:
        found = [prefix for prefix in prefixes if recognizes(recipe, prefix, names)]
        if len(found) > 1 and given is None:
            raise LayerIdError(
                f'the model holds a {recipe.family} layout under each of {found}; only one is '
                'decayed as the backbone and the other would train at the head lr. Set '
                'paramwise_cfg.backbone_prefix to the one to decay.')
        return found[0] if found else None
    for prefix in discovered_prefixes(recipe, names) + ['']:
        if recognizes(recipe, prefix, names) and (recipe.family != 'vit'
                                                  or has_embeddings(recipe, prefix, names)):
            return prefix
    return None


def _top_level_modules(names: Sequence[str]) -> List[str]:
    seen: List[str] = []
    for name in names:
        top = name.split('.', 1)[0] + ('.' if '.' in name else '')
        if top not in seen:
            seen.append(top)
    return seen


def unrecognised_layout(owner: str, candidates: Candidates, names: NameIndex,
                        prefix: Optional[str], model: str) -> str:
    """What a user reads when no candidate recognises the names: the candidates' layouts, the
    prefix looked at, the top-level modules and the families the names look like (or the
    constructor's own message, ``candidates.unrecognised``)."""
    tried = candidates.recipes
    sample = ', '.join(repr(name) for name in names[:4])
    looks_like = sorted({recipe.family for recipe in RECIPES.values()
                         if recipe not in tried and recipe.family not in
                         {candidate.family for candidate in tried}
                         and find_prefix(recipe, names, prefix) is not None})
    looks = f' These names look like the {" / ".join(looks_like)} family.' if looks_like else ''
    if candidates.unrecognised:
        return candidates.unrecognised.format(owner=owner, model=model, sample=sample,
                                              looks_like=looks)
    known = candidate_prefixes(names, None)
    if prefix is not None:
        where = f'under the prefix {normalize_prefix(prefix)!r} (paramwise_cfg.backbone_prefix)'
    elif known:
        where = f"under {', '.join(repr(p) for p in known)}"
    else:
        where = (f"(the model has no {' or '.join(repr(p) for p in KNOWN_PREFIXES)}) where a "
                 'block layout starts, or without a prefix')
    return (f'{owner}: {candidates.because}cannot recognise the backbone family from the '
            f'parameter names (first ones: {sample}).{looks} Looked {where} for the layouts of '
            + '; '.join(f'{recipe.name} ({recipe.family}): {recipe.layout}' for recipe in tried)
            + f'. Top-level modules: {_top_level_modules(names)}. ' + GUIDANCE)


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


def as_configured(recipe: LayerDecayRecipe, options: Mapping[str, Any]) -> LayerDecayRecipe:
    """``recipe`` as its switches in ``options`` make it: with its ``layout_aliases_for_ids`` key
    true, the layout aliases apply to the ids too (``cbnet_layer_decay=True``: every
    CB-InternImage copy read as the plain backbone)."""
    if recipe.layout_aliases_for_ids is None or not options.get(recipe.layout_aliases_for_ids):
        return recipe
    return replace(recipe, name_aliases=recipe.name_aliases + recipe.layout_aliases,
                   layout_aliases=())


def bind_depths(rule: RecipeRule, names: NameIndex, given: Optional[Sequence[int]],
                owner: str) -> RecipeRule:
    """``rule`` with ``depths`` (the given ones after checking them against the names: same
    number of stages, same blocks per stage; else the ones the names show) and the
    ``num_layers`` the names show."""
    recipe, prefix, depths = rule.recipe, rule.prefix, ()
    if recipe.depth_rule == 'stage_depths':
        seen = stage_depths(recipe, prefix, names)
        if given is not None and not seen:
            raise ValueError(
                f'{owner}: paramwise_cfg.depths={list(given)} cannot be checked: no parameter '
                f'under {prefix!r} lies in a block ({recipe.layout}), so the ids would rest on '
                'depths alone. Check that the backbone has blocks under that prefix.')
        if given is not None and tuple(given) != seen:
            raise ValueError(
                f'{owner}: paramwise_cfg.depths={list(given)} does not match the model: under '
                f'{prefix!r} its names show {len(seen)} stages with {list(seen)} blocks '
                f'(sum {sum(seen)}; depths sums to {sum(given)}). Set depths={list(seen)}, the '
                "backbone's own depths.")
        depths = seen
    return compile_recipe(recipe, prefix, depths, rule.options, rule.head_embeddings_at_layer_0,
                          layers_shown(recipe, prefix, depths, names))


def select_rule(candidates: Candidates, names: NameIndex, *, owner: str, model: str,
                prefix: Optional[str] = None, options: Optional[Mapping[str, Any]] = None,
                head_embeddings_at_layer_0: bool = True,
                head_embeddings_given: bool = False) -> RecipeRule:
    """The first candidate recipe that recognises ``names`` (under ``prefix`` if given, else under
    ``backbone.``, ``img_backbone.``, where its layout is found, or no prefix), bound to the
    model: its prefix, ``options`` (the recipe keys' values) and ``depths`` (``options['depths']``
    checked against the names, else read from them).

    ValueError when none does (:func:`unrecognised_layout`), naming the parameter for a layout
    the recipe refuses, for ``depths`` that do not match, and for ``head_embeddings_at_layer_0``
    given (``head_embeddings_given``) to a recipe without head embeddings.
    """
    options = dict(options or {})
    prefixes = candidate_prefixes(names, prefix)
    try:
        for recipe in candidates.recipes:
            found = find_prefix(recipe, names, prefix, prefixes)
            if found is None:
                continue
            rule = compile_recipe(as_configured(recipe, options), found, (), options,
                                  head_embeddings_at_layer_0)
            check_refused(recipe, found, names)
            check_block_chunks(recipe, found, names)
            _check_outside_multipliers(rule)
            if head_embeddings_given and not recipe.head_embeddings:
                raise LayerIdError(
                    'paramwise_cfg.head_embeddings_at_layer_0 is set, but recipe '
                    f'{recipe.name!r} places no decode-head embeddings at layer 0 (its source, '
                    f'{recipe.source}, gives them the head id); remove the key')
            return bind_depths(rule, names, options.get('depths'), owner)
    except LayerIdError as error:
        raise ValueError(f'{owner}: {error}') from None
    raise ValueError(unrecognised_layout(owner, candidates, names, prefix, model))
