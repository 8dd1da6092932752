"""``LearningRateDecayOptimizerConstructor``: mmdet / mmseg's layer-decay constructor, superset."""
from typing import Dict, Optional, Tuple

from torch import nn

from ..config._keys import DECAY_RATE, Key, OneOf
from ..config._schema import ParamwiseSchema, Settings
from ..recipes._match import Candidates
from ..recipes._published import RECIPES
from ._base import LayerDecayConstructorBase

#: For each ``decay_type``, the recipes tried in order. ConvNeXt first: its names
#: (``downsample_layers.S``, ``stages.S.B``) never look like Swin's or a ViT's.
RECIPES_BY_DECAY_TYPE: Dict[str, Tuple[str, ...]] = {
    'layer_wise': ('convnext_layer_wise', 'swin', 'vit'),
    'layer_wise_vit': ('vit',),
    'stage_wise': ('convnext_stage_wise',),
    'vit_wise': ('vit_wise',),
}


class LearningRateDecayOptimizerConstructor(LayerDecayConstructorBase):
    """Layer-wise or stage-wise learning-rate decay for ConvNeXt, Swin and ViT backbones.

    A drop-in replacement for the classes of the same name in mmdet 3.x and mmseg 1.x: with the
    same ``paramwise_cfg`` every parameter gets the same lr, weight decay and group name, in the
    same group order, and it also works where they raise ``NotImplementedError`` (mmseg's and
    mmpretrain's ``VisionTransformer``, InternViT-style ``blocks.N`` layouts).

    ``lr = base_lr * lr_scale`` by the formula of ``mmcv_custom.layer_decay._plan`` with
    ``rate = decay_rate`` and ``L = num_layers``. ``decay_type`` chooses the recipes tried, in
    order (:data:`RECIPES_BY_DECAY_TYPE`); the first that recognises the names gives the ids:

    - ConvNeXt (``backbone.downsample_layers.S``, ``backbone.stages.S.B``), ``layer_wise``: stem 0,
      stage 0 -> 1, stage 1 -> 2, stage 2 block ``B`` -> ``3 + B // 3``, stage 3 -> ``L``, the rest
      ``L + 1``. ``stage_wise``: downsampling layers 0, stage ``S`` -> ``S + 1``, the rest ``L + 1``
      (so with ``L = 12`` stage 3 is 9 layers below the heads, as in mmdet and mmseg).
      ``num_layers`` defaults to 12 if stage 2 has more than 9 blocks, else 6, as the published
      configs use.
    - Swin (``stages.S.blocks.B``, mmseg / mmdet / mmpretrain), ``layer_wise``: the ids of
      mmpretrain's ``SwinTransformer.get_layer_depth``: ``patch_embed`` 0, block ``B`` of stage
      ``S`` -> ``B + 1 + sum(depths[:S])``, a stage's ``downsample`` -> the id of its last block,
      the rest ``L + 1`` (``L = sum(depths)``, ``depths`` read from the names).
    - ViT (``layers.i`` or ``blocks.i``), ``layer_wise`` or ``layer_wise_vit`` (mmseg's name):
      tokens, position and patch embeddings 0, block ``i`` -> ``i + 1`` (DINOv2's chunked
      ``blocks.C.i`` too, as DINOv2 reads them), the rest ``L + 1``; Mask2Former's decode-head
      embeddings 0 (``head_embeddings_at_layer_0``).
    - ``vit_wise`` (NVlabs/OmniDrive ``projects/mmdet3d_plugin/models/utils/
      layer_decay_optimizer_constructor.py``, StreamPETR, Far3D: an EVA ViT as ``img_backbone``):
      in the backbone as ``layer_wise`` (``blocks.i.residual.*`` excluded from the blocks,
      ``vit_position_encoder`` at 0); everything outside it gets ``base_lr * head_decay_rate``
      (default 1.0), ``lm_head.*`` ``base_lr * lm_head_decay_rate`` (default 0.1). As published,
      though, the groups are keyed by layer id only and keep the lr of the parameter that opens
      them: in OmniDrive the detection head's (mmdet3d registers ``pts_bbox_head`` first), so
      ``lm_head`` and the backbone's head-id parameters train at ``head_decay_rate`` (4x in the
      published configs). That is reproduced, and the report names every tensor whose lr differs
      from what its keys give; ``split_head_group=True`` gives each parameter its own multiplier
      (the intended 0.1x for ``lm_head``). Group names carry the first member's multiplier tag
      (``layer_{L+1}_decay_head``, where OmniDrive has ``layer_{L+1}_decay``).

    The backbone is ``backbone.``, else ``img_backbone.``, else where the layout is found, else the
    model itself; ``backbone_prefix`` names it. Weight decay is 0 for 1-D parameters and biases;
    frozen parameters are in no group; one report is logged, on rank 0. InternImage's keys
    belong to :class:`CustomLayerDecayOptimizerConstructor` and are an error here (``depths`` is
    accepted for Swin, checked against the names). With ``mmcv_custom`` imported, the bare name
    resolves to this class under every default scope, ``mmdet`` and ``mmseg`` too (their own
    classes of the same name are replaced in their registries, logged once).

    Example (mmdet's Mask R-CNN ConvNeXt-T)::

        custom_imports = dict(imports=['mmpretrain.models', 'mmcv_custom'],
                              allow_failed_imports=False)
        optim_wrapper = dict(
            type='OptimWrapper',
            optimizer=dict(type='AdamW', lr=0.0002, betas=(0.9, 0.999), weight_decay=0.05),
            constructor='LearningRateDecayOptimizerConstructor',
            paramwise_cfg=dict(decay_rate=0.95, decay_type='layer_wise', num_layers=6))
    """

    schema = ParamwiseSchema(
        'LearningRateDecayOptimizerConstructor', (DECAY_RATE,),
        (Key('decay_type', OneOf(tuple(RECIPES_BY_DECAY_TYPE)), 'layer_wise',
             'layer_wise (ConvNeXt, Swin or ViT), stage_wise (ConvNeXt), layer_wise_vit (ViT), '
             'vit_wise (ViT with head_decay_rate, OmniDrive / StreamPETR)'),))

    @classmethod
    def candidates(cls, settings: Settings, model: Optional[nn.Module]) -> Candidates:
        """The recipes of ``decay_type``, in order; another ``decay_type`` chooses the others."""
        names = RECIPES_BY_DECAY_TYPE[settings.decay_type]
        choosers: Dict[str, str] = {}
        for decay_type, others in RECIPES_BY_DECAY_TYPE.items():
            for name in others if decay_type != settings.decay_type else ():
                choosers.setdefault(name, f'paramwise_cfg.decay_type={decay_type!r}')
        return Candidates(tuple(RECIPES[name] for name in names),
                          because=f'paramwise_cfg.decay_type={settings.decay_type!r}: ',
                          choosers=tuple(choosers.items()))
