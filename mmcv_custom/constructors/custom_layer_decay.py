"""``CustomLayerDecayOptimizerConstructor``: layer-wise lr decay for ViT-style backbones."""
from typing import Sequence

from torch import nn

from ..engine.config import (LAYER_DECAY_KEYS, MMENGINE_KEYS, Key, ParamwiseSchema, check_rate,
                             recipe_keys)
from ..engine.params import ModelParams
from ..layer_ids import LayerDecayRecipe
from ..layer_ids.recipes import INTERNIMAGE_DET, INTERNIMAGE_SEG, INTERNVL, SWIN, VIT_LAYOUT
from ..layer_ids.select import GUIDANCE, UnrecognisedLayoutError
from .base import LayerDecayConstructorBase


class CustomLayerDecayOptimizerConstructor(LayerDecayConstructorBase):
    """Layer-wise learning-rate decay for ViT-style backbones (InternViT-6B, ViT, BEiT, MAE, EVA),
    InternImage and Swin.

    The embeddings get the smallest learning rate, block ``i`` a larger one, the heads the full
    one. With ``L = num_layers`` and ``rate = layer_decay_rate``, a parameter with layer id ``k``
    gets ``lr = base_lr * rate ** (L + 1 - k) [* recipe multiplier] [* lr_mult]``. The ids come
    from a recipe (``mmcv_custom.layer_ids.recipes``) chosen from the keys the config gives, as
    the published configs do:

    - ``internimage_seg`` / ``internimage_det`` (OpenGVLab/InternImage ``segmentation/`` and
      ``detection/mmcv_custom/custom_layer_decay_optimizer_constructor.py``) when the config sets
      one of InternImage's keys (``depths``, ``offset_lr_scale``, ``backbone_small_lr``,
      ``dino_head``). Block ``B`` of level ``S``
      has id ``B + 1 + sum(depths[:S])``; a level's ``downsample`` / ``norm`` ``1 +
      sum(depths[:S + 1])`` (the last level takes the previous level's value, as the published
      models were trained); ``patch_embed`` and any ``level_embeds`` 0. Weight decay is also 0 for
      names containing ``relative_position``, ``norm`` or ``sampling_offsets``. The two files
      differ; the model decides: one with a ``decode_head`` (a segmentor) gets the segmentation
      reading (Mask2Former's decode-head embeddings and ``cb_modules.0.patch_embed`` at 0,
      ``offset_lr_scale`` on backbone offsets only), any other the detection reading
      (``offset_lr_scale`` on every ``sampling_offsets`` / ``reference_points``).
    - otherwise the first of these that recognises the names:
    - ``swin`` (mmpretrain ``SwinTransformer.get_layer_depth``): ``stages.S.blocks.B`` ->
      ``B + 1 + sum(depths[:S])``, ``stages.S.downsample`` -> the last block of stage ``S``,
      ``patch_embed`` 0; ``depths`` read from the names.
    - ``internvl`` (InternVL's / BEiT's class of this name): relative to the backbone, ``cls_token``,
      ``mask_token``, ``pos_embed``, ``register_tokens`` (DINOv2), ``visual_embed`` and everything
      under ``patch_embed`` / ``visual_embed`` have id 0; ``blocks.i.*`` and ``layers.i.*`` id
      ``i + 1`` (CBNet's ``cb_modules.0.`` / ``cb_modules.1.`` copies share the plain names' ids;
      ``levels.i`` is read as ``layers.i``, one id per level, as InternVL does: InternImage's
      per-block reading needs its keys, and the report says so); Mask2Former's
      ``decode_head.{query_embed, query_feat, level_embed, cls_embed, mask_embed}`` 0 (as
      ViT-Adapter, InternImage and EVA train them); everything else (final norm, neck, heads) the
      head id ``L + 1``.

    The backbone is ``backbone.``, else ``img_backbone.``, else where the layout is found, else the
    model itself (a bare backbone); ``backbone_prefix`` names it. The report says which recipe,
    source and prefix were used.

    Parameters with ``requires_grad=False`` are in no group. Weight decay is 0 for 1-D parameters
    and names ending in ``.bias``, the optimizer's ``weight_decay`` otherwise. With no
    ``paramwise_cfg`` key beyond the first two below, every parameter's lr, weight decay and
    group name, and the group order, equal those of InternVL's (and BEiT's) constructor of the same
    name on its ViTs (and InternImage's on InternImage); the groups are logged once, on rank 0.

    ``paramwise_cfg`` keys:

    - ``layer_decay_rate`` (float in (0, 1], **required**): the decay per layer.
    - ``num_layers`` (int > 0, default: the number of blocks of the model): ``L``. A value smaller
      than the model's depth is an error (some lr would exceed the base lr); a different one is
      warned about.
    - ``exclude_tokens_from_decay`` (bool, default False): weight decay 0 for tokens and position
      embeddings (``*_token``, ``*_tokens``, ``pos_embed``, ...) and the names the model's or its
      backbone's ``no_weight_decay()`` lists. InternVL, BEiT, mmdet and mmseg meant to do this but
      test the prefixed name against ``('pos_embed', 'cls_token')``, which never matches; their
      published results decayed these tokens, so the default reproduces that, and the report says
      so.
    - ``layer_ids_from_model`` (bool, default False): take layer ids from the model's or its
      backbone's ``get_layer_depth(param_name, prefix)`` (mmpretrain's protocol).
    - MMEngine's keys work on top of layer decay: ``custom_keys`` (``lr_mult`` multiplies the
      layer-decay lr, ``decay_mult`` sets ``weight_decay = base * decay_mult``, other options are
      copied into the group), ``bias_lr_mult``, ``bias_decay_mult``, ``norm_decay_mult``,
      ``dwconv_decay_mult``, ``flat_decay_mult``, ``dcn_offset_lr_mult``, ``bypass_duplicate``.
      A ``custom_keys`` entry without ``decay_mult`` changes the lr only: the parameter keeps
      the recipe's weight decay (0 for 1-D parameters and biases), unlike MMEngine's own
      constructor, which would give it the base weight decay. The multipliers and decay
      multipliers replace the recipe's weight decay for what they match (see
      ``mmcv_custom.engine.options`` for the order in which they apply).
    - ``backbone_prefix`` (str, default: found from the names): the module that holds the backbone
      (``'img_backbone'``; ``''`` for a bare backbone).
    - ``head_embeddings_at_layer_0`` (bool, default True): Mask2Former's decode-head embeddings at
      layer 0 as the published recipes train them; False puts them with the head. The report lists
      the parameters outside the backbone it placed at layer 0.
    - ``recipe`` (str, default: chosen as above): a recipe by name (``mmcv_custom.RECIPES``).
    - InternImage's keys: ``depths`` (list of int, default: read from the names; checked against
      them; ``num_layers`` defaults to ``sum(depths)``), ``offset_lr_scale`` (float >= 0, default
      1.0: multiplies the lr of ``sampling_offsets`` / ``reference_points``),
      ``backbone_small_lr`` (bool: every lr below the base lr times 0.1), ``dino_head`` (bool:
      head-level ``sampling_offsets`` / ``reference_points`` times 0.1). On a recipe that does not
      read them they are an error, as are ``head_decay_rate`` / ``lm_head_decay_rate`` (they belong
      to :class:`LearningRateDecayOptimizerConstructor`'s ``decay_type='vit_wise'``).

    Unknown keys, wrong types and out-of-range values raise ``KeyError`` / ``TypeError`` /
    ``ValueError`` naming the key, when the constructor is built. Every group carries ``params``,
    ``param_names``, ``lr``, ``lr_scale`` (``lr / base_lr``), ``weight_decay``, ``group_name``
    (``layer_{id}_{decay|no_decay}``) and ``layer_id``.

    Example::

        custom_imports = dict(imports=['mmcv_custom'], allow_failed_imports=False)
        optim_wrapper = dict(
            type='OptimWrapper',
            optimizer=dict(type='AdamW', lr=4e-5, betas=(0.9, 0.999), weight_decay=0.05),
            constructor='CustomLayerDecayOptimizerConstructor',
            paramwise_cfg=dict(num_layers=48, layer_decay_rate=0.95))
    """

    rate_key = 'layer_decay_rate'
    auto_recipes = ('internvl', 'internimage_seg', 'internimage_det', 'swin')
    schema = ParamwiseSchema(
        'CustomLayerDecayOptimizerConstructor',
        (Key('layer_decay_rate', check_rate, doc='the decay per layer, in (0, 1]',
             required=True),) + LAYER_DECAY_KEYS + recipe_keys() + MMENGINE_KEYS)

    def candidate_recipes(self, model: nn.Module,
                          model_params: ModelParams) -> Sequence[LayerDecayRecipe]:
        """InternImage (segmentation reading when the model has a ``decode_head``, detection
        otherwise) when the config sets one of its keys, as InternImage's configs do; otherwise
        Swin's ``stages.S.blocks.B``, then InternVL's reading (which reads ``levels.N`` as
        ``layers.N``, one id per level, as InternVL does)."""
        if self.given_recipe_keys():
            return (INTERNIMAGE_SEG if hasattr(model, 'decode_head') else INTERNIMAGE_DET,)
        return (SWIN, INTERNVL)

    def unrecognised_layout_message(self, model: nn.Module,
                                    error: UnrecognisedLayoutError) -> str:
        if self.settings['recipe'] is not None:
            return str(error)
        keys = self.given_recipe_keys()
        if keys:
            return (f"{type(self).__name__}: paramwise_cfg sets {keys}, InternImage's keys, but no "
                    f"parameter of {type(model).__name__} has InternImage's layout "
                    f'({INTERNIMAGE_SEG.layout}); first names: {error.sample}.{error.looks_like} '
                    f'Remove {keys} for another backbone.')
        return (f'{type(self).__name__} is for ViT-style backbones, but no parameter of '
                f'{type(model).__name__} has their layout ({VIT_LAYOUT}), nor that of InternImage '
                f'({INTERNIMAGE_SEG.layout}) or Swin ({SWIN.layout}); first names: '
                f'{error.sample}.{error.looks_like} For ConvNeXt use '
                f'LearningRateDecayOptimizerConstructor. {GUIDANCE}')
