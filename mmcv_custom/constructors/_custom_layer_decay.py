"""``CustomLayerDecayOptimizerConstructor``: layer-wise lr decay for ViT-style backbones."""
from typing import Optional

from torch import nn

from ..config._keys import LAYER_DECAY_RATE
from ..config._schema import ParamwiseSchema, Settings
from ..recipes._match import Candidates
from ..recipes._published import INTERNIMAGE_DET, INTERNIMAGE_SEG, INTERNVL, SWIN, VIT_LAYOUT
from ._base import LayerDecayConstructorBase

_NO_LAYOUT = ('{owner} is for ViT-style backbones, but no parameter of {model} has their layout '
              f'({VIT_LAYOUT}), nor that of InternImage ({INTERNIMAGE_SEG.layout}) or Swin '
              f'({SWIN.layout}); first names: {{sample}}.{{looks_like}} {{advice}}')
_LEVELS_NOTE = ("the names show InternImage's levels.S.blocks.B, which InternVL's reading "
                "(recipe internvl) reads as layers.S, one id per level; InternImage's per-block "
                'reading needs one of its keys ('
                + ', '.join(key.name for key in INTERNIMAGE_SEG.keys) + ')')


class CustomLayerDecayOptimizerConstructor(LayerDecayConstructorBase):
    """Layer-wise learning-rate decay for ViT-style backbones (InternViT-6B, ViT, BEiT, MAE, EVA),
    InternImage and Swin.

    The embeddings get the smallest learning rate, block ``i`` a larger one, the heads the full
    one: ``lr = base_lr * lr_scale`` by the formula of ``mmcv_custom.layer_decay._plan`` with
    ``rate = layer_decay_rate`` and ``L = num_layers``. The layer ids come from a recipe of
    ``mmcv_custom.RECIPES`` (each entry holds its names, id arithmetic, weight-decay rule and
    source), chosen from the keys the config gives, as the published configs do:

    - with one of InternImage's keys (``depths``, ``offset_lr_scale``, ``backbone_small_lr``,
      ``dino_head``, ``cbnet_layer_decay``): ``internimage_seg`` for a model with a
      ``decode_head``, else ``internimage_det`` (InternImage's segmentation and detection
      constructors differ): block ``B`` of level ``S`` has id ``B + 1 + sum(depths[:S])``, and
      names containing ``norm``, ``relative_position`` or ``sampling_offsets`` are not decayed.
      CB-InternImage's ``cb_modules.K`` copies are read for the layout but keep the head id, as
      the published CB-H runs trained (the report says so); ``cbnet_layer_decay=True`` gives
      every copy the per-block ids;
    - otherwise the first that recognises the names of ``swin`` (mmpretrain's
      ``SwinTransformer.get_layer_depth``, ``stages.S.blocks.B``) and ``internvl``: InternVL's
      (and BEiT's) class of this name. Relative to the backbone, tokens, ``pos_embed``,
      ``patch_embed`` and ``visual_embed`` have id 0 and ``blocks.i`` / ``layers.i`` id ``i + 1``
      (DINOv2's chunked ``blocks.C.i`` too; CBNet's ``cb_modules.N.`` copies share them;
      ``levels.i`` is read as ``layers.i``, one id per level, as InternVL does, and the report
      says that InternImage's per-block reading needs its keys); Mask2Former's decode-head
      embeddings 0; everything else ``L + 1``.

    The backbone is ``backbone.``, else ``img_backbone.``, else where the layout is found, else the
    model itself; ``backbone_prefix`` names it. Frozen parameters are in no group, a tensor shared
    under several names is in one, under its first name (listed in the report). Weight decay is
    0 for 1-D parameters and biases (tokens are decayed, as InternVL's never-matching
    ``('pos_embed', 'cls_token')`` test does, unless ``exclude_tokens_from_decay``); MMEngine's
    keys apply on top, in MMEngine's order, and a ``custom_keys`` entry without ``decay_mult``
    changes the lr only. With only the rate and ``num_layers``, every lr, weight decay, group name
    and the group order equal InternVL's (InternImage's with its keys). A ``num_layers`` below the
    model's depth is an error (some lr would exceed the base lr), a different one a warning;
    recipe keys the chosen recipe ignores are an error that says where they belong; unknown keys,
    wrong types and values out of range raise ``KeyError`` / ``TypeError`` / ``ValueError``
    naming the key, when the constructor is built. Every group carries ``params``,
    ``param_names``, ``lr``, ``lr_scale``, ``weight_decay``, ``group_name``
    (``layer_{id}_{decay|no_decay}``) and ``layer_id``; one report is logged, on rank 0.

    Example::

        custom_imports = dict(imports=['mmcv_custom'], allow_failed_imports=False)
        optim_wrapper = dict(
            type='OptimWrapper',
            optimizer=dict(type='AdamW', lr=4e-5, betas=(0.9, 0.999), weight_decay=0.05),
            constructor='CustomLayerDecayOptimizerConstructor',
            paramwise_cfg=dict(num_layers=48, layer_decay_rate=0.95))
    """

    schema = ParamwiseSchema('CustomLayerDecayOptimizerConstructor', (LAYER_DECAY_RATE,))

    @classmethod
    def candidates(cls, settings: Settings, model: Optional[nn.Module]) -> Candidates:
        """InternImage's reading when the config sets one of its keys; otherwise Swin's, then
        InternVL's."""
        keys = [key for key in settings.recipe_keys_given if key in INTERNIMAGE_SEG.key_names]
        if keys:
            recipes = ((INTERNIMAGE_SEG, INTERNIMAGE_DET) if model is None else
                       (INTERNIMAGE_SEG,) if hasattr(model, 'decode_head') else (INTERNIMAGE_DET,))
            return Candidates(recipes, unrecognised=(
                f"{{owner}}: paramwise_cfg sets {keys}, InternImage's keys, but no parameter of "
                f"{{model}} has InternImage's layout ({INTERNIMAGE_SEG.layout}); first names: "
                f'{{sample}}.{{looks_like}} {{advice}}'),
                instead=f'Remove {keys} for another backbone.')
        return Candidates((SWIN, INTERNVL), unrecognised=_NO_LAYOUT,
                          alternative=(INTERNIMAGE_SEG, _LEVELS_NOTE))
