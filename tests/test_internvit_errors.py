"""Every argument of the InternViT backbone that is not usable is refused by name (torch.optim's
habit: a table of input, error type and message), ``get_layer_depth`` refuses names that are not
the backbone's parameters, and ``tools/analysis_tools/param_groups.py`` checks ``--gpus`` before
building a model. (The converter's and the loader's errors: ``test_internvit_convert.py``,
``test_internvit.py``.)"""
import os.path as osp

import numpy as np
import pytest

from mmcv_custom.models import InternViT

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
TINY = dict(embed_dims=16, num_layers=4, num_heads=2, feedforward_channels=32)


def build(**options) -> InternViT:
    options.setdefault('arch', TINY)
    options.setdefault('pretrain_img_size', 56)
    return InternViT(**options)


@pytest.mark.parametrize('options, error, message', [
    (dict(drop_path_rate='0.1'), TypeError,
     r"InternViT drop_path_rate must be a number in \[0, 1\), got '0\.1' \(str\)"),
    (dict(drop_path_rate=None), TypeError, r'InternViT drop_path_rate must be a number'),
    (dict(drop_path_rate=float('nan')), ValueError, r'InternViT drop_path_rate must be'),
    (dict(patch_size=0), ValueError, r'InternViT patch_size must be a positive int, got 0'),
    (dict(patch_size=-14), ValueError, r'InternViT patch_size must be a positive int, got -14'),
    (dict(patch_size=14.0), TypeError, r'InternViT patch_size must be a positive int'),
    (dict(in_channels=0), ValueError, r'InternViT in_channels must be a positive int'),
    (dict(out_indices=1.0), TypeError,
     r'InternViT out_indices must be an int or a sequence of ints .* got 1\.0 \(float\)'),
    (dict(out_indices=True), TypeError, r'InternViT out_indices must be an int or a sequence'),
    (dict(out_indices='3'), TypeError, r'InternViT out_indices must be an int or a sequence'),
    (dict(out_indices=[1, 2.0]), TypeError, r'InternViT out_indices entry 2\.0 must be an int'),
    (dict(out_indices=(1, 1, -3)), ValueError,
     r'InternViT out_indices \(1, 1, -3\) name block 1 twice \(1 and 1\)'),
    (dict(out_indices=(1, -3)), ValueError, r'name block 1 twice \(1 and -3\)'),
    (dict(layer_scale_init_value='x'), TypeError,
     r"InternViT layer_scale_init_value must be a number, got 'x' \(str\)"),
    (dict(layer_scale_init_value=None), TypeError, r'InternViT layer_scale_init_value must be'),
    (dict(pretrain_img_size=0), ValueError, r'^pretrain_img_size must be a positive int, got 0'),
    (dict(pretrain_img_size=14.0), TypeError, r'^pretrain_img_size must be a positive int'),
    (dict(frozen='no'), TypeError, r"InternViT frozen must be True or False, got 'no' \(str\)"),
    (dict(with_cp='no'), TypeError, r"InternViT with_cp must be True or False, got 'no'"),
    (dict(with_cp=1), TypeError, r'InternViT with_cp must be True or False, got 1 \(int\)'),
    (dict(img_size=-5), ValueError, r'InternViT img_size must be a positive int, got -5'),
    (dict(img_size='504'), TypeError, r'InternViT img_size must be a positive int'),
    (dict(img_size=512), ValueError, r'InternViT img_size \(512\) must be a multiple of '
     r'patch_size \(14\): the last 8 pixels of such a crop are never seen; use 504 or 518'),
    (dict(arch=dict(TINY, embed_dims=16.0)), TypeError, r'arch embed_dims must be a positive int'),
    (dict(arch=dict(TINY, qk_norm='yes')), TypeError, r"arch qk_norm must be True or False"),
])
def test_an_unusable_argument_is_refused_by_name(options, error, message):
    with pytest.raises(error, match=message):
        build(**options)


def test_numpy_ints_are_accepted_where_ints_are():
    model = build(out_indices=np.array([1, 3]))
    assert model.out_indices == (1, 3) and all(type(i) is int for i in model.out_indices)
    assert build(out_indices=np.int64(3)).out_indices == (3, )
    assert build(arch=dict(TINY, embed_dims=np.int64(16))).arch.embed_dims == 16


def test_img_size_is_kept_and_shown():
    model = build(img_size=504)
    assert model.img_size == 504 and 'img_size=504' in model.extra_repr()


@pytest.mark.parametrize('name', ['blocks.x.y', 'blocks.', 'blocks.4.mlp.fc1.weight',
                                  'blocks.99.x', 'blocks.-1.x', 'blocks.0.attn.qkv.bias',
                                  'blocks.0', 'patch_embed', 'norm.weight', 'cls_token.extra'])
def test_get_layer_depth_refuses_a_name_that_is_not_a_parameter(name):
    model = build()
    with pytest.raises(ValueError, match=rf"InternViT\.get_layer_depth: 'backbone\.{name}' "
                       r"\(prefix 'backbone\.'\) is not a parameter of this 4-block InternViT"):
        model.get_layer_depth(f'backbone.{name}', 'backbone.')


def test_get_layer_depth_keeps_mmpretrains_protocol_for_real_names():
    model = build()
    depths = {name: model.get_layer_depth(name) for name, _ in model.named_parameters()}
    assert set(depths.values()) == {(i, 6) for i in range(5)}
    assert model.get_layer_depth('decode_head.conv_seg.weight', 'backbone.') == (5, 6)


@pytest.mark.parametrize('value', ['0', '-1', 'two'])
def test_param_groups_tool_checks_gpus_before_building_anything(value, capsys):
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        'param_groups_tool', osp.join(ROOT, 'tools', 'analysis_tools', 'param_groups.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    with pytest.raises(SystemExit) as exit_status:
        tool.parse_args(['config.py', '--memory', '--gpus', value])
    assert exit_status.value.code == 2
    assert 'argument --gpus' in capsys.readouterr().err
    assert tool.parse_args(['config.py', '--gpus', '4']).gpus == 4


def test_img_size_defaults_to_the_pretraining_size_whatever_the_patch():
    assert build().img_size == 56
    assert build(patch_size=12, pretrain_img_size=48).img_size == 48  # not 224: 224 % 12 == 8
