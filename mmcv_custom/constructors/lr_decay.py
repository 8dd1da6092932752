"""``LearningRateDecayOptimizerConstructor``: mmdet / mmseg's layer-decay constructor, superset."""
from typing import Dict, Sequence, Tuple

from torch import nn

from ..engine.config import (LAYER_DECAY_KEYS, MMENGINE_KEYS, Key, ParamwiseSchema, check_choice,
                             check_rate, recipe_keys)
from ..engine.params import ModelParams
from ..layer_ids import RECIPES, LayerDecayRecipe
from .base import LayerDecayConstructorBase

#: For each ``decay_type``, the recipes tried in order. ConvNeXt first: its names
#: (``downsample_layers.S``, ``stages.S.B``) never look like Swin's or a ViT's.
RECIPES_BY_DECAY_TYPE: Dict[str, Tuple[str, ...]] = {
    'layer_wise': ('convnext_layer_wise', 'swin', 'vit'),
    'layer_wise_vit': ('vit',),
    'stage_wise': ('convnext_stage_wise',),
    'vit_wise': ('vit_wise',),
}


class LearningRateDecayOptimizerConstructor(LayerDecayConstructorBase):
    """Layer-wise or stage-wise learning-rate decay for ConvNeXt and ViT backbones.

    A drop-in replacement for the classes of the same name in mmdet 3.x and mmseg 1.x: with the
    same ``paramwise_cfg`` every parameter gets the same lr, weight decay and group name, in the same
    group order, and it also works where they raise ``NotImplementedError`` (mmseg's and
    mmpretrain's ``VisionTransformer``, InternViT-style ``blocks.N`` layouts).

    With ``L = num_layers`` and ``rate = decay_rate``, a parameter with layer id ``k`` gets
    ``lr = base_lr * rate ** (L + 1 - k) * lr_mult``. The backbone family is recognised from the
    parameter names:

    - ConvNeXt (``backbone.downsample_layers.S``, ``backbone.stages.S.B``), ``layer_wise``: stem 0,
      stage 0 -> 1, stage 1 -> 2, stage 2 block ``B`` -> ``3 + B // 3``, stage 3 -> ``L``, the rest
      ``L + 1``. ``stage_wise``: downsampling layers 0, stage ``S`` -> ``S + 1``, the rest ``L + 1``
      (so with ``L = 12`` stage 3 gets ``rate ** 9`` and the heads 1.0, as in mmdet and mmseg).
    - Swin (``stages.S.blocks.B``, mmseg / mmdet / mmpretrain), ``layer_wise``: the ids of
      mmpretrain's ``SwinTransformer.get_layer_depth``: ``patch_embed`` 0, block ``B`` of stage
      ``S`` -> ``B + 1 + sum(depths[:S])``, a stage's ``downsample`` -> the id of its last block,
      the rest ``L + 1`` (``L = sum(depths)``, ``depths`` read from the names).
    - ViT (``layers.i`` or ``blocks.i``), ``layer_wise`` or ``layer_wise_vit``:
      tokens, position and patch embeddings 0, block ``i`` -> ``i + 1``, the rest ``L + 1``;
      Mask2Former's decode-head embeddings 0 (``head_embeddings_at_layer_0``).
    - ``vit_wise`` (NVlabs/OmniDrive, StreamPETR, Far3D: an EVA ViT as ``img_backbone``): in the
      backbone as ``layer_wise`` (``blocks.i.residual.*`` excluded from the blocks,
      ``vit_position_encoder`` at 0); everything outside it gets ``lr = base_lr * head_decay_rate``
      (default 1.0), ``lm_head.*`` ``base_lr * lm_head_decay_rate`` (default 0.1). Upstream names
      its groups by layer id only, so a head group could take the scale of a backbone group with
      the same id; here the head groups are tagged (``layer_{L+1}_decay_head``) and never mix.

    The backbone is ``backbone.``, else ``img_backbone.``, else where the layout is found, else the
    model itself; ``paramwise_cfg.backbone_prefix`` names it.

    Weight decay is 0 for 1-D parameters and names ending in ``.bias``; frozen parameters are in no
    group; the groups are logged once, on rank 0.

    ``paramwise_cfg`` keys:

    - ``decay_rate`` (float in (0, 1], **required**): the decay per layer or stage.
    - ``decay_type`` (``'layer_wise'`` (default), ``'stage_wise'``, ``'layer_wise_vit'``,
      ``'vit_wise'``): ``stage_wise`` is defined for ConvNeXt only; ``layer_wise_vit`` is mmseg's
      name for ``layer_wise`` on ViTs; ``vit_wise`` reads ``head_decay_rate`` and
      ``lm_head_decay_rate``.
    - ``num_layers`` (int > 0, default from the model: ConvNeXt 12 if stage 2 has more than 9
      blocks, else 6, as the published configs use; ViT its number of blocks). Too small is an
      error naming the minimum; different from the model's depth is warned about.
    - ``exclude_tokens_from_decay``, ``layer_ids_from_model``, ``backbone_prefix``,
      ``head_embeddings_at_layer_0``, ``recipe`` and MMEngine's keys
      (``custom_keys``, ``bias_lr_mult``, ``bias_decay_mult``, ``norm_decay_mult``,
      ``dwconv_decay_mult``, ``flat_decay_mult``, ``dcn_offset_lr_mult``, ``bypass_duplicate``):
      as in :class:`CustomLayerDecayOptimizerConstructor`.
    - ``head_decay_rate``, ``lm_head_decay_rate``: ``vit_wise`` only (above). InternImage's keys
      (``depths``, ``offset_lr_scale``, ``backbone_small_lr``, ``dino_head``) belong to
      :class:`CustomLayerDecayOptimizerConstructor` and are an error here (``depths`` is accepted
      for Swin, checked against the names).

    After ``custom_imports=dict(imports=['mmcv_custom'])`` the bare name resolves to this class
    under every default scope, also ``mmdet`` and ``mmseg``, whose own classes of the same name it
    replaces in their registries (logged once); ``mmcv_custom.LearningRateDecayOptimizerConstructor``
    names it explicitly.

    Example (mmdet's Mask R-CNN ConvNeXt-T)::

        custom_imports = dict(imports=['mmpretrain.models', 'mmcv_custom'],
                              allow_failed_imports=False)
        optim_wrapper = dict(
            type='OptimWrapper',
            optimizer=dict(type='AdamW', lr=0.0002, betas=(0.9, 0.999), weight_decay=0.05),
            constructor='LearningRateDecayOptimizerConstructor',
            paramwise_cfg=dict(decay_rate=0.95, decay_type='layer_wise', num_layers=6))
    """

    rate_key = 'decay_rate'
    auto_recipes = tuple(name for names in RECIPES_BY_DECAY_TYPE.values() for name in names)
    schema = ParamwiseSchema(
        'LearningRateDecayOptimizerConstructor',
        (Key('decay_rate', check_rate, doc='the decay per layer or stage, in (0, 1]',
             required=True),
         Key('decay_type', check_choice(tuple(RECIPES_BY_DECAY_TYPE)), 'layer_wise',
             'layer_wise (ConvNeXt, Swin or ViT), stage_wise (ConvNeXt), layer_wise_vit (ViT), '
             'vit_wise (ViT with head_decay_rate, OmniDrive / StreamPETR)'))
        + LAYER_DECAY_KEYS + recipe_keys() + MMENGINE_KEYS)

    def recipe_names_possible(self) -> Tuple[str, ...]:
        if self.settings['recipe'] is not None:
            return (self.settings['recipe'],)
        return RECIPES_BY_DECAY_TYPE[self.settings['decay_type']]

    def candidate_recipes(self, model: nn.Module,
                          model_params: ModelParams) -> Sequence[LayerDecayRecipe]:
        return tuple(RECIPES[name] for name in RECIPES_BY_DECAY_TYPE[self.settings['decay_type']])

    def layout_context(self) -> str:
        return super().layout_context() or \
            f"paramwise_cfg.decay_type={self.settings['decay_type']!r}: "
