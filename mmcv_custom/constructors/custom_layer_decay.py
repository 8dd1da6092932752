"""``CustomLayerDecayOptimizerConstructor``: layer-wise lr decay for ViT-style backbones."""
from torch import nn

from ..engine.config import LAYER_DECAY_KEYS, MMENGINE_KEYS, Key, ParamwiseSchema, check_rate
from ..engine.params import ModelParams
from ..layer_ids import LayerIdRule, ViTLayerIds
from ..layer_ids.families import FAMILY_LAYOUTS
from .base import LayerDecayConstructorBase


class CustomLayerDecayOptimizerConstructor(LayerDecayConstructorBase):
    """Layer-wise learning-rate decay for ViT-style backbones (InternViT-6B, ViT, BEiT, MAE, EVA).

    The embeddings get the smallest learning rate, block ``i`` a larger one, the heads the full
    one. With ``L = num_layers`` and ``rate = layer_decay_rate``, a parameter with layer id ``k``
    gets ``lr = base_lr * rate ** (L + 1 - k) * lr_mult``, where, relative to ``backbone.``:

    - ``cls_token``, ``mask_token``, ``pos_embed``, ``visual_embed`` and everything under
      ``patch_embed`` or ``visual_embed`` have id 0 (the embedding id);
    - ``blocks.i.*`` and ``layers.i.*`` have id ``i + 1`` (CBNet's ``cb_modules.0.`` /
      ``cb_modules.1.`` copies share the ids of the plain names; ``levels.`` is read as
      ``layers.``);
    - everything else (final norm, neck, heads) has the head id ``L + 1``.

    Parameters with ``requires_grad=False`` are in no group. Weight decay is 0 for 1-D parameters
    and names ending in ``.bias``, the optimizer's ``weight_decay`` otherwise. With no
    ``paramwise_cfg`` key beyond the first two below, every parameter's lr, weight decay and
    group name, and the group order, equal those of InternVL's (and BEiT's) constructor of the same
    name; the groups are logged once, on rank 0.

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
      A parameter matched by one of them leaves the plain no-decay rule (see
      ``mmcv_custom.engine.options`` for the order in which they apply).

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
    schema = ParamwiseSchema(
        'CustomLayerDecayOptimizerConstructor',
        (Key('layer_decay_rate', check_rate, doc='the decay per layer, in (0, 1]',
             required=True),) + LAYER_DECAY_KEYS + MMENGINE_KEYS)

    def choose_rule(self, model: nn.Module, model_params: ModelParams) -> LayerIdRule:
        rule = ViTLayerIds()
        names = model_params.all_names
        if not rule.recognizes(names):
            sample = ', '.join(repr(name) for name in names[:4])
            raise ValueError(
                f'{type(self).__name__} is for ViT-style backbones, but no parameter of '
                f'{type(model).__name__} has their layout ({FAMILY_LAYOUTS["vit"]}); first names: '
                f'{sample}. For ConvNeXt use LearningRateDecayOptimizerConstructor; a backbone '
                'with get_layer_depth() can set paramwise_cfg.layer_ids_from_model=True.')
        return rule
