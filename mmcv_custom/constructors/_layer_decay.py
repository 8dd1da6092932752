"""``LayerDecayOptimizerConstructor``: the name BEiT, EVA, ViT-Adapter, ViT-CoMer, mmseg's BEiT /
MAE configs and mmdet's ViTDet project use."""
from dataclasses import replace
from typing import Optional

from torch import nn

from ..config._keys import DECAY_RATE, LAYER_DECAY_RATE, Key, OneOf
from ..config._schema import ParamwiseSchema, Settings
from ..recipes._match import Candidates
from ..recipes._published import BEIT, VITDET
from ._base import LayerDecayConstructorBase


class LayerDecayOptimizerConstructor(LayerDecayConstructorBase):
    """Layer-wise lr decay under the name the BEiT family of configs use, with their two readings.

    Which rule applies follows the rate key the config gives, as the published configs do:

    - ``layer_decay_rate`` (+ ``num_layers``): the BEiT / ViT-Adapter rule (recipe ``beit``;
      microsoft/unilm ``beit/semantic_segmentation/mmcv_custom/
      layer_decay_optimizer_constructor.py`` and czczup/ViT-Adapter ``{segmentation,detection,
      wsdm2023}/mmcv_custom/layer_decay_optimizer_constructor.py``, also used by EVA, ViT-CoMer,
      ViT-Adapter's Uni-Perceiver detectors and mmseg's BEiT / MAE configs). Relative to the
      backbone: ``cls_token``, ``mask_token``, ``pos_embed``, ``register_tokens`` (DINOv2),
      ``visual_embed`` and every name starting ``patch_embed`` or ``visual_embed`` (Uni-Perceiver)
      have id 0 (the union of those copies' sets), ``blocks.i`` / ``layers.i`` id ``i + 1``
      (DINOv2's chunked ``blocks.C.i`` too), the rest the head id ``L + 1``; Mask2Former's
      ``decode_head.{query_embed, query_feat, level_embed, cls_embed, mask_embed}`` have id 0.
      Weight decay 0 for 1-D parameters and biases.
    - ``decay_rate`` (+ ``decay_type='layer_wise'``, ``num_layers``): mmdet's ViTDet project
      (recipe ``vitdet``; open-mmlab/mmdetection ``projects/ViTDet/vitdet/
      layer_decay_optimizer_constructor.py``). Backbone names containing ``patch_embed`` or
      ``pos_embed`` have id 0, ``blocks.i`` id ``i + 1``, the rest ``L + 1``. Weight decay follows
      detectron2: 0 for the norms inside the blocks and for ``pos_embed``; biases, layer scales and
      norms outside the blocks *are* decayed.

    ``lr = base_lr * lr_scale`` by the formula of ``mmcv_custom.layer_decay._plan``. Giving both
    rate keys, or neither, is an error; the other keys are as in
    :class:`CustomLayerDecayOptimizerConstructor`, and the keys of other recipes are an error here
    unless ``recipe`` names one that reads them. After ``custom_imports=dict(imports=
    ['mmcv_custom'])`` the bare name resolves to this class in every default scope (mmseg's class
    of the same name is replaced in its registry, logged once).

    Example (ViT-Adapter / BEiT UPerNet)::

        optim_wrapper = dict(
            optimizer=dict(type='AdamW', lr=6e-5, betas=(0.9, 0.999), weight_decay=0.05),
            constructor='LayerDecayOptimizerConstructor',
            paramwise_cfg=dict(num_layers=24, layer_decay_rate=0.9))
    """

    schema = ParamwiseSchema(
        'LayerDecayOptimizerConstructor',
        (replace(LAYER_DECAY_RATE, doc='the decay per layer, in (0, 1]: the BEiT / ViT-Adapter '
                                       'reading'),
         replace(DECAY_RATE, doc="the decay per layer, in (0, 1]: the ViTDet reading, with "
                                 "decay_type='layer_wise'")),
        (Key('decay_type', OneOf(('layer_wise',)), None,
             "ViTDet's decay_type; only 'layer_wise' is defined", requires='decay_rate'),))

    @classmethod
    def candidates(cls, settings: Settings, model: Optional[nn.Module]) -> Candidates:
        """BEiT's reading for ``layer_decay_rate``, ViTDet's for ``decay_rate``."""
        recipe = BEIT if settings.rate_key == 'layer_decay_rate' else VITDET
        return Candidates((recipe,),
                          because=f'paramwise_cfg.{settings.rate_key} (recipe {recipe.name}): ')
