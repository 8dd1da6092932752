"""Published layer-decay recipes build the way their authors trained: every parameter's lr and
weight decay equals the one the source's rule gives, computed here from the rule as stated in each
test's docstring."""
import pytest
import torch
from torch import nn

from field_models import (InternImageDINO, InternImageUperNet, StreamPETRLike,
                          ViTDetMaskRCNN)
from helpers import build_groups, lr_wd_by_name
from toy_models import TimmViT, ViTBackbone, toy_vit_segmentor

LR, WD = 1e-3, 0.05
CUSTOM = 'CustomLayerDecayOptimizerConstructor'
LAYER_DECAY = 'LayerDecayOptimizerConstructor'
LR_DECAY = 'LearningRateDecayOptimizerConstructor'
OFFSETS = ('sampling_offsets', 'reference_points')


def internimage_expected(model: nn.Module, depths, rate: float, *, segmentation: bool,
                         offset_lr_scale: float = 1.0, backbone_small_lr: bool = False,
                         dino_head: bool = False, lr: float = LR):
    """InternImage's rule (OpenGVLab/InternImage ``{segmentation,detection}/mmcv_custom/
    custom_layer_decay_optimizer_constructor.py``), with ``L = sum(depths)``:

    - id 0: ``backbone.patch_embed*``, any name containing ``level_embeds``; segmentation also
      ``decode_head.{mask_embed, cls_embed, level_embed, query_embed, query_feat}*`` and
      ``backbone.cb_modules.0.patch_embed*``;
    - ``backbone.levels.S.<module>.B.*`` (module not downsample / norm):
      ``B + 1 + sum(depths[:S])``;
    - ``backbone.levels.S.{downsample, norm}*``: ``1 + sum(depths[:S + 1])``, the last level taking
      the value of the one before it;
    - anything else: ``L + 1``.
    - scale ``rate ** (L + 1 - id)``; ``backbone_small_lr``: scales below 1 times 0.1; then
      ``dino_head`` and id ``L + 1`` and an offset name: times 0.1; else an offset name (in the
      backbone, for segmentation): times ``offset_lr_scale``.
    - weight decay 0 for 1-D parameters, biases, and names containing ``relative_position``,
      ``norm`` or ``sampling_offsets``.
    """
    num_layers = sum(depths)
    head = num_layers + 1
    zero_prefixes = ['backbone.patch_embed']
    if segmentation:
        zero_prefixes += [f'decode_head.{n}' for n in
                          ('mask_embed', 'cls_embed', 'level_embed', 'query_embed', 'query_feat')]
        zero_prefixes.append('backbone.cb_modules.0.patch_embed')
    expected = {}
    for name, param in model.named_parameters():
        parts = name.split('.')
        if any(name.startswith(p) for p in zero_prefixes) or 'level_embeds' in name:
            layer_id = 0
        elif name.startswith('backbone.levels'):
            stage = int(parts[2])
            if parts[3] in ('downsample', 'norm'):
                layer_id = 1 + sum(depths[:min(stage, len(depths) - 2) + 1])
            else:
                layer_id = int(parts[4]) + 1 + sum(depths[:stage])
        else:
            layer_id = head
        scale = rate ** (head - layer_id)
        if backbone_small_lr and scale < 1:
            scale *= 0.1
        is_offset = any(o in name for o in OFFSETS)
        if dino_head and layer_id == head and is_offset:
            scale *= 0.1
        elif is_offset and (not segmentation or 'backbone' in name):
            scale *= offset_lr_scale
        no_decay = (param.ndim == 1 or name.endswith('.bias')
                    or any(s in name for s in ('relative_position', 'norm', 'sampling_offsets')))
        expected[name] = (pytest.approx(lr * scale), 0.0 if no_decay else WD)
    return expected


def test_internimage_published_keys_are_accepted_and_give_its_ids():
    """A published InternImage segmentation config: depths [2, 2, 3, 2], rate 0.9."""
    model = InternImageUperNet(depths=(2, 2, 3, 2))
    groups = build_groups(model, CUSTOM, dict(num_layers=9, layer_decay_rate=0.9,
                                              depths=[2, 2, 3, 2], offset_lr_scale=1.0))
    got = lr_wd_by_name(groups)
    assert got == internimage_expected(model, (2, 2, 3, 2), 0.9, segmentation=True)
    # The example: level 2, block 1 -> id 1 + 1 + 4 = 6 -> 0.9 ** (10 - 6)
    assert got['backbone.levels.2.blocks.1.mlp.0.weight'] == (pytest.approx(LR * 0.9 ** 4), WD)
    # level 3's norm gets level 2's value: 1 + 2 + 2 + 3 = 8
    assert got['backbone.levels.3.norm.1.weight'][0] == pytest.approx(LR * 0.9 ** 2)


def test_internimage_layout_with_a_key_but_no_depths_reads_them_from_the_names():
    model = InternImageUperNet(depths=(2, 2, 3, 2))
    got = lr_wd_by_name(build_groups(model, CUSTOM, dict(layer_decay_rate=0.9,
                                                         offset_lr_scale=1.0)))
    assert got == internimage_expected(model, (2, 2, 3, 2), 0.9, segmentation=True)


@pytest.mark.parametrize('offset_lr_scale, backbone_small_lr, dino_head',
                         [(0.5, False, False), (1.0, True, False), (2.0, False, True),
                          (0.5, True, True)])
def test_internimage_detection_multipliers(offset_lr_scale, backbone_small_lr, dino_head):
    """Detection reading (no decode_head): offset_lr_scale applies to offsets anywhere."""
    model = InternImageDINO(depths=(2, 2, 3, 2))
    cfg = dict(layer_decay_rate=0.9, depths=[2, 2, 3, 2], offset_lr_scale=offset_lr_scale,
               backbone_small_lr=backbone_small_lr, dino_head=dino_head)
    got = lr_wd_by_name(build_groups(model, CUSTOM, cfg))
    assert got == internimage_expected(model, (2, 2, 3, 2), 0.9, segmentation=False,
                                       offset_lr_scale=offset_lr_scale,
                                       backbone_small_lr=backbone_small_lr, dino_head=dino_head)
    # level_embeds (outside the backbone) train at layer 0 (and get the small-lr factor with it)
    assert got['bbox_head.transformer.level_embeds'][0] == pytest.approx(
        LR * 0.9 ** 10 * (0.1 if backbone_small_lr else 1.0))


def test_internimage_segmentation_scales_only_backbone_offsets():
    model = InternImageUperNet(depths=(2, 2, 3, 2))
    model.decode_head.sampling_offsets = nn.Linear(8, 8)
    model.backbone.levels[0].blocks[0].dcn.sampling_offsets = nn.Linear(8, 8)
    got = lr_wd_by_name(build_groups(model, CUSTOM, dict(layer_decay_rate=0.9, depths=[2, 2, 3, 2],
                                                         offset_lr_scale=0.5)))
    assert got == internimage_expected(model, (2, 2, 3, 2), 0.9, segmentation=True,
                                       offset_lr_scale=0.5)
    assert got['decode_head.sampling_offsets.weight'] == (pytest.approx(LR), 0.0)


def test_internimage_groups_are_named_like_its_constructor():
    model = InternImageDINO(depths=(1, 1, 1, 1))
    model.backbone.levels[0].blocks[0].dcn.sampling_offsets = nn.Linear(8, 8)
    groups = build_groups(model, CUSTOM, dict(layer_decay_rate=0.9, depths=[1, 1, 1, 1],
                                              dino_head=True))
    names = [g['group_name'] for g in groups]
    assert 'layer_1_no_decay_offset_lr_scale' in names
    assert 'layer_5_no_decay_0.1x' in names  # head-level sampling_offsets with dino_head
    assert 'layer_5_decay_0.1x' in names     # head-level reference_points weight


def test_internimage_depths_that_do_not_match_the_model_are_refused():
    with pytest.raises(ValueError, match=r"paramwise_cfg\.depths=\[2, 2, 2, 2\] does not match "
                       r"the model: under 'backbone\.' its names show 4 stages with "
                       r'\[2, 2, 3, 2\] blocks'):
        build_groups(InternImageUperNet(depths=(2, 2, 3, 2)), CUSTOM,
                     dict(layer_decay_rate=0.9, depths=[2, 2, 2, 2]))
    with pytest.raises(ValueError, match=r'depths=\[2, 2, 3\] does not match'):
        build_groups(InternImageUperNet(depths=(2, 2, 3, 2)), CUSTOM,
                     dict(layer_decay_rate=0.9, depths=[2, 2, 3]))


def test_internimage_keys_on_another_constructor_are_refused():
    with pytest.raises(ValueError, match=r"LearningRateDecayOptimizerConstructor: "
                       r"paramwise_cfg\.depths is read only by the recipe\(s\) \['swin', "
                       r"'internimage_seg', 'internimage_det'\].*constructor="
                       r"'CustomLayerDecayOptimizerConstructor'"):
        build_groups(InternImageUperNet(), LR_DECAY, dict(decay_rate=0.9, decay_type='stage_wise',
                                                          depths=[2, 2, 3, 2]))
    with pytest.raises(ValueError, match=r'offset_lr_scale must be >= 0, got -1'):
        build_groups(InternImageUperNet(), CUSTOM, dict(layer_decay_rate=0.9, offset_lr_scale=-1))


def beit_expected(model: nn.Module, num_layers: int, rate: float, head_embeddings: bool = True):
    """BEiT / ViT-Adapter (microsoft/unilm ``beit/semantic_segmentation/mmcv_custom/
    layer_decay_optimizer_constructor.py``, czczup/ViT-Adapter ``segmentation/mmcv_custom/...``):
    ``backbone.{cls_token, mask_token, pos_embed}`` and ``backbone.patch_embed*`` id 0; ViT-Adapter
    also ``decode_head.{mask_embed, cls_embed, level_embed, query_embed, query_feat}*``;
    ``backbone.blocks.i`` id ``i + 1``; else ``L + 1``. Weight decay 0 for 1-D and biases."""
    zero = ['backbone.patch_embed'] + ([f'decode_head.{n}' for n in (
        'mask_embed', 'cls_embed', 'level_embed', 'query_embed', 'query_feat')]
        if head_embeddings else [])
    expected = {}
    for name, param in model.named_parameters():
        if name in ('backbone.cls_token', 'backbone.mask_token', 'backbone.pos_embed') or \
                any(name.startswith(p) for p in zero):
            layer_id = 0
        elif name.startswith('backbone.blocks'):
            layer_id = int(name.split('.')[2]) + 1
        else:
            layer_id = num_layers + 1
        no_decay = param.ndim == 1 or name.endswith('.bias')
        expected[name] = (pytest.approx(LR * rate ** (num_layers + 1 - layer_id)),
                          0.0 if no_decay else WD)
    return expected


class Mask2FormerNames(nn.Module):
    """The learned embeddings of mmseg's Mask2FormerHead, by their real names."""

    def __init__(self, dim: int = 8) -> None:
        super().__init__()
        self.query_embed = nn.Embedding(5, dim)
        self.query_feat = nn.Embedding(5, dim)
        self.level_embed = nn.Embedding(3, dim)
        self.cls_embed = nn.Linear(dim, 4)
        self.mask_embed = nn.Sequential(nn.Linear(dim, dim), nn.Linear(dim, dim))
        self.transformer_decoder = nn.Linear(dim, dim)


def vit_adapter_mask2former() -> nn.Module:
    model = toy_vit_segmentor(depth=3)
    model.decode_head = Mask2FormerNames()
    return model


def test_layer_decay_optimizer_constructor_name_is_the_beit_vit_adapter_rule():
    model = vit_adapter_mask2former()
    got = lr_wd_by_name(build_groups(model, LAYER_DECAY, dict(num_layers=3, layer_decay_rate=0.9)))
    assert got == beit_expected(model, 3, 0.9)


def test_mask2former_embeddings_can_be_put_with_the_head():
    model = vit_adapter_mask2former()
    got = lr_wd_by_name(build_groups(model, LAYER_DECAY, dict(
        num_layers=3, layer_decay_rate=0.9, head_embeddings_at_layer_0=False)))
    assert got == beit_expected(model, 3, 0.9, head_embeddings=False)


def test_the_report_names_head_parameters_placed_at_layer_0(log_records):
    build_groups(vit_adapter_mask2former(), LAYER_DECAY, dict(num_layers=3, layer_decay_rate=0.9))
    info = '\n'.join(log_records.messages(20))
    assert 'recipe beit (microsoft/unilm' in info
    assert ('parameters outside the backbone are trained as embeddings (layer 0), as beit does: '
            'decode_head.query_embed.weight, decode_head.query_feat.weight') in info


def vitdet_expected(model: nn.Module, num_layers: int, rate: float):
    """mmdet ``projects/ViTDet/vitdet/layer_decay_optimizer_constructor.py``: backbone names with
    ``patch_embed`` or ``pos_embed`` id 0, ``.blocks.i.`` id ``i + 1``, else ``L + 1``; weight
    decay 0 only for ``backbone.blocks*`` names containing ``norm`` and names containing
    ``pos_embed`` (biases and other norms are decayed)."""
    expected = {}
    for name, param in model.named_parameters():
        if name.startswith('backbone'):
            if 'patch_embed' in name or 'pos_embed' in name:
                layer_id = 0
            elif '.blocks.' in name:
                layer_id = int(name.split('.')[2]) + 1
            else:
                layer_id = num_layers + 1
        else:
            layer_id = num_layers + 1
        no_decay = ((name.startswith('backbone.blocks') and 'norm' in name)
                    or 'pos_embed' in name)
        expected[name] = (pytest.approx(LR * rate ** (num_layers + 1 - layer_id)),
                          0.0 if no_decay else WD)
    return expected


def test_vitdet_reading_follows_detectron2_weight_decay():
    model = ViTDetMaskRCNN(depth=3)
    got = lr_wd_by_name(build_groups(model, LAYER_DECAY, dict(decay_rate=0.7,
                                                              decay_type='layer_wise',
                                                              num_layers=3)))
    assert got == vitdet_expected(model, 3, 0.7)
    assert got['backbone.blocks.0.attn.qkv.bias'][1] == WD   # biases are decayed
    assert got['neck.norm.weight'][1] == WD                  # norms outside the blocks too
    assert got['backbone.blocks.0.norm1.weight'][1] == 0.0


def test_layer_decay_optimizer_constructor_needs_exactly_one_rate():
    with pytest.raises(KeyError, match=r'needs exactly one of layer_decay_rate .* or decay_rate'):
        build_groups(ViTDetMaskRCNN(), LAYER_DECAY, dict(decay_rate=0.7, layer_decay_rate=0.9))
    with pytest.raises(KeyError, match=r"got neither"):
        build_groups(ViTDetMaskRCNN(), LAYER_DECAY, dict(num_layers=3))


def test_register_tokens_train_as_embeddings():
    """DINOv2 with registers (facebookresearch/dinov2 ``dinov2/train/param_groups.py``):
    ``register_tokens`` has layer id 0, like ``cls_token``."""
    model = toy_vit_segmentor(depth=24)
    model.backbone.register_tokens = nn.Parameter(torch.zeros(1, 4, 8))
    got = lr_wd_by_name(build_groups(model, CUSTOM, dict(layer_decay_rate=0.9)))
    assert got['backbone.register_tokens'] == got['backbone.cls_token']
    assert got['backbone.register_tokens'][0] == pytest.approx(LR * 0.9 ** 25)


def vit_wise_expected(model: nn.Module, num_layers: int, rate: float, head_rate: float,
                      lm_head_rate: float):
    """NVlabs/OmniDrive ``decay_type='vit_wise'`` (``get_vit_lr_decay_rate``): in
    ``img_backbone``, names containing ``.pos_embed`` / ``.patch_embed`` id 0, ``.blocks.i.`` (not
    ``.residual.``) ``i + 1``, else ``L + 1``, scale ``rate ** (L + 1 - id)``; outside it the
    scale is ``head_decay_rate`` (``lm_head*``: ``lm_head_decay_rate``). Weight decay 0 for 1-D
    and biases."""
    expected = {}
    for name, param in model.named_parameters():
        if name.startswith('img_backbone'):
            if '.pos_embed' in name or '.patch_embed' in name:
                scale = rate ** (num_layers + 1)
            elif '.blocks.' in name:
                scale = rate ** (num_layers - int(name.split('.')[2]))
            else:
                scale = 1.0
        else:
            scale = lm_head_rate if name.startswith('lm_head') else head_rate
        no_decay = param.ndim == 1 or name.endswith('.bias')
        expected[name] = (pytest.approx(LR * scale), 0.0 if no_decay else WD)
    return expected


def test_img_backbone_vit_wise_with_head_decay_rate():
    """With ``split_head_group=True`` every parameter gets the multiplier its keys give it (by
    default OmniDrive's grouping by layer id applies: see test_published_families)."""
    model = StreamPETRLike(depth=3)
    got = lr_wd_by_name(build_groups(model, LR_DECAY, dict(
        decay_rate=0.9, head_decay_rate=4.0, lm_head_decay_rate=0.1, decay_type='vit_wise',
        num_layers=3, split_head_group=True)))
    assert got == vit_wise_expected(model, 3, 0.9, 4.0, 0.1)


@pytest.mark.parametrize('prefix_cfg', [{}, dict(backbone_prefix='img_backbone')])
def test_img_backbone_layer_wise_is_found_or_named(prefix_cfg):
    model = StreamPETRLike(depth=3)
    got = lr_wd_by_name(build_groups(model, LR_DECAY, dict(decay_rate=0.5, **prefix_cfg)))
    assert got['img_backbone.blocks.2.attn.weight'][0] == pytest.approx(LR * 0.5)
    assert got['img_backbone.pos_embed'][0] == pytest.approx(LR * 0.5 ** 4)
    assert got['pts_bbox_head.weight'][0] == pytest.approx(LR)


def test_a_bare_backbone_without_prefix_works():
    got = lr_wd_by_name(build_groups(TimmViT(depth=3), LR_DECAY, dict(decay_rate=0.5)))
    assert got['blocks.0.attn.weight'][0] == pytest.approx(LR * 0.5 ** 3)
    assert got['cls_token'][0] == pytest.approx(LR * 0.5 ** 4)
    assert got['head.weight'][0] == pytest.approx(LR)


def test_a_backbone_prefix_that_holds_no_known_layout_is_a_clear_error():
    with pytest.raises(ValueError, match=r"no parameter under the prefix 'neck\.' "
                       r'\(paramwise_cfg\.backbone_prefix\) has the layout|'
                       r"cannot recognise the backbone family.*under the prefix 'neck\.'"):
        build_groups(StreamPETRLike(), LR_DECAY, dict(decay_rate=0.9, backbone_prefix='neck'))


def test_vit_wise_keys_need_vit_wise():
    with pytest.raises(ValueError, match=r"paramwise_cfg\.head_decay_rate is read only by the "
                       r"recipe\(s\) \['vit_wise'\]"):
        build_groups(StreamPETRLike(), LR_DECAY, dict(decay_rate=0.9, head_decay_rate=4.0))


def test_a_transformer_decoder_elsewhere_is_not_taken_for_a_backbone():
    """A ``layers.N`` stack outside a backbone, with no embeddings beside it, is no ViT."""
    model = nn.Module()
    model.bbox_head = nn.Module()
    model.bbox_head.layers = nn.ModuleList(nn.Linear(4, 4) for _ in range(2))
    with pytest.raises(ValueError, match='cannot recognise the backbone family'):
        build_groups(model, LR_DECAY, dict(decay_rate=0.9))


SWIN_DEPTHS = (2, 2, 6, 2)


def swin_expected_ids(model: nn.Module, depths, prefix: str = 'backbone.'):
    """mmpretrain ``SwinTransformer.get_layer_depth``: ``patch_embed`` 0; ``stages.S.blocks.B``
    ``sum(depths[:S]) + B + 1``; ``stages.S.downsample.{reduction, norm}`` ``sum(depths[:S + 1])``;
    else (final norms, heads) ``sum(depths) + 1``."""
    head = sum(depths) + 1
    ids = {}
    for name, _ in model.named_parameters():
        relative = name[len(prefix):] if name.startswith(prefix) else None
        if relative is None:
            ids[name] = head
        elif relative.startswith('patch_embed'):
            ids[name] = 0
        elif relative.startswith('stages'):
            parts = relative.split('.')
            stage = int(parts[1])
            ids[name] = (sum(depths[:stage + 1]) if parts[3] in ('reduction', 'norm')
                         else sum(depths[:stage]) + int(parts[3]) + 1)
        else:
            ids[name] = head
    return ids


def swin_with_head(framework: str) -> nn.Module:
    if framework == 'mmpretrain':
        from mmpretrain.models import SwinTransformer
        backbone = SwinTransformer(arch=dict(embed_dims=8, depths=list(SWIN_DEPTHS),
                                             num_heads=[1, 1, 1, 1]), img_size=32, window_size=2)
    elif framework == 'mmseg':
        from mmseg.models.backbones import SwinTransformer
        backbone = SwinTransformer(embed_dims=8, depths=SWIN_DEPTHS, num_heads=(1, 1, 1, 1),
                                   window_size=2, pretrain_img_size=32)
    else:
        from mmdet.models.backbones import SwinTransformer
        backbone = SwinTransformer(embed_dims=8, depths=SWIN_DEPTHS, num_heads=(1, 1, 1, 1),
                                   window_size=2, pretrain_img_size=32)
    model = nn.Module()
    model.backbone = backbone
    model.decode_head = nn.Linear(8, 3)
    return model


@pytest.mark.parametrize('framework', ['mmpretrain', 'mmseg', 'mmdet'])
@pytest.mark.parametrize('constructor, cfg', [
    (LR_DECAY, dict(decay_rate=0.9)), (CUSTOM, dict(layer_decay_rate=0.9))])
def test_swin_names_get_mmpretrain_get_layer_depth_ids(framework, constructor, cfg):
    model = swin_with_head(framework)
    groups = build_groups(model, constructor, cfg)
    got = {name: group['layer_id'] for group in groups for name in group['param_names']}
    assert got == swin_expected_ids(model, SWIN_DEPTHS)
    if framework == 'mmpretrain':  # the backbone's own method agrees, parameter by parameter
        assert got == {name: model.backbone.get_layer_depth(name, 'backbone.')[0]
                       for name, _ in model.named_parameters()}
    num_layers = sum(SWIN_DEPTHS)
    for group in groups:
        assert group['lr'] == pytest.approx(LR * 0.9 ** (num_layers + 1 - group['layer_id']))


def test_real_mask2former_head_embeddings_train_at_layer_0():
    """mmseg's installed Mask2FormerHead: its query_embed, query_feat, level_embed, cls_embed and
    mask_embed get the embeddings' lr (ViT-Adapter / InternImage / EVA), the rest the head lr."""
    from mmengine.config import ConfigDict
    from mmseg.models.decode_heads import Mask2FormerHead
    width = 16
    layer = dict(self_attn_cfg=dict(embed_dims=width, num_heads=2, batch_first=True),
                 cross_attn_cfg=dict(embed_dims=width, num_heads=2, batch_first=True),
                 ffn_cfg=dict(embed_dims=width, feedforward_channels=32))
    head = Mask2FormerHead(**ConfigDict(
        in_channels=[width] * 4, strides=[4, 8, 16, 32], feat_channels=width,
        out_channels=width, num_classes=3, num_queries=5, num_transformer_feat_level=3,
        pixel_decoder=dict(
            type='mmdet.MSDeformAttnPixelDecoder', num_outs=3,
            norm_cfg=dict(type='GN', num_groups=4), act_cfg=dict(type='ReLU'),
            encoder=dict(num_layers=1, layer_cfg=dict(
                self_attn_cfg=dict(embed_dims=width, num_heads=2, num_levels=3, num_points=2,
                                   batch_first=True),
                ffn_cfg=dict(embed_dims=width, feedforward_channels=32))),
            positional_encoding=dict(num_feats=width // 2, normalize=True)),
        enforce_decoder_input_project=False,
        positional_encoding=dict(num_feats=width // 2, normalize=True),
        transformer_decoder=dict(return_intermediate=True, num_layers=1, layer_cfg=layer),
        loss_cls=dict(type='mmdet.CrossEntropyLoss', use_sigmoid=False, loss_weight=2.0,
                      reduction='mean', class_weight=[1.0] * 3 + [0.1]),
        loss_mask=dict(type='mmdet.CrossEntropyLoss', use_sigmoid=True, reduction='mean',
                       loss_weight=5.0),
        loss_dice=dict(type='mmdet.DiceLoss', use_sigmoid=True, activate=True, reduction='mean',
                       naive_dice=True, eps=1.0, loss_weight=5.0),
        train_cfg=dict(num_points=16, oversample_ratio=3.0, importance_sample_ratio=0.75,
                       assigner=dict(type='mmdet.HungarianAssigner', match_costs=[
                           dict(type='mmdet.ClassificationCost', weight=2.0)]),
                       sampler=dict(type='mmdet.MaskPseudoSampler'))))
    model = toy_vit_segmentor(depth=24)
    model.decode_head = head
    got = lr_wd_by_name(build_groups(model, LAYER_DECAY, dict(num_layers=24,
                                                              layer_decay_rate=0.9)))
    embedding = (LR * 0.9 ** 25)
    learned = [name for name in got if name.split('.')[1] in (
        'query_embed', 'query_feat', 'level_embed', 'cls_embed', 'mask_embed')]
    assert {name.split('.')[1] for name in learned} == {
        'query_embed', 'query_feat', 'level_embed', 'cls_embed', 'mask_embed'}
    for name, (lr, _) in got.items():
        if name.startswith('decode_head.'):
            assert lr == pytest.approx(embedding if name in learned else LR), name
    assert got == beit_expected(model, 24, 0.9)


class MMDet3DStyle(nn.Module):
    """An mmpretrain ViT held as ``img_backbone``, with a head."""

    def __init__(self) -> None:
        super().__init__()
        from mmpretrain.models import VisionTransformer
        self.img_backbone = VisionTransformer(arch=dict(embed_dims=8, num_layers=3, num_heads=2,
                                                        feedforward_channels=16),
                                              img_size=16, patch_size=4)
        self.pts_bbox_head = nn.Linear(8, 3)


def test_layer_ids_from_model_find_an_img_backbone():
    model = MMDet3DStyle()
    groups = build_groups(model, LR_DECAY, dict(decay_rate=0.5, layer_ids_from_model=True))
    got = {name: group['layer_id'] for group in groups for name in group['param_names']}
    assert got == {name: model.img_backbone.get_layer_depth(name, 'img_backbone.')[0]
                   for name, _ in model.named_parameters()}
    assert got['img_backbone.layers.2.ffn.layers.1.weight'] == 3


def test_layer_ids_from_model_that_give_only_the_head_id_are_an_error():
    """A backbone asked about names it does not recognise answers the head id for all of them:
    one silent group at the full lr. That is an error naming the prefix."""
    model = MMDet3DStyle()
    with pytest.raises(ValueError, match=r"backbone_prefix='img_backbone\.module' names no "
                       r"submodule of MMDet3DStyle \(its top-level modules: \['img_backbone', "):
        build_groups(model, LR_DECAY, dict(decay_rate=0.5, layer_ids_from_model=True,
                                           backbone_prefix='img_backbone.module'))
    model.get_layer_depth = model.img_backbone.get_layer_depth  # asked with prefix ''
    with pytest.raises(ValueError, match=r"get_layer_depth gave every one of the \d+ parameters "
                       r"of the model the head id 4, so no layer would be decayed"):
        build_groups(model, LR_DECAY, dict(decay_rate=0.5, layer_ids_from_model=True,
                                           backbone_prefix=''))


def test_layer_ids_from_model_with_a_frozen_backbone_is_linear_probing_not_an_error():
    model = MMDet3DStyle()
    model.img_backbone.requires_grad_(False)
    groups = build_groups(model, LR_DECAY, dict(decay_rate=0.5, layer_ids_from_model=True))
    assert [g['param_names'] for g in groups] == [['pts_bbox_head.weight'], ['pts_bbox_head.bias']]


def test_a_recipe_can_be_named_explicitly():
    """recipe='internimage_det' on a segmentor: the detection reading (offsets scaled in the
    head too), where the model alone would choose the segmentation one."""
    model = InternImageUperNet(depths=(2, 2, 3, 2))
    model.decode_head.sampling_offsets = nn.Linear(8, 8)
    got = lr_wd_by_name(build_groups(model, CUSTOM, dict(
        layer_decay_rate=0.9, depths=[2, 2, 3, 2], offset_lr_scale=0.5, recipe='internimage_det')))
    assert got['decode_head.sampling_offsets.weight'] == (pytest.approx(LR * 0.5), 0.0)
    vit = lr_wd_by_name(build_groups(toy_vit_segmentor(depth=3), LR_DECAY,
                                     dict(decay_rate=0.7, recipe='vitdet')))
    assert vit['backbone.blocks.0.attn.bias'][1] == WD  # ViTDet decays biases


def test_the_report_names_the_recipe_its_source_and_the_prefix(log_records):
    build_groups(StreamPETRLike(depth=2), LR_DECAY, dict(decay_rate=0.9))
    (report,) = log_records.messages(20)
    assert ("recipe vit (mmseg/mmdet LearningRateDecayOptimizerConstructor ('layer_wise_vit')"
            in report)
    assert "backbone prefix 'img_backbone.'" in report


def test_no_name_matches_two_block_patterns_of_a_recipe():
    """The mechanism searches each block pattern over all names at once, which is exact only
    because a recipe's block patterns never overlap."""
    import re

    from mmcv_custom import RECIPES
    from mmcv_custom.recipes._rule import compile_recipe
    models = [InternImageUperNet(), InternImageDINO(), ViTDetMaskRCNN(), StreamPETRLike(),
              toy_vit_segmentor(), swin_with_head('mmseg')]
    for recipe in RECIPES.values():
        patterns = [re.compile(block.regex) for block in recipe.blocks]
        for model in models:
            for name, _ in model.named_parameters():
                for prefix in ('backbone.', 'img_backbone.'):
                    relative = compile_recipe(recipe, prefix).relative(name)
                    if relative is not None:
                        hits = [p.pattern for p in patterns if p.match(relative)]
                        assert len(hits) <= 1, (recipe.name, name, hits)


# ----- what the field's layouts must not be read as (found by trying to break the recipes) -----

def test_stage_numbered_blocks_are_never_read_as_a_flat_vit():
    """InternImage / Swin-v1 names under a ViT reading would give each stage one id."""
    with pytest.raises(ValueError, match=r"recipe 'vit' cannot read 'backbone\.levels\.0\.blocks"
                       r"\.0\..*blocks numbered per stage.*CustomLayerDecayOptimizerConstructor"):
        build_groups(InternImageUperNet(), LR_DECAY, dict(decay_rate=0.9))
    swin_v1 = nn.Module()
    swin_v1.backbone = nn.Module()
    swin_v1.backbone.patch_embed = nn.Linear(4, 4)
    swin_v1.backbone.layers = nn.ModuleList(nn.Module() for _ in range(2))
    for stage in swin_v1.backbone.layers:
        stage.blocks = nn.ModuleList(nn.Linear(4, 4) for _ in range(2))
    with pytest.raises(ValueError, match=r"recipe 'beit' cannot read 'backbone\.layers\.0\.blocks"):
        build_groups(swin_v1, LAYER_DECAY, dict(layer_decay_rate=0.9))
    # InternImage's rule reads them (Swin-v1 as in its get_num_layer_for_swin) when its keys say so
    ids = {name: g['layer_id'] for g in build_groups(swin_v1, CUSTOM, dict(layer_decay_rate=0.9,
                                                                           depths=[2, 2]))
           for name in g['param_names']}
    assert ids['backbone.layers.1.blocks.1.weight'] == 1 + 1 + 2


def test_chunked_blocks_that_restart_their_numbering_are_refused_with_what_to_do():
    """``blocks.C.I`` is read as DINOv2's chunks (``I`` the global index, test_published_families);
    chunks whose indices restart are ambiguous and refused, in every constructor."""
    model = toy_vit_segmentor(depth=2)
    model.backbone.blocks = nn.ModuleList([nn.ModuleList([nn.Linear(8, 8), nn.Linear(8, 8)])
                                           for _ in range(2)])
    for constructor, cfg in ((CUSTOM, dict(layer_decay_rate=0.9)), (LR_DECAY, dict(decay_rate=0.9)),
                             (LAYER_DECAY, dict(layer_decay_rate=0.9))):
        with pytest.raises(ValueError, match=r"'backbone\.blocks\.0\.0\.weight' and "
                           r"'backbone\.blocks\.1\.0\.weight' do not have that layout.*"
                           r'layer_ids_from_model=True'):
            build_groups(model, constructor, cfg)


def test_every_cbnet_copy_shares_the_plain_names_ids():
    model = toy_vit_segmentor(depth=2)
    model.backbone = nn.Module()
    model.backbone.cb_modules = nn.ModuleList(ViTBackbone(depth=2) for _ in range(3))
    got = {name: g['layer_id'] for g in build_groups(model, CUSTOM, dict(layer_decay_rate=0.9))
           for name in g['param_names']}
    for copy in range(3):
        assert got[f'backbone.cb_modules.{copy}.patch_embed.proj.weight'] == 0
        assert got[f'backbone.cb_modules.{copy}.blocks.1.attn.weight'] == 2


def test_two_backbones_need_backbone_prefix():
    model = toy_vit_segmentor(depth=2)
    model.img_backbone = ViTBackbone(depth=3)
    with pytest.raises(ValueError, match=r"holds a vit layout under each of \['backbone\.', "
                       r"'img_backbone\.'\].*Set paramwise_cfg\.backbone_prefix"):
        build_groups(model, LR_DECAY, dict(decay_rate=0.9))
    got = lr_wd_by_name(build_groups(model, LR_DECAY, dict(decay_rate=0.5,
                                                           backbone_prefix='img_backbone')))
    assert got['img_backbone.blocks.2.attn.weight'][0] == pytest.approx(LR * 0.5)
    assert got['backbone.blocks.0.attn.weight'][0] == pytest.approx(LR)


def test_head_multipliers_need_a_backbone_prefix_to_have_an_outside():
    model = nn.Module()
    model.encoder = StreamPETRLike(depth=2).img_backbone
    model.lm_head = nn.Linear(8, 3)
    with pytest.raises(ValueError, match=r"\['head_decay_rate', 'lm_head_decay_rate'\] multiply "
                       r"the lr of what lies outside the backbone.*backbone prefix ''"):
        build_groups(model, LR_DECAY, dict(decay_rate=0.9, decay_type='vit_wise',
                                           head_decay_rate=0.5, lm_head_decay_rate=0.1))
    got = lr_wd_by_name(build_groups(model, LR_DECAY, dict(
        decay_rate=0.9, decay_type='vit_wise', head_decay_rate=0.5, lm_head_decay_rate=0.1,
        backbone_prefix='encoder')))
    assert got['lm_head.weight'][0] == pytest.approx(LR * 0.1)


def test_timm_reg_token_trains_as_an_embedding():
    model = toy_vit_segmentor(depth=2)
    model.backbone.reg_token = nn.Parameter(torch.zeros(1, 4, 8))
    got = lr_wd_by_name(build_groups(model, LR_DECAY, dict(decay_rate=0.9)))
    assert got['backbone.reg_token'] == got['backbone.cls_token']


@pytest.mark.parametrize('answer, error, message', [
    ((-3, 5), ValueError, r"returned \(-3, 5\): layer ids go from 0 to max_layer_id - 1"),
    ((1.5, 5), TypeError, r'must return \(layer_id, max_layer_id\), two ints, got \(1\.5, 5\)'),
    ((True, 5), TypeError, r'two ints, got \(True, 5\)'),
    (None, TypeError, r'two ints, got None'),
    ((0, 1), ValueError, r'max_layer_id is at least 2'),
])
def test_get_layer_depth_answers_are_checked(answer, error, message):
    model = MMDet3DStyle()
    model.img_backbone.get_layer_depth = lambda name, prefix='': answer
    with pytest.raises(error, match=message):
        build_groups(model, LR_DECAY, dict(decay_rate=0.5, layer_ids_from_model=True))


def test_get_layer_depth_with_two_depths_is_an_error():
    model = MMDet3DStyle()
    real = model.img_backbone.get_layer_depth
    model.img_backbone.get_layer_depth = lambda name, prefix='': (
        (real(name, prefix)[0], 50) if 'layers.1' in name else real(name, prefix))
    with pytest.raises(ValueError, match=r'gives max_layer_id 5 for .* but 50 for .*one depth'):
        build_groups(model, LR_DECAY, dict(decay_rate=0.5, layer_ids_from_model=True))


def test_a_named_recipe_that_does_not_fit_says_so():
    with pytest.raises(ValueError, match=r"paramwise_cfg\.recipe='internimage_det': cannot "
                       r'recognise the backbone family'):
        build_groups(toy_vit_segmentor(), CUSTOM, dict(layer_decay_rate=0.9,
                                                       recipe='internimage_det'))
    with pytest.raises(ValueError, match=r"paramwise_cfg\.recipe='swin': cannot recognise"):
        build_groups(toy_vit_segmentor(), LR_DECAY, dict(decay_rate=0.9, recipe='swin'))


def test_keys_that_would_do_nothing_are_refused():
    with pytest.raises(ValueError, match=r"sets both recipe='vit' and decay_type='stage_wise', "
                       r'which both choose the rule'):
        build_groups(toy_vit_segmentor(), LR_DECAY, dict(decay_rate=0.9, decay_type='stage_wise',
                                                         recipe='vit'))
    with pytest.raises(ValueError, match=r"head_embeddings_at_layer_0 is set, but recipe "
                       r"'vitdet' places no decode-head embeddings"):
        build_groups(ViTDetMaskRCNN(), LAYER_DECAY, dict(decay_rate=0.7, decay_type='layer_wise',
                                                         head_embeddings_at_layer_0=True))
    for key in ('head_decay_rate', 'offset_lr_scale'):
        with pytest.raises(ValueError, match=rf'paramwise_cfg\.{key} is read only by'):
            build_groups(toy_vit_segmentor(), LR_DECAY, {'decay_rate': 0.9, key: 0})


def test_depths_without_blocks_to_check_them_against_are_refused():
    model = nn.Module()
    model.backbone = nn.Module()
    model.backbone.patch_embed = nn.Linear(4, 4)
    model.backbone.levels = nn.ModuleList(nn.Module() for _ in range(2))
    for level in model.backbone.levels:
        level.norm = nn.LayerNorm(4)
    with pytest.raises(ValueError, match=r'depths=\[5, 5\] cannot be checked: no parameter under '
                       r"'backbone\.' lies in a block"):
        build_groups(model, CUSTOM, dict(layer_decay_rate=0.9, depths=[5, 5], num_layers=10))


def test_internimage_level_end_ids_follow_its_first_three_levels():
    """InternImage spells out levels 0-2: a level's downsample / norm gets 1 + sum(depths[:S+1])
    for S <= 2, and every later level level 2's value; a single level gets 1 + depths[0]."""
    got = {name: g['layer_id'] for g in build_groups(
        InternImageUperNet(depths=(3,)), CUSTOM, dict(layer_decay_rate=0.9, depths=[3]))
        for name in g['param_names']}
    assert got['backbone.levels.0.norm.1.weight'] == 4


def test_a_recipe_multiplier_that_matches_nothing_is_noted(log_records):
    """InternImage's offset_lr_scale multiplies sampling_offsets / reference_points (in the
    backbone, for segmentation); DCNv3's own 'offset' layers are not matched, as in the source,
    so a segmentor without them gets a note instead of silence."""
    model = InternImageUperNet(depths=(2, 2, 3, 2))
    got = lr_wd_by_name(build_groups(model, CUSTOM, dict(layer_decay_rate=0.9,
                                                         depths=[2, 2, 3, 2], offset_lr_scale=0.5)))
    assert got == internimage_expected(model, (2, 2, 3, 2), 0.9, segmentation=True,
                                       offset_lr_scale=0.5)
    (report,) = log_records.messages(20)
    assert ("note: paramwise_cfg.offset_lr_scale=0.5 matched no parameter (it multiplies the lr of "
            "names matching 'sampling_offsets or reference_points' in the backbone, as "
            'internimage_seg does)') in report
    assert 'layer_id) [* 0.1x | offset_lr_scale] [* lr_mult]' in report
    log_records.records.clear()
    build_groups(InternImageDINO(depths=(2, 2, 3, 2)), CUSTOM,
                 dict(layer_decay_rate=0.9, depths=[2, 2, 3, 2], offset_lr_scale=0.5))
    assert 'matched no parameter' not in log_records.messages(20)[0]


# ----- the joined-names search stays inside one name (issue 17, fix 4) -----

@pytest.mark.parametrize('regex, construct', [
    (r'layers\.(?P<block>\d+)[^_]', r'\[\^_\]'),
    (r'layers\.(?P<block>\d+)\s', r'\\s'),
    (r'(?s)layers\.(?P<block>\d+).', r'\(\?s\)'),
])
def test_a_recipe_pattern_that_could_match_across_names_is_refused(regex, construct):
    """The mechanism searches the newline-joined names at once, which is exact only for patterns
    that never match a newline: a negated class such as [^_] (except [^.]), \\s, \\W, \\D or
    DOTALL would read one name into the next."""
    from mmcv_custom import BlockPattern, LayerDecayRecipe
    with pytest.raises(ValueError, match=rf"recipe 'broken': pattern .* uses {construct}, which "
                       r'can match across parameter names'):
        LayerDecayRecipe(name='broken', family='vit', source='a test', layout='layers.N',
                         embeddings=(), blocks=(BlockPattern(regex, 'plain'),))


def test_a_token_embedding_is_found_in_any_line_of_the_names():
    """``$`` ends a name, not the joined text: a bare ViT whose only embeddings are tokens (no
    patch_embed) is recognised wherever its tokens are listed."""
    model = nn.Module()
    model.cls_token = nn.Parameter(torch.zeros(1, 1, 8))
    model.blocks = nn.ModuleList(nn.Linear(8, 8) for _ in range(2))
    model.head = nn.Linear(8, 3)
    ids = {name: g['layer_id'] for g in build_groups(model, LR_DECAY, dict(decay_rate=0.9))
           for name in g['param_names']}
    assert ids == {'cls_token': 0, 'blocks.0.weight': 1, 'blocks.0.bias': 1,
                   'blocks.1.weight': 2, 'blocks.1.bias': 2, 'head.weight': 3, 'head.bias': 3}


def test_every_wrapper_segment_contains_mod():
    """``collect_params`` skips the canonical-path work for module paths without 'mod'."""
    from mmcv_custom.layer_decay._names import WRAPPED_CHILD, WRAPPER_SEGMENTS
    assert all('mod' in segment for segment in WRAPPER_SEGMENTS | {WRAPPED_CHILD})


def test_a_recipe_key_narrows_the_candidates_and_the_message_says_so():
    """decay_type='layer_wise' with depths tries Swin only (the recipe that reads depths); on a
    ConvNeXt the error names the key that narrowed the choice."""
    from test_peer_parity import convnext_model
    with pytest.raises(ValueError, match=r"decay_type='layer_wise': with \['depths'\], which of "
                       r"\['convnext_layer_wise', 'swin', 'vit'\] only \['swin'\] read: cannot "
                       r'recognise the backbone family.* look like the convnext family'):
        build_groups(convnext_model('T'), LR_DECAY, dict(decay_rate=0.9, depths=[3, 3, 9, 3]))
