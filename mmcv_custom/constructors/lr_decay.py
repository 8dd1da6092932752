"""``LearningRateDecayOptimizerConstructor``: mmdet / mmseg's layer-decay constructor, superset."""
from torch import nn

from ..engine.config import (LAYER_DECAY_KEYS, MMENGINE_KEYS, Key, ParamwiseSchema, check_choice,
                             check_rate)
from ..engine.params import ModelParams
from ..layer_ids import LayerIdRule, rule_for_names
from ..layer_ids.families import RULES_BY_DECAY_TYPE
from .base import LayerDecayConstructorBase


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
    - ViT (``backbone.layers.i`` or ``backbone.blocks.i``), ``layer_wise`` or ``layer_wise_vit``:
      tokens, position and patch embeddings 0, block ``i`` -> ``i + 1``, the rest ``L + 1``.

    Weight decay is 0 for 1-D parameters and names ending in ``.bias``; frozen parameters are in no
    group; the groups are logged once, on rank 0.

    ``paramwise_cfg`` keys:

    - ``decay_rate`` (float in (0, 1], **required**): the decay per layer or stage.
    - ``decay_type`` (``'layer_wise'`` (default), ``'stage_wise'``, ``'layer_wise_vit'``):
      ``stage_wise`` is defined for ConvNeXt only; ``layer_wise_vit`` is mmseg's name for
      ``layer_wise`` on ViTs.
    - ``num_layers`` (int > 0, default from the model: ConvNeXt 12 if stage 2 has more than 9
      blocks, else 6, as the published configs use; ViT its number of blocks). Too small is an
      error naming the minimum; different from the model's depth is warned about.
    - ``exclude_tokens_from_decay``, ``layer_ids_from_model`` and MMEngine's keys
      (``custom_keys``, ``bias_lr_mult``, ``bias_decay_mult``, ``norm_decay_mult``,
      ``dwconv_decay_mult``, ``flat_decay_mult``, ``dcn_offset_lr_mult``, ``bypass_duplicate``):
      as in :class:`CustomLayerDecayOptimizerConstructor`.

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
    schema = ParamwiseSchema(
        'LearningRateDecayOptimizerConstructor',
        (Key('decay_rate', check_rate, doc='the decay per layer or stage, in (0, 1]',
             required=True),
         Key('decay_type', check_choice(tuple(RULES_BY_DECAY_TYPE)), 'layer_wise',
             'layer_wise (ConvNeXt or ViT), stage_wise (ConvNeXt), layer_wise_vit (ViT)'))
        + LAYER_DECAY_KEYS + MMENGINE_KEYS)

    def choose_rule(self, model: nn.Module, model_params: ModelParams) -> LayerIdRule:
        try:
            return rule_for_names(model_params.all_names, self.settings['decay_type'])
        except ValueError as error:
            raise ValueError(f'{type(self).__name__}: {error}') from None
