"""``LayerDecayOptimizerConstructor``: the name BEiT, EVA, ViT-Adapter, ViT-CoMer, mmseg's BEiT /
MAE configs and mmdet's ViTDet project use."""
from typing import Any, Mapping, Optional, Sequence, Tuple

from torch import nn

from ..engine.config import (LAYER_DECAY_KEYS, MMENGINE_KEYS, Key, MissingKeyError,
                             ParamwiseSchema, check_choice, check_rate, recipe_keys)
from ..engine.params import ModelParams
from ..layer_ids import LayerDecayRecipe
from ..layer_ids.recipes import BEIT, VITDET
from .base import LayerDecayConstructorBase


class LayerDecayOptimizerConstructor(LayerDecayConstructorBase):
    """Layer-wise lr decay under the name the BEiT family of configs use, with their two readings.

    Which rule applies follows the keys the config gives, as the published configs do:

    - ``layer_decay_rate`` (+ ``num_layers``): the BEiT / ViT-Adapter rule (recipe ``beit``;
      microsoft/unilm ``beit/semantic_segmentation/mmcv_custom/layer_decay_optimizer_constructor.py``
      and czczup/ViT-Adapter ``segmentation/mmcv_custom/layer_decay_optimizer_constructor.py``, also
      used by EVA, ViT-CoMer and mmseg's BEiT / MAE configs). Relative to the backbone:
      ``cls_token``, ``mask_token``, ``pos_embed``, ``register_tokens`` and ``patch_embed.*`` have
      id 0, ``blocks.i`` / ``layers.i`` id ``i + 1``, the rest the head id ``L + 1``; Mask2Former's
      ``decode_head.{query_embed, query_feat, level_embed, cls_embed, mask_embed}`` have id 0.
      Weight decay 0 for 1-D parameters and biases.
    - ``decay_rate`` (+ ``decay_type='layer_wise'``, ``num_layers``): mmdet's ViTDet project
      (recipe ``vitdet``; open-mmlab/mmdetection ``projects/ViTDet/vitdet/
      layer_decay_optimizer_constructor.py``). Backbone names containing ``patch_embed`` or
      ``pos_embed`` have id 0, ``blocks.i`` id ``i + 1``, the rest ``L + 1``. Weight decay follows
      detectron2: 0 for the norms inside the blocks and for ``pos_embed``; biases, layer scales and
      norms outside the blocks *are* decayed.

    ``lr = base_lr * rate ** (L + 1 - layer_id) [* lr_mult]``. Giving both rate keys, or neither, is
    an error. The other keys (``num_layers``, ``backbone_prefix``, ``head_embeddings_at_layer_0``,
    ``recipe``, ``exclude_tokens_from_decay``, ``layer_ids_from_model`` and MMEngine's
    ``custom_keys``, ``bias_lr_mult``, ``bias_decay_mult``, ``norm_decay_mult``,
    ``dwconv_decay_mult``, ``flat_decay_mult``, ``dcn_offset_lr_mult``, ``bypass_duplicate``) are
    as in :class:`CustomLayerDecayOptimizerConstructor`. The keys of other recipes (``depths``,
    ``offset_lr_scale``, ``backbone_small_lr``, ``dino_head``, ``head_decay_rate``,
    ``lm_head_decay_rate``) are an error here unless ``recipe`` names one that reads them.

    After ``custom_imports=dict(imports=['mmcv_custom'])`` the bare name resolves to this class in
    every default scope (mmseg's class of the same name is replaced in its registry, logged once).

    Example (ViT-Adapter / BEiT UPerNet)::

        optim_wrapper = dict(
            optimizer=dict(type='AdamW', lr=6e-5, betas=(0.9, 0.999), weight_decay=0.05),
            constructor='LayerDecayOptimizerConstructor',
            paramwise_cfg=dict(num_layers=24, layer_decay_rate=0.9))
    """

    auto_recipes = ('beit', 'vitdet')
    schema = ParamwiseSchema(
        'LayerDecayOptimizerConstructor',
        (Key('layer_decay_rate', check_rate, None,
             'the decay per layer, in (0, 1] (BEiT / ViT-Adapter reading)'),
         Key('decay_rate', check_rate, None,
             "the decay per layer, in (0, 1] (mmdet ViTDet reading, with decay_type)"),
         Key('decay_type', check_choice(('layer_wise',)), None,
             "ViTDet's decay_type; only 'layer_wise' is defined"))
        + LAYER_DECAY_KEYS + recipe_keys() + MMENGINE_KEYS)

    def rate_key_for(self, settings: Mapping[str, Any],
                     paramwise_cfg: Optional[Mapping[str, Any]]) -> str:
        """``layer_decay_rate`` (BEiT / ViT-Adapter) or ``decay_rate`` (ViTDet): exactly one."""
        owner = type(self).__name__
        given = [key for key in ('layer_decay_rate', 'decay_rate') if settings[key] is not None]
        if len(given) != 1:
            raise MissingKeyError(
                f'{owner}: paramwise_cfg needs exactly one of layer_decay_rate (the BEiT / '
                'ViT-Adapter reading) or decay_rate (the ViTDet reading, with '
                f"decay_type='layer_wise'); got {given or 'neither'}. Got "
                f'paramwise_cfg={paramwise_cfg!r}')
        if settings['decay_type'] is not None and given == ['layer_decay_rate']:
            raise ValueError(f"{owner}: paramwise_cfg.decay_type belongs to the ViTDet reading "
                             '(with decay_rate); the BEiT / ViT-Adapter reading '
                             '(layer_decay_rate) has no decay_type. Remove it.')
        return given[0]

    def _reading(self) -> LayerDecayRecipe:
        return BEIT if self.rate_key == 'layer_decay_rate' else VITDET

    def recipe_names_possible(self) -> Tuple[str, ...]:
        named = self.settings['recipe']
        return (named,) if named is not None else (self._reading().name,)

    def candidate_recipes(self, model: nn.Module,
                          model_params: ModelParams) -> Sequence[LayerDecayRecipe]:
        return (self._reading(),)

    def layout_context(self) -> str:
        return super().layout_context() or \
            f'paramwise_cfg.{self.rate_key} (recipe {self._reading().name}): '
