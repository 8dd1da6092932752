"""Recognise a backbone family from its parameter names (never from its class name)."""
from typing import Dict, Sequence

from .base import LayerIdRule
from .convnext import ConvNeXtLayerIds, ConvNeXtStageIds
from .vit import ViTLayerIds

#: For each ``decay_type``, the rules to try, in order. ConvNeXt is tried first: its names
#: (``downsample_layers.S``, ``stages.S.B``) never look like ViT blocks.
RULES_BY_DECAY_TYPE: Dict[str, Sequence[LayerIdRule]] = {
    'layer_wise': (ConvNeXtLayerIds(), ViTLayerIds()),
    'layer_wise_vit': (ConvNeXtLayerIds(), ViTLayerIds()),
    'stage_wise': (ConvNeXtStageIds(),),
}

FAMILY_LAYOUTS = {
    'convnext': 'backbone.downsample_layers.S.* and backbone.stages.S.B.* (mmpretrain ConvNeXt)',
    'vit': 'backbone.layers.N.* or backbone.blocks.N.*, with patch_embed / cls_token / pos_embed '
           '(ViT, BEiT, MAE, EVA, InternViT)',
}


def _describe_families(families) -> str:
    return '; '.join(f'{family}: {FAMILY_LAYOUTS[family]}' for family in families)


def rule_for_names(names: Sequence[str], decay_type: str) -> LayerIdRule:
    """The first rule of ``decay_type`` that recognises ``names``; ValueError listing the families
    that ``decay_type`` supports when none does."""
    candidates = RULES_BY_DECAY_TYPE[decay_type]
    for rule in candidates:
        if rule.recognizes(names):
            return rule
    supported = [rule.family for rule in candidates]
    seen = [family for family, rule in (('vit', ViTLayerIds()), ('convnext', ConvNeXtLayerIds()))
            if family not in supported and rule.recognizes(names)]
    looks_like = f' These names look like the {seen[0]} family.' if seen else ''
    sample = ', '.join(repr(name) for name in list(names)[:4])
    raise ValueError(
        f"paramwise_cfg.decay_type={decay_type!r}: cannot recognise the backbone family from the "
        f"parameter names (first ones: {sample}).{looks_like} Supported families for "
        f"{decay_type!r}: {_describe_families(supported)}. A backbone that implements "
        "get_layer_depth(param_name, prefix) can supply its own ids with "
        "paramwise_cfg.layer_ids_from_model=True.")
