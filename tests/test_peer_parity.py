"""Drop-in exactness: with the same config, our LearningRateDecayOptimizerConstructor builds the
same groups (names, members, lr, lr_scale, weight decay, order) as mmdet 3.3.0's and mmseg
1.2.2's classes of the same name, and the same learning rates as mmpretrain 1.2.0's
LearningRateDecayOptimWrapperConstructor where the model supplies get_layer_depth."""
import pytest
from mmdet.engine.optimizers import \
    LearningRateDecayOptimizerConstructor as MMDetLearningRateDecay
from mmpretrain.engine.optimizers import LearningRateDecayOptimWrapperConstructor
from mmpretrain.models import ConvNeXt, ImageClassifier
from mmpretrain.models import VisionTransformer as PretrainViT
from mmseg.engine.optimizers import \
    LearningRateDecayOptimizerConstructor as MMSegLearningRateDecay
from mmseg.models.backbones import MAE, BEiT
from mmseg.models.backbones import VisionTransformer as SegViT
from torch import nn

from helpers import build_groups, group_layout, optim_cfg

OURS = 'LearningRateDecayOptimizerConstructor'

#: ConvNeXt T/S/B/L/XL stage depths at a tiny width: the names, and so the groups, are the real
#: ones.
CONVNEXT_DEPTHS = {'T': [3, 3, 9, 3], 'S': [3, 3, 27, 3], 'B': [3, 3, 27, 3],
                   'L': [3, 3, 27, 3], 'XL': [3, 3, 27, 3]}


class Detector(nn.Module):
    """backbone + neck + head, the way mmdet / mmseg name a model's parameters."""

    def __init__(self, backbone: nn.Module, width: int) -> None:
        super().__init__()
        self.backbone = backbone
        self.neck = nn.Conv2d(width, width, 1)
        self.decode_head = nn.Linear(width, 3)


def convnext_model(size: str) -> Detector:
    width = 8
    backbone = ConvNeXt(arch=dict(depths=CONVNEXT_DEPTHS[size], channels=[width] * 4),
                        out_indices=(0, 1, 2, 3), gap_before_final_norm=False)
    return Detector(backbone, width)


def peer_groups(peer_cls, model: nn.Module, paramwise_cfg: dict):
    cfg = optim_cfg(OURS, None)
    cfg.pop('constructor')
    cfg.pop('paramwise_cfg')
    params = []
    peer_cls(cfg, dict(paramwise_cfg)).add_params(params, model)
    return params


def our_groups(model: nn.Module, paramwise_cfg: dict):
    return build_groups(model, OURS, dict(paramwise_cfg))


@pytest.mark.parametrize('size', sorted(CONVNEXT_DEPTHS))
@pytest.mark.parametrize('decay_type,num_layers', [('layer_wise', 6), ('layer_wise', 12),
                                                   ('stage_wise', 6), ('stage_wise', 12)])
@pytest.mark.parametrize('peer', [MMDetLearningRateDecay, MMSegLearningRateDecay],
                         ids=['mmdet', 'mmseg'])
def test_convnext_groups_equal_the_peers(size, decay_type, num_layers, peer):
    if decay_type == 'layer_wise' and num_layers == 6 and CONVNEXT_DEPTHS[size][2] > 9:
        return  # refused by us, see test_layer_wise_6_on_27_blocks_is_refused_where_peers_exceed
    model = convnext_model(size)
    cfg = dict(decay_rate=0.9, decay_type=decay_type, num_layers=num_layers)
    assert group_layout(our_groups(model, cfg)) == group_layout(peer_groups(peer, model, cfg))


@pytest.mark.parametrize('peer', [MMDetLearningRateDecay, MMSegLearningRateDecay],
                         ids=['mmdet', 'mmseg'])
def test_layer_wise_6_on_27_blocks_is_refused_where_peers_exceed_the_base_lr(peer):
    model = convnext_model('B')
    cfg = dict(decay_rate=0.9, decay_type='layer_wise', num_layers=6)
    assert max(g['lr_scale'] for g in peer_groups(peer, model, cfg)) > 1
    with pytest.raises(ValueError, match=r"num_layers=6 is too small for this model \(the model "
                       r"has 12 layers\): parameter 'backbone.stages.2.15.gamma' gets layer id 8 "
                       r"> num_layers \+ 1 = 7.*at least 10"):
        our_groups(model, cfg)


def test_stage_wise_12_keeps_stage_3_at_rate_pow_9_and_the_head_at_one():
    groups = our_groups(convnext_model('B'), dict(decay_rate=0.9, decay_type='stage_wise',
                                                   num_layers=12))
    by_name = {name: g['lr_scale'] for g in groups for name in g['param_names']}
    assert by_name['backbone.stages.3.0.depthwise_conv.weight'] == 0.9 ** 9
    assert by_name['decode_head.weight'] == 1.0


@pytest.mark.parametrize('size,expected', [('T', 6), ('B', 12)])
def test_convnext_num_layers_is_inferred_as_published_configs_use(size, expected):
    model = convnext_model(size)
    inferred = our_groups(model, dict(decay_rate=0.9))
    given = our_groups(model, dict(decay_rate=0.9, num_layers=expected))
    assert group_layout(inferred) == group_layout(given)


def tiny_vit_kwargs():
    return dict(img_size=(32, 32), patch_size=8, embed_dims=16, num_layers=3, num_heads=2,
                mlp_ratio=2)


@pytest.mark.parametrize('backbone_cls', [BEiT, MAE], ids=['BEiT', 'MAE'])
@pytest.mark.parametrize('decay_type', ['layer_wise', 'layer_wise_vit'])
def test_beit_and_mae_groups_equal_mmseg(backbone_cls, decay_type):
    model = Detector(backbone_cls(**tiny_vit_kwargs()), 16)
    cfg = dict(decay_rate=0.9, decay_type=decay_type, num_layers=3)
    expected = group_layout(peer_groups(MMSegLearningRateDecay, model, cfg))
    assert group_layout(our_groups(model, cfg)) == expected


@pytest.mark.parametrize('peer', [MMDetLearningRateDecay, MMSegLearningRateDecay],
                         ids=['mmdet', 'mmseg'])
def test_peers_refuse_mmseg_vit_where_we_apply_the_vit_rule(peer):
    model = Detector(SegViT(**tiny_vit_kwargs(), final_norm=True), 16)
    cfg = dict(decay_rate=0.9, num_layers=3)
    with pytest.raises(NotImplementedError):
        peer_groups(peer, model, cfg)
    # the same rule mmseg applies to BEiT / MAE, on mmseg's own ViT
    beit_rule = BEiT(**tiny_vit_kwargs())
    beit_groups = our_groups(Detector(beit_rule, 16), cfg)
    vit_groups = our_groups(model, cfg)
    scale_by_layer = lambda groups: {g['layer_id']: g['lr_scale'] for g in groups}  # noqa: E731
    assert scale_by_layer(vit_groups) == scale_by_layer(beit_groups)
    by_name = {name: g['layer_id'] for g in vit_groups for name in g['param_names']}
    assert by_name['backbone.cls_token'] == 0
    assert by_name['backbone.patch_embed.projection.weight'] == 0
    assert by_name['backbone.layers.2.ffn.layers.1.weight'] == 3
    assert by_name['backbone.ln1.weight'] == 4


def pretrain_classifier(backbone: dict) -> ImageClassifier:
    return ImageClassifier(backbone=backbone, neck=dict(type='GlobalAveragePooling'),
                           head=dict(type='LinearClsHead', num_classes=3, in_channels=16))


@pytest.mark.parametrize('backbone', [
    dict(type='VisionTransformer', arch=dict(embed_dims=16, num_layers=3, num_heads=2,
                                             feedforward_channels=32),
         img_size=32, patch_size=8, out_type='avg_featmap', final_norm=False),
    dict(type='ConvNeXt', arch=dict(depths=[3, 3, 27, 3], channels=[16] * 4)),
], ids=['vit', 'convnext'])
def test_layer_ids_from_model_give_mmpretrain_learning_rates(backbone):
    model = pretrain_classifier(backbone)
    cfg = optim_cfg(OURS, None)
    cfg.pop('constructor')
    cfg.pop('paramwise_cfg')
    theirs = []
    LearningRateDecayOptimWrapperConstructor(cfg, dict(layer_decay_rate=0.8)).add_params(
        theirs, model)
    expected = {group['param_name']: group['lr'] for group in theirs}
    ours = build_groups(model, OURS, dict(decay_rate=0.8, layer_ids_from_model=True))
    assert {name: g['lr'] for g in ours for name in g['param_names']} == expected
    # mmpretrain builds one group per tensor; ours merges identical ones
    assert len(ours) < len(theirs)


def test_mmpretrain_vit_inside_a_segmentor_uses_the_vit_rule():
    model = Detector(PretrainViT(arch=dict(embed_dims=16, num_layers=3, num_heads=2,
                                           feedforward_channels=32),
                                 img_size=32, patch_size=8, out_type='featmap'), 16)
    groups = our_groups(model, dict(decay_rate=0.9))
    by_name = {name: g['layer_id'] for g in groups for name in g['param_names']}
    assert by_name['backbone.cls_token'] == by_name['backbone.pos_embed'] == 0
    assert by_name['backbone.layers.0.attn.qkv.weight'] == 1
    assert by_name['backbone.layers.2.ffn.layers.1.weight'] == 3
    assert by_name['decode_head.weight'] == 4
    via_model = our_groups(model, dict(decay_rate=0.9, layer_ids_from_model=True))
    assert group_layout(via_model) == group_layout(groups)
