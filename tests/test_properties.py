"""Properties of the groups over random depths, rates and frozen subsets (hypothesis): toy ViTs
with the real name layout and mmpretrain's real ConvNeXt at tiny width."""
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mmengine.optim import build_optim_wrapper
from torch import nn

from toy_models import toy_vit_segmentor

BASE_LR = 1e-3
SETTINGS = settings(max_examples=25, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


class ConvNeXtModel(nn.Module):
    def __init__(self, depths) -> None:
        super().__init__()
        from mmpretrain.models import ConvNeXt
        self.backbone = ConvNeXt(arch=dict(depths=list(depths), channels=[4, 4, 4, 4]))
        self.head = nn.Linear(4, 2)


def build(model, constructor, paramwise, lr_mult):
    if lr_mult != 1.0:
        paramwise = dict(paramwise, custom_keys={'head': dict(lr_mult=lr_mult)})
    cfg = dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=BASE_LR, weight_decay=0.05),
               constructor=constructor, paramwise_cfg=paramwise)
    return build_optim_wrapper(model, cfg).optimizer.param_groups


def layout(groups):
    return [(g['group_name'], list(g['param_names']), g['lr'], g['weight_decay'])
            for g in groups]


def check_properties(model, groups, lr_mult):
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    names = [n for g in groups for n in g['param_names']]
    assert sorted(names) == sorted(trainable)  # every trainable parameter in exactly one group
    assert not frozen & set(names)
    ids = {id(p) for g in groups for p in g['params']}
    assert len(ids) == len(names)
    for group in groups:
        assert group['lr'] <= BASE_LR * max(lr_mult, 1.0) * (1 + 1e-12)
    plain = sorted((g['layer_id'], g['lr']) for g in groups if g['lr_scale'] <= 1.0
                   and 'lr_mult' not in g['group_name'])
    assert all(a[1] <= b[1] * (1 + 1e-12) for a, b in zip(plain, plain[1:])), plain


def freeze(model, mask):
    params = list(model.parameters())
    for param, frozen in zip(params, mask):
        param.requires_grad_(not frozen)
    if not any(p.requires_grad for p in params):
        params[-1].requires_grad_(True)


@SETTINGS
@given(depth=st.integers(1, 6), extra_layers=st.integers(0, 3),
       rate=st.floats(0.05, 1.0, allow_nan=False), lr_mult=st.sampled_from([1.0, 0.5, 3.0]),
       constructor=st.sampled_from(['CustomLayerDecayOptimizerConstructor',
                                    'LearningRateDecayOptimizerConstructor']),
       mask=st.lists(st.booleans(), min_size=60, max_size=60), data=st.data())
def test_vit_groups_cover_trainable_params_once_and_grow_with_depth(
        depth, extra_layers, rate, lr_mult, constructor, mask, data):
    blocks_attr = data.draw(st.sampled_from(['blocks', 'layers']))
    model = toy_vit_segmentor(depth, blocks_attr=blocks_attr)
    freeze(model, mask)
    key = 'layer_decay_rate' if constructor.startswith('Custom') else 'decay_rate'
    paramwise = {key: rate, 'num_layers': depth + extra_layers}
    groups = build(model, constructor, paramwise, lr_mult)
    check_properties(model, groups, lr_mult)
    assert layout(build(model, constructor, paramwise, lr_mult)) == layout(groups)


@SETTINGS
@given(depths=st.tuples(st.integers(1, 2), st.integers(1, 2), st.integers(1, 12),
                        st.integers(1, 2)),
       rate=st.floats(0.05, 1.0, allow_nan=False),
       decay_type=st.sampled_from(['layer_wise', 'stage_wise']),
       mask=st.lists(st.booleans(), min_size=200, max_size=200))
def test_convnext_groups_cover_trainable_params_once_and_grow_with_depth(
        depths, rate, decay_type, mask):
    torch.manual_seed(0)
    model = ConvNeXtModel(depths)
    freeze(model, mask)
    paramwise = dict(decay_rate=rate, decay_type=decay_type)
    if decay_type == 'stage_wise':
        paramwise['num_layers'] = 12
    groups = build(model, 'LearningRateDecayOptimizerConstructor', paramwise, 1.0)
    check_properties(model, groups, 1.0)
    assert layout(build(model, 'LearningRateDecayOptimizerConstructor', paramwise, 1.0)) == \
        layout(groups)


@pytest.mark.parametrize('depth', [1, 4])
def test_toy_vit_group_order_is_the_first_appearance_order(depth):
    groups = build(toy_vit_segmentor(depth), 'CustomLayerDecayOptimizerConstructor',
                   dict(layer_decay_rate=0.9), 1.0)
    first = [g['param_names'][0] for g in groups]
    order = [n for n, _ in toy_vit_segmentor(depth).named_parameters()]
    assert first == sorted(first, key=order.index)
