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

#: What a user can do when no published recipe recognises the names.
NO_RECIPE = ('No published recipe (' + ', '.join(sorted(RECIPES)) + ') recognises these names. '
             'For a backbone with get_layer_depth(param_name, prefix) (the mmpretrain protocol), '
             'set paramwise_cfg.layer_ids_from_model=True; otherwise add a recipe '
             '(mmcv_custom.recipes._published).')


@dataclass(frozen=True)
class Candidates:
    """The recipes a constructor tries for a model, in order, chosen from what the config says.

    - ``because``: the setting that chose them, the start of the "cannot recognise" message
      (``"paramwise_cfg.decay_type='layer_wise': "``);
    - ``unrecognised``: that whole message instead, a ``str.format`` template with the fields
      ``owner``, ``model`` (its class name), ``sample`` (its first names), ``looks_like`` and
      ``advice`` (:func:`layout_advice`);
    - ``alternative``: ``(recipe, note)``: a recipe other keys would choose; the note is reported
      when it recognises the names too (InternImage's names read by InternVL's rule);
    - ``choosers``: ``(recipe, setting)``: how this constructor's config chooses a recipe other
      than by ``paramwise_cfg.recipe`` (``"paramwise_cfg.decay_type='stage_wise'"``), the advice
      when that recipe reads the names;
    - ``instead``: the advice when no candidate's layout lies under another prefix, instead of a
      recipe that reads the names (InternImage's keys on another backbone: remove them).
    """

    recipes: Tuple[LayerDecayRecipe, ...]
    because: str = ''
    unrecognised: str = ''
    alternative: Optional[Tuple[LayerDecayRecipe, str]] = None
    choosers: Tuple[Tuple[str, str], ...] = ()
    instead: str = ''


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
                + ' or '.join(_set_prefix(prefix) for prefix in found) + ', the one to decay.')
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


def _set_prefix(prefix: str) -> str:
    return f'paramwise_cfg.backbone_prefix={prefix[:-1] if prefix else prefix!r}'


def layout_prefixes(recipe: LayerDecayRecipe, names: NameIndex) -> List[str]:
    """Every prefix under which ``recipe`` recognises ``names``: the known prefixes, the model's
    top-level modules, where the recipe's layout starts and no prefix (a ViT layout only with its
    embeddings beside it, so that a decoder's ``layers.N`` is no backbone)."""
    tried = list(KNOWN_PREFIXES) + [top for top in _top_level_modules(names) if top.endswith('.')]
    return [prefix for prefix in dict.fromkeys(tried + discovered_prefixes(recipe, names) + [''])
            if recognizes(recipe, prefix, names)
            and (recipe.family != 'vit' or has_embeddings(recipe, prefix, names))]


def _fits(recipe: LayerDecayRecipe, names: NameIndex, prefix: Optional[str]) -> bool:
    """Whether ``recipe`` recognises ``names`` (under ``prefix`` if given, else where it looks)
    and would read them (it refuses none of them)."""
    try:
        found = find_prefix(recipe, names, prefix)
        if found is not None:
            check_refused(recipe, found, names)
            check_block_chunks(recipe, found, names)
    except LayerIdError as error:  # its layout under two prefixes fits; a refusal does not
        return 'under each of' in str(error)
    return found is not None


def layout_advice(candidates: Candidates, names: NameIndex, prefix: Optional[str],
                  fitting: Sequence[str]) -> str:
    """What to set when no candidate recognises the names: the prefix where a candidate's layout
    lies, else ``candidates.instead`` or a recipe of ``fitting`` (those that read the names; first
    one the constructor chooses by another setting, ``candidates.choosers``, then one of a family
    no candidate has), else ``get_layer_depth``."""
    looked_at = candidate_prefixes(names, prefix)
    elsewhere = list(dict.fromkeys(
        found for recipe in candidates.recipes for found in layout_prefixes(recipe, names)
        if found not in looked_at and (prefix is not None or found)))
    if elsewhere:
        return ('The layout lies elsewhere in the model: set '
                + ' or '.join(_set_prefix(found) for found in elsewhere) + '.')
    if candidates.instead:
        return candidates.instead
    if not fitting:
        return NO_RECIPE
    choosers = dict(candidates.choosers)
    tried = {recipe.family for recipe in candidates.recipes}
    ordered = sorted(fitting, key=lambda name: (
        list(choosers).index(name) if name in choosers else len(choosers),
        RECIPES[name].family in tried))
    setting = choosers.get(ordered[0], f'paramwise_cfg.recipe={ordered[0]!r}')
    return (f"Recipe(s) {', '.join(repr(name) for name in ordered)} recognise these names: set "
            f'{setting}.')


def unrecognised_layout(owner: str, candidates: Candidates, names: NameIndex,
                        prefix: Optional[str], model: str) -> str:
    """What a user reads when no candidate recognises the names: the candidates' layouts, the
    prefix looked at, the top-level modules, the families the names look like and what to set
    (or the constructor's own message, ``candidates.unrecognised``)."""
    tried = candidates.recipes
    sample = ', '.join(repr(name) for name in names[:4])
    fitting = [name for name, recipe in RECIPES.items()
               if recipe not in tried and _fits(recipe, names, prefix)]
    looks_like = sorted({RECIPES[name].family for name in fitting}
                        - {candidate.family for candidate in tried})
    looks = f' These names look like the {" / ".join(looks_like)} family.' if looks_like else ''
    advice = layout_advice(candidates, names, prefix, fitting)
    if candidates.unrecognised:
        return candidates.unrecognised.format(owner=owner, model=model, sample=sample,
                                              looks_like=looks, advice=advice)
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
            + f'. Top-level modules: {_top_level_modules(names)}. ' + advice)


def _check_outside_multipliers(rule: RecipeRule, names: NameIndex) -> None:
    """A multiplier of everything outside the backbone means nothing when the backbone was found
    as the whole model: an error naming the modules that do hold the layout, rather than a key
    that silently does nothing."""
    if rule.prefix:
        return
    keys = sorted(multiplier.factor_key for multiplier in rule.recipe.multipliers
                  if multiplier.scope == 'outside' and multiplier.factor_key is not None
                  and rule.options.get(multiplier.factor_key) is not None)
    found = [prefix for prefix in layout_prefixes(rule.recipe, names) if prefix] if keys else []
    if keys:
        raise LayerIdError(
            f"paramwise_cfg {keys} multiply the lr of what lies outside the backbone, but recipe "
            f"{rule.recipe.name!r} found its layout at the top of the model (backbone prefix ''), "
            'so nothing lies outside it. ' + (
                'Set ' + ' or '.join(_set_prefix(prefix) for prefix in found) + '.' if found else
                'No module of the model holds the layout alone: give the backbone its own '
                'module, or remove the multipliers.'))


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
                f'(sum {sum(seen)}; depths sums to {sum(given)}). Set '
                f"paramwise_cfg.depths={list(seen)}, the backbone's own depths.")
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
            _check_outside_multipliers(rule, names)
            if head_embeddings_given and not recipe.head_embeddings:
                raise LayerIdError(
                    'paramwise_cfg.head_embeddings_at_layer_0 is set, but recipe '
                    f'{recipe.name!r} places no decode-head embeddings at layer 0 (its source, '
                    f'{recipe.source}, gives them the head id): remove '
                    'paramwise_cfg.head_embeddings_at_layer_0')
            return bind_depths(rule, names, options.get('depths'), owner)
    except LayerIdError as error:
        raise ValueError(f'{owner}: {error}') from None
    raise ValueError(unrecognised_layout(owner, candidates, names, prefix, model))
