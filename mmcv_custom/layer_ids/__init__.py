"""Layer-id policies: published recipes as data (``recipes``), the one mechanism that applies
them (``compiled``), and how one is chosen and bound to a model (``select``)."""
from .aliases import ConvNeXtLayerIds, ConvNeXtStageIds, ViTLayerIds
from .base import EMBED_LAYER_ID, LayerIdRule, head_layer_id
from .compiled import RecipeRule, compile_recipe
from .prefixes import find_prefix
from .model_facts import ModelLayerDepth, find_layer_depth_fn, no_weight_decay_names
from .recipe import (BlockPattern, LayerDecayRecipe, LayerIdError, LrMultiplier,
                     WeightDecayRule)
from .recipes import RECIPE_KEYS, RECIPES
from .select import select_rule

__all__ = [
    'EMBED_LAYER_ID', 'LayerIdRule', 'head_layer_id', 'RecipeRule', 'compile_recipe',
    'find_prefix', 'ModelLayerDepth', 'find_layer_depth_fn', 'no_weight_decay_names',
    'BlockPattern', 'LayerDecayRecipe', 'LayerIdError', 'LrMultiplier', 'WeightDecayRule',
    'RECIPE_KEYS', 'RECIPES', 'select_rule', 'ViTLayerIds', 'ConvNeXtLayerIds',
    'ConvNeXtStageIds',
]
