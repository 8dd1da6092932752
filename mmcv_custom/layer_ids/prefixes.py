"""Where a recipe's layout lives in a model: the backbone prefix (``backbone.``, ``img_backbone.``,
a discovered module path, or ``''`` for a bare backbone)."""
import re
from typing import Iterable, List, Optional, Sequence

from .compiled import NameIndex, RecipeRule, normalize_prefix
from .recipe import LayerDecayRecipe, LayerIdError

#: Prefixes tried first, in this order, when the config names none: OpenMMLab's ``backbone.`` and
#: the ``img_backbone.`` of mmdet3d-style detectors (StreamPETR, Far3D, OmniDrive).
KNOWN_PREFIXES = ('backbone.', 'img_backbone.')


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


def candidate_prefixes(names: Sequence[str], given: Optional[str] = None) -> List[str]:
    """The prefixes a recipe is tried under: ``given`` alone if set; else the known prefixes
    (``backbone.``, ``img_backbone.``) that some name starts with; else, when the model has none
    of them, ``None`` (meaning: where the layout is found, then no prefix)."""
    if given is not None:
        return [normalize_prefix(given)]
    index = names if isinstance(names, NameIndex) else NameIndex(names)
    lines = '\n' + index.text('')
    return [prefix for prefix in KNOWN_PREFIXES if '\n' + prefix in lines]


def find_prefix(recipe: LayerDecayRecipe, names: Sequence[str],
                given: Optional[str] = None,
                prefixes: Optional[Sequence[str]] = None) -> Optional[str]:
    """The backbone prefix under which ``recipe`` recognises ``names``: ``given`` if set (or
    None); else the known prefix (``backbone.``, ``img_backbone.``) the model has; a model with
    neither is searched where the recipe's layout starts and then without a prefix (a bare
    backbone), and there a ViT layout counts only with embeddings (``patch_embed``,
    ``pos_embed``, ...) beside its blocks (a transformer decoder's ``layers.N`` is no backbone).
    ``prefixes`` is :func:`candidate_prefixes`, when the caller has it already."""
    if prefixes is None:
        prefixes = candidate_prefixes(names, given)
    if prefixes:
        found = [prefix for prefix in prefixes if RecipeRule(recipe, prefix).recognizes(names)]
        if len(found) > 1 and given is None:
            raise LayerIdError(
                f'the model holds a {recipe.family} layout under each of {found}; only one is '
                'decayed as the backbone and the other would train at the head lr. Set '
                'paramwise_cfg.backbone_prefix to the one to decay.')
        return found[0] if found else None
    for prefix in discovered_prefixes(recipe, names) + ['']:
        rule = RecipeRule(recipe, prefix)
        if rule.recognizes(names) and (recipe.family != 'vit' or rule.has_embeddings(names)):
            return prefix
    return None
