"""The rule objects of earlier releases, now recipes bound to a prefix (kept for users' code)."""
from .compiled import RecipeRule, compile_recipe
from .recipes import CONVNEXT_LAYER_WISE, CONVNEXT_STAGE_WISE, INTERNVL


def ViTLayerIds(prefix: str = 'backbone.') -> RecipeRule:  # noqa: N802 (the released name)
    """InternVL's ViT reading (recipe ``internvl``) under ``prefix``."""
    return compile_recipe(INTERNVL, prefix)


def ConvNeXtLayerIds(prefix: str = 'backbone.') -> RecipeRule:  # noqa: N802
    """mmdet / mmseg's ConvNeXt ``layer_wise`` reading (recipe ``convnext_layer_wise``)."""
    return compile_recipe(CONVNEXT_LAYER_WISE, prefix)


def ConvNeXtStageIds(prefix: str = 'backbone.') -> RecipeRule:  # noqa: N802
    """mmdet / mmseg's ConvNeXt ``stage_wise`` reading (recipe ``convnext_stage_wise``)."""
    return compile_recipe(CONVNEXT_STAGE_WISE, prefix)
