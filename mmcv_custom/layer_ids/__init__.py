"""Layer-id policies: which layer each parameter belongs to (pure functions of its name)."""
from .base import EMBED_LAYER_ID, LayerIdRule, head_layer_id
from .convnext import ConvNeXtLayerIds, ConvNeXtStageIds
from .families import rule_for_names
from .model_facts import ModelLayerDepth, find_layer_depth_fn, no_weight_decay_names
from .vit import ViTLayerIds

__all__ = [
    'EMBED_LAYER_ID', 'LayerIdRule', 'head_layer_id', 'ViTLayerIds', 'ConvNeXtLayerIds',
    'ConvNeXtStageIds', 'ModelLayerDepth', 'find_layer_depth_fn', 'no_weight_decay_names', 'rule_for_names',
]
