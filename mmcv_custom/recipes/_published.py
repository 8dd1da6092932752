"""The published layer-decay recipes, as data, each with the source whose rule it follows.

Every regex below is matched against the *canonical* name (wrapper segments removed) relative to
the backbone prefix unless the field says otherwise (see :class:`~._schema.LayerDecayRecipe`).
Each recipe names the ``paramwise_cfg`` keys it reads (defined once, in ``config._keys``); which
recipe reads which key, and the recipe keys of the constructors' schemas, derive from that.

Adding a recipe is adding an entry to :data:`RECIPES` and its test; an embeddings pattern is one
more regex in a recipe's ``embeddings``.
"""
from dataclasses import replace
from typing import Dict, Tuple

from ..config._keys import (BACKBONE_SMALL_LR, CBNET_LAYER_DECAY, DEPTHS, DINO_HEAD,
                            HEAD_DECAY_RATE, LM_HEAD_DECAY_RATE, OFFSET_LR_SCALE,
                            SPLIT_HEAD_GROUP, Key)
from ._schema import BlockPattern, LayerDecayRecipe, LrMultiplier, WeightDecayRule


#: Tokens and position embeddings at the top of a ViT backbone (``register_tokens``: DINOv2 with
#: registers, facebookresearch/dinov2 ``dinov2/train/param_groups.py``, puts them at layer 0;
#: ``reg_token``: timm's name for them).
VIT_TOKENS = r'(?:cls_token|mask_token|pos_embed|register_tokens|reg_token|visual_embed)$'
#: Mask2Former's learned queries and embeddings in a decode head (mmseg ``Mask2FormerHead``):
#: ViT-Adapter, InternImage (segmentation) and EVA train them at layer 0.
MASK2FORMER_EMBEDDINGS = (r'decode_head\.(?:mask_embed|cls_embed|level_embed|query_embed|'
                          r'query_feat)(?:\.|$)',)
#: ``blocks.N`` not followed by a number, and DINOv2's chunked ``blocks.C.I`` (``block_chunks >
#: 0``; facebookresearch/dinov2 ``dinov2/models/vision_transformer.py``: ``BlockChunk`` pads chunk
#: C with ``nn.Identity()``, so I is the global index; ``dinov2/utils/param_groups.py``: id I + 1).
_PLAIN_BLOCKS = r'blocks\.(?P<block>\d+)(?:\.(?!\d+(?:\.|$))|$)'
_CHUNKED_BLOCKS = r'blocks\.(?P<chunk>\d+)\.(?P<block>\d+)(?:\.|$)'
DINOV2_CHUNKS = (_CHUNKED_BLOCKS, _PLAIN_BLOCKS)
VIT_BLOCKS = (BlockPattern(r'layers\.(?P<block>\d+)(?:\.|$)', 'plain'),
              BlockPattern(_PLAIN_BLOCKS, 'plain'), BlockPattern(_CHUNKED_BLOCKS, 'plain'))
STAGE_BLOCKS_REFUSED = (
    r'(?:levels|layers)\.\d+\.blocks\.\d+(?:\.|$)',
    'blocks numbered per stage (InternImage levels.S.blocks.B, Swin-v1 layers.S.blocks.B): a ViT '
    "reading would give each stage one id. InternImage's rule reads them (the one "
    "CustomLayerDecayOptimizerConstructor takes with InternImage's keys): set "
    "paramwise_cfg.recipe='internimage_det' ('internimage_seg' for a segmentor)")
SWIN_BLOCKS_REFUSED = (
    r'stages\.\d+\.blocks\.\d+(?:\.|$)',
    'Swin blocks numbered per stage (stages.S.blocks.B): a ViT reading would give each stage one '
    "id. Swin's rule reads them: set paramwise_cfg.recipe='swin'")
VIT_REFUSED = (STAGE_BLOCKS_REFUSED, SWIN_BLOCKS_REFUSED)
#: ... and for the readings whose source reads ``blocks.C.I`` as block C (ViTDet, OmniDrive).
VIT_REFUSED_UNCHUNKED = VIT_REFUSED + ((
    _CHUNKED_BLOCKS,
    "chunked blocks (blocks.C.I: DINOv2 with block_chunks > 0): this recipe's source reads the "
    'chunk index C as the block, one id per chunk. The vit, beit and internvl readings read I as '
    "DINOv2 does: set paramwise_cfg.recipe='vit'"),)
#: CBNet's copies of the backbone share the ids of the plain names.
CBNET_COPIES = (r'cb_modules\.\d+\.', '')
VIT_LAYOUT = ('<prefix>layers.N.* or <prefix>blocks.N.*, with patch_embed / cls_token / '
              'pos_embed (ViT, BEiT, MAE, EVA, InternViT, DINOv2)')

INTERNVL = LayerDecayRecipe(
    name='internvl', family='vit',
    source='OpenGVLab/InternVL segmentation/mmcv_custom/layer_decay_optimizer_constructor.py '
           '(= microsoft/unilm beit/semantic_segmentation/mmcv_custom/...)',
    layout=VIT_LAYOUT,
    embeddings=(VIT_TOKENS, r'patch_embed', r'visual_embed'),
    blocks=VIT_BLOCKS,
    # CBNet's copies share the ids of the plain names; InternVL reads levels.N as layers.N (one
    # id per level: InternImage's per-block rule is recipe internimage_*, chosen by its keys).
    name_aliases=(CBNET_COPIES, (r'levels\.', 'layers.')),
    refused=(SWIN_BLOCKS_REFUSED,), block_chunks=DINOV2_CHUNKS,
    head_embeddings=MASK2FORMER_EMBEDDINGS)

#: Its layer-0 set is the union of its sources' (none contradicts another on a model it meets):
#: unilm's, ViT-Adapter's segmentation/ (the same, plus Mask2Former's embeddings), detection/
#: (plus visual_embed*: Uni-Perceiver) and wsdm2023/ (visual_embed*, without mask_token, which
#: Uni-Perceiver lacks); DINOv2's register tokens and chunked blocks.
BEIT = LayerDecayRecipe(
    name='beit', family='vit',
    source='microsoft/unilm beit/semantic_segmentation/mmcv_custom/'
           'layer_decay_optimizer_constructor.py; czczup/ViT-Adapter {segmentation,detection,'
           'wsdm2023}/mmcv_custom/layer_decay_optimizer_constructor.py (Mask2Former embeddings '
           'and Uni-Perceiver visual_embed at layer 0)',
    layout=VIT_LAYOUT,
    embeddings=(VIT_TOKENS, r'patch_embed', r'visual_embed'),
    blocks=VIT_BLOCKS,
    refused=VIT_REFUSED, block_chunks=DINOV2_CHUNKS,
    head_embeddings=MASK2FORMER_EMBEDDINGS)

#: InternVL's reading under the name mmseg / mmdet give it (the rule of their ViT branch, which
#: knows only layers.N, extended to blocks.N and the InternViT names).
VIT = replace(
    INTERNVL, name='vit', refused=VIT_REFUSED,
    source="mmseg/mmdet LearningRateDecayOptimizerConstructor ('layer_wise_vit'), extended to "
           'blocks.N and the InternViT names')

VITDET = LayerDecayRecipe(
    name='vitdet', family='vit',
    source='open-mmlab/mmdetection projects/ViTDet/vitdet/layer_decay_optimizer_constructor.py '
           '(weight decay as detectron2 ViTDet)',
    layout='<prefix>blocks.N.*, with patch_embed / pos_embed (mmdet ViTDet ViT)',
    # Any backbone name containing patch_embed or pos_embed is an embedding.
    embeddings=(r'.*(?:patch_embed|pos_embed)',),
    blocks=(BlockPattern(r'blocks\.(?P<block>\d+)(?:\.|$)', 'plain'),),
    refused=VIT_REFUSED_UNCHUNKED,
    # Norms inside the blocks and pos_embed are not decayed; biases, layer scales and norms
    # outside the blocks are.
    weight_decay=WeightDecayRule(flat_and_bias=False, substrings=('pos_embed',),
                                 backbone_patterns=(r'blocks\..*norm',)))

VIT_WISE = LayerDecayRecipe(
    name='vit_wise', family='vit',
    source="NVlabs/OmniDrive (StreamPETR, Far3D) LearningRateDecayOptimizerConstructor "
           "decay_type='vit_wise', get_vit_lr_decay_rate",
    layout='<prefix>blocks.N.* (blocks.N.residual.* excluded), with pos_embed / patch_embed / '
           'vit_position_encoder (EVA ViT as img_backbone)',
    embeddings=(r'(?:.*?\.)?(?:pos_embed|patch_embed)', r'.*vit_position_encoder'),
    blocks=(BlockPattern(r'(?!.*\.residual\.)(?:.*?\.)?blocks\.(?P<block>\d+)(?:\.|$)',
                         'plain'),),
    refused=VIT_REFUSED_UNCHUNKED,
    multipliers=(
        LrMultiplier(patterns=(r'^lm_head',), tag='lm_head', scope='outside',
                     factor_key='lm_head_decay_rate', factor=0.1),
        LrMultiplier(patterns=('',), tag='head', scope='outside', factor_key='head_decay_rate'),
    ),
    # OmniDrive names its groups layer_{id}_{decay|no_decay}: the first head-id parameter (the
    # detection head's, registered first) sets the lr of lm_head and the backbone's head-id ones.
    groups_by_layer_id='split_head_group',
    keys=(HEAD_DECAY_RATE, LM_HEAD_DECAY_RATE, SPLIT_HEAD_GROUP))

SWIN = LayerDecayRecipe(
    name='swin', family='swin',
    source='open-mmlab/mmpretrain mmpretrain/models/backbones/swin_transformer.py '
           'SwinTransformer.get_layer_depth',
    layout='<prefix>stages.S.blocks.B.* and stages.S.downsample.* (mmseg / mmdet / mmpretrain '
           'Swin)',
    embeddings=(r'patch_embed',),
    blocks=(BlockPattern(r'stages\.(?P<stage>\d+)\.blocks\.(?P<block>\d+)(?:\.|$)',
                         'cumulative'),
            BlockPattern(r'stages\.(?P<stage>\d+)\.downsample(?:\.|$)', 'last_block_of_stage')),
    depth_rule='stage_depths', strict_prefixes=('stages.',),
    head_embeddings=MASK2FORMER_EMBEDDINGS,
    keys=(DEPTHS,))

_INTERNIMAGE_BLOCKS = (
    BlockPattern(r'(?:levels|layers)\.(?P<stage>\d+)\.(?:downsample|norm)(?:\.|$)',
                 'internimage_level_end'),
    BlockPattern(r'(?:levels|layers)\.(?P<stage>\d+)\.(?!(?:downsample|norm)(?:\.|$))[^.]+\.'
                 r'(?P<block>\d+)(?:\.|$)', 'cumulative'))
_OFFSETS = (r'sampling_offsets', r'reference_points')
_INTERNIMAGE_KEYS = (DEPTHS, OFFSET_LR_SCALE, BACKBONE_SMALL_LR, DINO_HEAD, CBNET_LAYER_DECAY)
_INTERNIMAGE_LAYOUT = ('<prefix>levels.S.blocks.B.* with levels.S.downsample / levels.S.norm '
                       "(InternImage; CB-InternImage's cb_modules.K.levels.S.blocks.B; Swin as "
                       'layers.S.blocks.B)')
_INTERNIMAGE_WD = WeightDecayRule(substrings=('relative_position', 'norm', 'sampling_offsets'))


def _internimage_multipliers(offset_scope: str) -> Tuple[LrMultiplier, ...]:
    return (
        LrMultiplier(patterns=_OFFSETS, tag='0.1x', factor=0.1, enabled_by='dino_head',
                     at_head_only=True),
        LrMultiplier(patterns=_OFFSETS, tag='offset_lr_scale', scope=offset_scope,
                     factor_key='offset_lr_scale'),
    )


INTERNIMAGE_SEG = LayerDecayRecipe(
    name='internimage_seg', family='internimage',
    source='OpenGVLab/InternImage segmentation/mmcv_custom/'
           'custom_layer_decay_optimizer_constructor.py',
    layout=_INTERNIMAGE_LAYOUT,
    embeddings=(r'patch_embed', r'cb_modules\.0\.patch_embed'),
    blocks=_INTERNIMAGE_BLOCKS, depth_rule='stage_depths', strict_prefixes=('levels.',),
    # CB-InternImage (detection/mmdet_custom/models/backbones/cbnet.py: cb_modules.{0,1},
    # cb_linears): both published rules match only backbone.levels / backbone.patch_embed, so the
    # CB-H runs trained the whole CB backbone at the head id. Its layout is read through the
    # copies (recognition, depths), its ids are not, unless cbnet_layer_decay=True.
    layout_aliases=(CBNET_COPIES,), layout_aliases_for_ids='cbnet_layer_decay',
    model_embeddings=(r'level_embeds',),
    head_embeddings=MASK2FORMER_EMBEDDINGS,
    weight_decay=_INTERNIMAGE_WD,
    multipliers=_internimage_multipliers('backbone'),
    below_base_factor=('backbone_small_lr', 0.1),
    keys=_INTERNIMAGE_KEYS)

#: InternImage's detection constructor differs from its segmentation one: no decode-head or CBNet
#: embeddings at layer 0, and offset_lr_scale on every offset, not only the backbone's.
INTERNIMAGE_DET = replace(
    INTERNIMAGE_SEG, name='internimage_det',
    source='OpenGVLab/InternImage detection/mmcv_custom/'
           'custom_layer_decay_optimizer_constructor.py',
    embeddings=(r'patch_embed',), head_embeddings=(), multipliers=_internimage_multipliers('any'))

_CONVNEXT_TOKENS = r'(?:cls_token|mask_token|pos_embed)$'
_CONVNEXT_LAYOUT = '<prefix>downsample_layers.S.* and <prefix>stages.S.B.* (mmpretrain ConvNeXt)'
_CONVNEXT_SOURCE = ('open-mmlab/mmdetection mmdet/engine/optimizers/'
                    'layer_decay_optimizer_constructor.py; open-mmlab/mmsegmentation '
                    'mmseg/engine/optimizers/layer_decay_optimizer_constructor.py')

CONVNEXT_LAYER_WISE = LayerDecayRecipe(
    name='convnext_layer_wise', family='convnext', source=_CONVNEXT_SOURCE,
    layout=_CONVNEXT_LAYOUT,
    embeddings=(_CONVNEXT_TOKENS,),
    blocks=(BlockPattern(r'downsample_layers\.(?P<stage>\d+)(?:\.|$)', 'convnext_downsample'),
            BlockPattern(r'stages\.(?P<stage>\d+)\.(?P<block>\d+)(?:\.|$)', 'convnext_block')),
    depth_rule='convnext')

CONVNEXT_STAGE_WISE = LayerDecayRecipe(
    name='convnext_stage_wise', family='convnext', source=_CONVNEXT_SOURCE,
    layout=_CONVNEXT_LAYOUT,
    embeddings=(_CONVNEXT_TOKENS, r'downsample_layers\.\d+(?:\.|$)'),
    blocks=(BlockPattern(r'stages\.(?P<stage>\d+)\.(?P<block>\d+)(?:\.|$)', 'stage_plus_one'),),
    depth_rule='convnext')

#: Every recipe by name (``paramwise_cfg.recipe``).
RECIPES: Dict[str, LayerDecayRecipe] = {recipe.name: recipe for recipe in (
    INTERNVL, BEIT, VIT, VITDET, VIT_WISE, SWIN, INTERNIMAGE_SEG, INTERNIMAGE_DET,
    CONVNEXT_LAYER_WISE, CONVNEXT_STAGE_WISE)}

#: The keys only some recipes read, each once, in the order the recipes declare them.
RECIPE_OPTION_KEYS: Tuple[Key, ...] = tuple(
    {key.name: key for recipe in RECIPES.values() for key in recipe.keys}.values())
#: For each recipe key, the recipes that read it.
RECIPE_KEYS: Dict[str, Tuple[str, ...]] = {
    key.name: tuple(name for name, recipe in RECIPES.items() if key.name in recipe.key_names)
    for key in RECIPE_OPTION_KEYS}
