"""MMEngine's paramwise_cfg keys work together with layer decay; without them, nothing changes."""
import pytest
import torch
from torch import nn

from helpers import build_groups, lr_wd_by_name
from toy_models import toy_vit_segmentor

CONSTRUCTOR = 'CustomLayerDecayOptimizerConstructor'
BASE_LR, WD, RATE = 1e-3, 0.05, 0.5


def lr_at(layer_id: int, num_layers: int = 2) -> float:
    return BASE_LR * RATE ** (num_layers + 1 - layer_id)


def build(model=None, **keys):
    model = model or toy_vit_segmentor(depth=2)
    return build_groups(model, CONSTRUCTOR, dict(layer_decay_rate=RATE, **keys))


def test_custom_keys_lr_mult_multiplies_the_layer_decay_lr():
    got = lr_wd_by_name(build(custom_keys={'attn': dict(lr_mult=0.1)}))
    assert got['backbone.blocks.0.attn.weight'] == (lr_at(1) * 0.1, WD)
    assert got['backbone.blocks.0.attn.bias'] == (lr_at(1) * 0.1, 0.0)
    assert got['backbone.blocks.0.mlp.weight'] == (lr_at(1), WD)


def test_custom_keys_without_decay_mult_keep_the_no_decay_rule_for_biases_and_norms():
    """The documented choice (README, CustomLayerDecayOptimizerConstructor, engine.options): an
    lr-only custom key does not start decaying 1-D parameters and biases, as MMEngine's default
    constructor would; decay_mult=1.0 asks for that explicitly."""
    got = lr_wd_by_name(build(custom_keys={'backbone': dict(lr_mult=0.1)}))
    assert got['backbone.blocks.0.norm1.weight'] == (lr_at(1) * 0.1, 0.0)
    assert got['backbone.blocks.0.attn.bias'] == (lr_at(1) * 0.1, 0.0)
    assert got['backbone.blocks.0.ls1'] == (lr_at(1) * 0.1, 0.0)
    assert got['backbone.blocks.0.attn.weight'] == (lr_at(1) * 0.1, WD)
    explicit = lr_wd_by_name(build(custom_keys={'backbone': dict(lr_mult=0.1, decay_mult=1.0)}))
    assert explicit['backbone.blocks.0.attn.bias'] == (lr_at(1) * 0.1, WD)


def test_custom_keys_decay_mult_sets_base_weight_decay_times_mult():
    got = lr_wd_by_name(build(custom_keys={'pos_embed': dict(decay_mult=0.0),
                                           'norm': dict(decay_mult=2.0)}))
    assert got['backbone.pos_embed'] == (lr_at(0), 0.0)
    assert got['backbone.blocks.1.norm1.weight'] == (lr_at(2), WD * 2.0)
    assert got['backbone.cls_token'] == (lr_at(0), WD)


def test_longest_custom_key_wins_and_extra_options_reach_the_group():
    groups = build(custom_keys={'blocks': dict(lr_mult=0.5),
                                'blocks.1.attn': dict(lr_mult=0.25, betas=(0.8, 0.9))})
    by_name = {name: g for g in groups for name in g['param_names']}
    assert by_name['backbone.blocks.1.attn.weight']['lr'] == lr_at(2) * 0.25
    assert by_name['backbone.blocks.1.attn.weight']['betas'] == (0.8, 0.9)
    assert by_name['backbone.blocks.1.mlp.weight']['lr'] == lr_at(2) * 0.5
    assert 'betas' in by_name['backbone.blocks.1.attn.weight']
    assert by_name['backbone.blocks.1.attn.weight']['group_name'] == (
        'layer_2_decay_lr_mult_0.25_betas_(0.8, 0.9)')


def test_lr_mult_groups_are_split_from_plain_ones_and_named_for_it():
    groups = build(custom_keys={'attn': dict(lr_mult=0.1)})
    names = [g['group_name'] for g in groups]
    assert 'layer_1_decay_lr_mult_0.1' in names and 'layer_1_decay' in names
    assert len(names) == len(set(names))


def test_bias_and_norm_and_flat_decay_mults():
    got = lr_wd_by_name(build(bias_decay_mult=0.5, norm_decay_mult=0.0, flat_decay_mult=0.1))
    assert got['backbone.blocks.0.mlp.bias'] == (lr_at(1), WD * 0.5)
    assert got['backbone.blocks.0.norm1.weight'] == (lr_at(1), 0.0)  # norm wins over flat
    assert got['backbone.blocks.0.norm1.bias'] == (lr_at(1), 0.0)  # norm wins over bias
    assert got['backbone.blocks.0.ls1'] == (lr_at(1), WD * 0.1)  # 1-D, not a norm or a bias
    assert got['backbone.blocks.0.mlp.weight'] == (lr_at(1), WD)


def test_bias_lr_mult_skips_norm_biases():
    got = lr_wd_by_name(build(bias_lr_mult=2.0))
    assert got['backbone.blocks.0.mlp.bias'] == (lr_at(1) * 2.0, 0.0)
    assert got['backbone.blocks.0.norm1.bias'] == (lr_at(1), 0.0)


def test_dwconv_decay_mult():
    model = toy_vit_segmentor(depth=1)
    model.decode_head = nn.Conv2d(8, 8, 3, groups=8)
    got = lr_wd_by_name(build(model, dwconv_decay_mult=0.2))
    assert got['decode_head.weight'] == (BASE_LR, WD * 0.2)


def test_internimage_dcn_lr_multiplier_is_a_custom_keys_example():
    model = toy_vit_segmentor(depth=2)
    model.backbone.blocks[0].dcn = nn.Module()
    model.backbone.blocks[0].dcn.offset = nn.Linear(8, 18)
    model.backbone.blocks[0].dcn.attention_weights = nn.Linear(8, 9)
    dcn_keys = {key: dict(lr_mult=0.1) for key in
                ('offset', 'attention_weights', 'center_feature_scale_proj', 'alpha_beta')}
    got = lr_wd_by_name(build(model, custom_keys=dcn_keys))
    assert got['backbone.blocks.0.dcn.offset.weight'] == (lr_at(1) * 0.1, WD)
    assert got['backbone.blocks.0.dcn.attention_weights.bias'] == (lr_at(1) * 0.1, 0.0)
    assert got['backbone.blocks.0.attn.weight'] == (lr_at(1), WD)


def test_shared_parameters_are_kept_once_unless_bypass_duplicate_is_false():
    """As named_parameters() and the published layer-decay constructors take them: once, under
    the first name (by default and with bypass_duplicate=True); False refuses them, as MMEngine's
    own constructor does."""
    model = toy_vit_segmentor(depth=2)
    model.aux_head = model.decode_head
    with pytest.raises(ValueError, match=r"parameter 'decode_head.weight' is shared: the same "
                                         r"tensor is also reachable as 'aux_head.weight'.*"
                                         r"remove paramwise_cfg\.bypass_duplicate"):
        build(model, bypass_duplicate=False)
    for cfg in ({}, dict(bypass_duplicate=True)):
        groups = build(model, **cfg)
        names = [name for g in groups for name in g['param_names']]
        assert 'decode_head.weight' in names and 'aux_head.weight' not in names


def test_without_mmengine_keys_nothing_changes():
    plain = build()
    with_defaults = build(custom_keys={}, bypass_duplicate=False)
    assert [(g['group_name'], g['param_names'], g['lr'], g['weight_decay']) for g in plain] == \
        [(g['group_name'], g['param_names'], g['lr'], g['weight_decay']) for g in with_defaults]


def test_extra_options_given_as_lists_group_like_tuples():
    groups = build(custom_keys={'attn': dict(betas=[0.8, 0.9])})
    attn = [g for g in groups if any('attn' in name for name in g['param_names'])]
    assert [g['betas'] for g in attn] == [[0.8, 0.9]] * len(attn)
    assert all(all('attn' in name for name in g['param_names']) for g in attn)


def test_groups_step_with_extra_options():
    model = toy_vit_segmentor(depth=2)
    groups = build(model, custom_keys={'attn': dict(lr_mult=0.1, betas=(0.8, 0.9))})
    optimizer = torch.optim.AdamW(groups)
    model.decode_head(torch.randn(1, 8, 2, 2)).sum().backward()
    optimizer.step()
