"""The InternViT backbone and InternVL's feature-pyramid neck: the released presets (parameter
counts on ``meta``), InternVL's parameter names, registration in every scope, the forward
contract, the position-embedding resize, stochastic depth, checkpointing, frozen mode,
``get_layer_depth``, InternVL's layer-decay ids through the public constructor, strict loading and
the errors. (Numerical equivalence with transformers: ``test_internvit_equivalence.py``.)"""
import logging
import re

import pytest
import torch
import torch.nn.functional as F
from mmengine.optim import build_optim_wrapper
from mmengine.registry import MODELS as ROOT_MODELS
from mmengine.registry import DefaultScope
from torch import nn

from mmcv_custom.models import (ARCHS, CheckpointKeyError, InternViT, InternVLFeaturePyramid,
                                count_params, param_shapes)
from mmcv_custom.models import internvit as internvit_module
from mmcv_custom.models.internvit import drop_path_rates, resize_pos_embed

#: Backbone parameters of the released models (checked against the released configs:
#: InternViT-6B 48 x 3200 at 224 px, the 448 px V1-2 / V1-5 / V2-5 with 45 blocks, 300M).
RELEASED_PARAMS = {'6b': 5_902_793_600, '6b-45': 5_536_496_000, '300m': 304_012_288}
TINY = dict(embed_dims=32, num_layers=4, num_heads=2, feedforward_channels=64,
            norm_type='rms_norm', qk_norm=True, qkv_bias=False)


def tiny(**options) -> InternViT:
    options.setdefault('pretrain_img_size', 56)
    torch.manual_seed(0)
    model = InternViT(arch=dict(TINY, **options.pop('arch', {})), **options)
    model.init_weights()
    return model


# ----- presets, names, registry -----

@pytest.mark.parametrize('name', sorted(RELEASED_PARAMS))
def test_presets_have_the_released_parameter_counts_on_meta(name):
    with torch.device('meta'):
        model = InternViT(arch=name)
    assert all(param.is_meta for param in model.parameters())
    assert sum(param.numel() for param in model.parameters()) == RELEASED_PARAMS[name]
    assert count_params(ARCHS[name]) == RELEASED_PARAMS[name]
    assert [(key, tuple(value.shape)) for key, value in model.state_dict().items()] == \
        list(param_shapes(model.arch).items())


def test_presets_are_the_released_configs():
    six_b = dict(embed_dims=3200, num_heads=25, feedforward_channels=12800,
                 norm_type='rms_norm', qk_norm=True, qkv_bias=False)
    assert ARCHS['6b'].to_dict() == dict(six_b, num_layers=48, pretrain_img_size=224)
    assert ARCHS['6b-45'].to_dict() == dict(six_b, num_layers=45, pretrain_img_size=448)
    assert ARCHS['300m'].to_dict() == dict(
        embed_dims=1024, num_layers=24, num_heads=16, feedforward_channels=4096,
        norm_type='layer_norm', qk_norm=False, qkv_bias=True, pretrain_img_size=448)


def test_parameter_names_are_internvls_timm_style_names():
    names = [name for name, _ in tiny().named_parameters()]
    assert names[:4] == ['cls_token', 'pos_embed', 'patch_embed.proj.weight',
                         'patch_embed.proj.bias']
    assert [name for name in names if name.startswith('blocks.0.')] == [
        'blocks.0.norm1.weight', 'blocks.0.attn.qkv.weight', 'blocks.0.attn.proj.weight',
        'blocks.0.attn.proj.bias', 'blocks.0.attn.q_norm.weight', 'blocks.0.attn.k_norm.weight',
        'blocks.0.ls1.gamma', 'blocks.0.norm2.weight', 'blocks.0.mlp.fc1.weight',
        'blocks.0.mlp.fc1.bias', 'blocks.0.mlp.fc2.weight', 'blocks.0.mlp.fc2.bias',
        'blocks.0.ls2.gamma']
    layer_norm = tiny(arch=dict(norm_type='layer_norm', qk_norm=False, qkv_bias=True))
    block = [name for name, _ in layer_norm.named_parameters() if name.startswith('blocks.0.')]
    assert {'blocks.0.norm1.bias', 'blocks.0.attn.qkv.bias'} <= set(block)
    assert not any('q_norm' in name for name in block)


@pytest.mark.parametrize('scope', ['mmseg', 'mmdet', 'mmpretrain', None])
def test_type_internvit_builds_under_every_default_scope(scope):
    import mmdet.models  # noqa: F401  (each scope's own models registered first)
    import mmpretrain.models  # noqa: F401
    import mmseg.models  # noqa: F401
    from mmdet.registry import MODELS as MMDET
    from mmpretrain.registry import MODELS as MMPRETRAIN
    from mmseg.registry import MODELS as MMSEG
    registry = {'mmseg': MMSEG, 'mmdet': MMDET, 'mmpretrain': MMPRETRAIN, None: ROOT_MODELS}[scope]
    for name in ('InternViT', 'InternVLFeaturePyramid'):  # no scope has a class of that name
        assert name not in registry.module_dict or registry is ROOT_MODELS
    with DefaultScope.overwrite_default_scope(scope):
        cfg = dict(arch=TINY, pretrain_img_size=28)
        assert type(registry.build(dict(type='InternViT', **cfg))) is InternViT
        assert type(registry.build(dict(type='mmcv_custom.InternViT', **cfg))) is InternViT
        neck = registry.build(dict(type='InternVLFeaturePyramid', in_channels=8))
        assert type(neck) is InternVLFeaturePyramid


# ----- forward -----

def test_forward_gives_float32_maps_of_the_chosen_blocks_without_the_class_token():
    model = tiny(out_indices=(3, 0, -3)).eval()
    pixels = torch.randn(2, 3, 56, 84)
    with torch.no_grad():
        outs = model(pixels)
        tokens, seen = model.patch_embed(pixels).flatten(2).transpose(1, 2), []
        tokens = torch.cat([model.cls_token.expand(2, -1, -1), tokens], 1)
        tokens = tokens + resize_pos_embed(model.pos_embed, (4, 4), (4, 6))
        for block in model.blocks:
            tokens = block(tokens)
            seen.append(tokens)
    assert model.out_indices == (3, 0, 1)
    assert [out.shape for out in outs] == [(2, 32, 4, 6)] * 3
    assert all(out.dtype == torch.float32 for out in outs)
    for out, index in zip(outs, (3, 0, 1)):
        want = seen[index][:, 1:].reshape(2, 4, 6, 32).permute(0, 3, 1, 2)
        assert torch.equal(out, want)


def test_position_embedding_is_resized_bicubic_without_antialias_from_the_pretraining_grid():
    model = tiny()
    pos = model.pos_embed.detach()
    patches = pos[:, 1:].reshape(1, 4, 4, 32).permute(0, 3, 1, 2)
    want = F.interpolate(patches, size=(6, 5), mode='bicubic', align_corners=False,
                         antialias=False).permute(0, 2, 3, 1).reshape(1, 30, 32)
    got = resize_pos_embed(pos, (4, 4), (6, 5))
    assert torch.equal(got[:, :1], pos[:, :1])
    assert torch.allclose(got[:, 1:], want, atol=0, rtol=0)
    assert resize_pos_embed(pos, (4, 4), (4, 4)) is pos


def test_forward_resizes_with_the_module_level_function(monkeypatch):
    calls = []

    def recording(pos_embed, grid, new_grid):
        calls.append((tuple(grid), tuple(new_grid)))
        return resize_pos_embed(pos_embed, grid, new_grid)

    monkeypatch.setattr(internvit_module, 'resize_pos_embed', recording)
    tiny().eval()(torch.randn(1, 3, 98, 70))
    assert calls == [((4, 4), (7, 5))]


def test_drop_path_rises_linearly_to_the_rate_over_the_blocks():
    model = tiny(drop_path_rate=0.3)
    assert [block.drop_path.drop_prob if hasattr(block.drop_path, 'drop_prob') else 0.0
            for block in model.blocks] == pytest.approx([0.0, 0.1, 0.2, 0.3])
    assert isinstance(model.blocks[0].drop_path, nn.Identity)
    assert drop_path_rates(0.4, 48)[-1] == 0.4
    assert drop_path_rates(0.4, 48) == pytest.approx(torch.linspace(0, 0.4, 48).tolist())


def test_with_cp_recomputes_blocks_and_gives_the_same_gradients():
    pixels = torch.randn(2, 3, 56, 56)
    grads = []
    for with_cp in (False, True):
        model = tiny(with_cp=with_cp, out_indices=(1, 3)).train()
        sum(out.square().mean() for out in model(pixels)).backward()
        grads.append({name: param.grad for name, param in model.named_parameters()})
    assert grads[0].keys() == grads[1].keys()
    for name in grads[0]:
        assert torch.allclose(grads[0][name], grads[1][name], atol=1e-6), name


def test_frozen_backbone_trains_nothing_stays_in_eval_and_stops_after_the_last_output():
    model = tiny(frozen=True, drop_path_rate=0.2, out_indices=(1, ))
    assert not any(param.requires_grad for param in model.parameters())
    model.train()
    assert not model.training and not model.blocks[3].training
    ran = []
    for index, block in enumerate(model.blocks):
        block.register_forward_hook(lambda *args, index=index: ran.append(index))
    (out, ) = model(torch.randn(1, 3, 56, 56))
    assert ran == [0, 1] and not out.requires_grad
    trainable = tiny(out_indices=(1, ))
    ran.clear()
    for index, block in enumerate(trainable.blocks):
        block.register_forward_hook(lambda *args, index=index: ran.append(index))
    trainable(torch.randn(1, 3, 56, 56))
    assert ran == [0, 1, 2, 3]  # every trainable block gets its gradient


# ----- layer decay -----

def test_get_layer_depth_counts_as_mmpretrains_vision_transformer():
    from mmpretrain.models import VisionTransformer
    model = tiny()
    theirs = VisionTransformer(arch=dict(embed_dims=32, num_layers=4, num_heads=2,
                                         feedforward_channels=64), img_size=56, patch_size=14)
    for name, _ in model.named_parameters():
        full = f'backbone.{name}'
        their_name = 'backbone.' + re.sub(r'^blocks\.', 'layers.', name)
        assert model.get_layer_depth(full, 'backbone.') == \
            theirs.get_layer_depth(their_name, 'backbone.'), name
    assert model.get_layer_depth('decode_head.conv_seg.weight', 'backbone.') == (5, 6)
    assert model.get_layer_depth('backbone.blocks.3.mlp.fc1.weight', 'backbone.') == (4, 6)


class TinySegmentor(nn.Module):
    def __init__(self, frozen: bool = False) -> None:
        super().__init__()
        self.backbone = tiny(frozen=frozen, out_indices=(0, 1, 2, 3))
        self.neck = InternVLFeaturePyramid(in_channels=32)
        self.decode_head = nn.Conv2d(32, 5, 1)


def internvl_rule(name: str, shape, num_layers: int, lr: float, rate: float, wd: float):
    """OpenGVLab/InternVL segmentation/mmcv_custom/layer_decay_optimizer_constructor.py, as
    published: ids 0 for backbone.cls_token / pos_embed / patch_embed*, i + 1 for
    backbone.blocks.i, num_layers + 1 otherwise; no weight decay for 1-D parameters and names
    ending in .bias (its ``name in ('pos_embed', 'cls_token')`` never matches a prefixed name)."""
    if name in ('backbone.cls_token', 'backbone.pos_embed') or \
            name.startswith('backbone.patch_embed'):
        layer_id = 0
    elif name.startswith('backbone.blocks.'):
        layer_id = int(name.split('.')[2]) + 1
    else:
        layer_id = num_layers + 1
    decay = 0.0 if len(shape) == 1 or name.endswith('.bias') else wd
    return lr * rate ** (num_layers + 1 - layer_id), decay


@pytest.mark.parametrize('layer_ids_from_model', [False, True])
def test_layer_decay_gives_internvls_lr_and_weight_decay_for_every_parameter(
        layer_ids_from_model):
    model = TinySegmentor()
    paramwise = dict(num_layers=4, layer_decay_rate=0.9)
    constructor = 'CustomLayerDecayOptimizerConstructor'
    if layer_ids_from_model:  # the backbone's get_layer_depth (mmpretrain's protocol)
        paramwise = dict(num_layers=4, decay_rate=0.9, layer_ids_from_model=True)
        constructor = 'LearningRateDecayOptimizerConstructor'
    optimizer = build_optim_wrapper(model, dict(
        optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05), constructor=constructor,
        paramwise_cfg=paramwise)).optimizer
    got = {name: (group['lr'], group['weight_decay'])
           for group in optimizer.param_groups for name in group['param_names']}
    want = {name: internvl_rule(name, param.shape, 4, 1e-3, 0.9, 0.05)
            for name, param in model.named_parameters()}
    assert got.keys() == want.keys()
    for name in want:
        assert got[name] == pytest.approx(want[name], rel=1e-12), name
    assert got['backbone.pos_embed'][1] == 0.05  # decayed, as InternVL's published rule does


def test_a_frozen_backbone_is_in_no_group():
    model = TinySegmentor(frozen=True)
    optimizer = build_optim_wrapper(model, dict(
        optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05),
        constructor='CustomLayerDecayOptimizerConstructor',
        paramwise_cfg=dict(num_layers=4, layer_decay_rate=1.0))).optimizer
    names = [name for group in optimizer.param_groups for name in group['param_names']]
    assert names and not any(name.startswith('backbone.') for name in names)
    assert {group['lr'] for group in optimizer.param_groups} == {1e-3}


# ----- the neck -----

def test_feature_pyramid_scales_x4_x2_x1_x05_with_internvls_module_names():
    neck = InternVLFeaturePyramid(in_channels=8)
    neck.init_weights()
    maps = [torch.randn(2, 8, 6, 6) for _ in range(4)]
    outs = neck(maps)
    assert [out.shape[-2:] for out in outs] == [(24, 24), (12, 12), (6, 6), (3, 3)]
    assert all(out.dtype == torch.float32 for out in outs)
    assert torch.equal(outs[2], maps[2])
    assert torch.equal(outs[3], F.max_pool2d(maps[3], 2, 2))
    assert [name for name, _ in neck.named_parameters()] == [
        'up1.0.weight', 'up1.0.bias', 'up1.1.weight', 'up1.1.bias', 'up1.3.weight', 'up1.3.bias',
        'up2.0.weight', 'up2.0.bias']
    with pytest.raises(ValueError, match='takes 4 maps .* got 3'):
        neck(maps[:3])


# ----- loading and errors -----

def save(tmp_path, state, name='ckpt.pth'):
    path = tmp_path / name
    torch.save({'state_dict': state}, path)
    return str(path)


def test_pretrained_init_loads_strictly(tmp_path):
    source = tiny()
    state = {key: value.clone() for key, value in source.state_dict().items()}
    model = InternViT(arch=TINY, pretrain_img_size=56,
                      init_cfg=dict(type='Pretrained', checkpoint=save(tmp_path, state)))
    model.init_weights()
    assert all(torch.equal(model.state_dict()[k], state[k]) for k in state)

    with_prefix = save(tmp_path, {f'backbone.{k}': v for k, v in state.items()}, 'seg.pth')
    model = InternViT(arch=TINY, pretrain_img_size=56, init_cfg=dict(
        type='Pretrained', checkpoint=with_prefix, prefix='backbone.'))
    model.init_weights()
    assert torch.equal(model.pos_embed, state['pos_embed'])


def test_pretrained_init_names_every_missing_unexpected_and_misshaped_key(tmp_path):
    state = dict(tiny().state_dict())
    state.pop('blocks.2.attn.k_norm.weight')
    state['clip_projector.weight'] = torch.zeros(2)
    state['blocks.1.mlp.fc1.bias'] = torch.zeros(3)
    model = InternViT(arch=TINY, pretrain_img_size=56,
                      init_cfg=dict(type='Pretrained', checkpoint=save(tmp_path, state)))
    with pytest.raises(CheckpointKeyError) as error:
        model.init_weights()
    message = str(error.value)
    assert 'missing (1): blocks.2.attn.k_norm.weight' in message
    assert 'unexpected (1): clip_projector.weight' in message
    assert 'blocks.1.mlp.fc1.bias: checkpoint (3,), model (64,)' in message


def test_a_checkpoint_at_another_grid_says_which_pretrain_img_size_to_set(tmp_path):
    state = dict(tiny(pretrain_img_size=28).state_dict())
    model = InternViT(arch=TINY, pretrain_img_size=56,
                      init_cfg=dict(type='Pretrained', checkpoint=save(tmp_path, state)))
    with pytest.raises(CheckpointKeyError, match=r'pos_embed is a 2x2 grid: set '
                       r'pretrain_img_size=28'):
        model.init_weights()


def test_an_unconverted_hugging_face_file_is_refused_with_the_converter_named(tmp_path):
    state = {'embeddings.cls_token': torch.zeros(1, 1, 32)}
    model = InternViT(arch=TINY, pretrain_img_size=56,
                      init_cfg=dict(type='Pretrained', checkpoint=save(tmp_path, state)))
    with pytest.raises(CheckpointKeyError, match='tools/model_converters/internvit.py first'):
        model.init_weights()


@pytest.mark.parametrize('options, error, message', [
    (dict(arch='6B-48'), KeyError, r"unknown InternViT arch '6B-48'; presets: \['300m', '6b', "
     r"'6b-45'\]"),
    (dict(arch=dict(TINY, heads=2)), KeyError, r"unknown InternViT arch key\(s\) \['heads'\]"),
    (dict(arch=dict(embed_dims=32, num_layers=2)), KeyError,
     r"lacks \['num_heads', 'feedforward_channels'\]"),
    (dict(arch=dict(TINY, norm_type='group_norm')), ValueError,
     r"norm_type must be one of \('rms_norm', 'layer_norm'\), got 'group_norm'"),
    (dict(arch=dict(TINY, num_heads=3)), ValueError, r'embed_dims \(32\) must be divisible by '
     r'num_heads \(3\)'),
    (dict(arch=TINY, out_indices=(4, )), ValueError,
     r'out_indices entry 4 is not a block of this 4-block InternViT'),
    (dict(arch=TINY, pretrain_img_size=50), ValueError,
     r'pretrain_img_size \(50\) must be a multiple of patch_size \(14\)'),
    (dict(arch=TINY, drop_path_rate=1.0), ValueError, r'drop_path_rate must be in \[0, 1\)'),
    (dict(arch=TINY, init_cfg=dict(type='Pretrained', checkpoint='x', map_location='cpu')),
     KeyError, r"init_cfg keys \['map_location'\] are not read"),
])
def test_bad_arguments_are_refused_with_the_setting_to_change(options, error, message):
    with pytest.raises(error, match=message):
        model = InternViT(**options)
        model.init_weights()


def test_another_class_of_the_same_name_is_not_registered_over_ours():
    from mmcv_custom.models.registry import register_model

    class InternViT(nn.Module):  # noqa: F811  (a different class of the same name)
        pass

    with pytest.raises(KeyError, match=r"'InternViT' is already registered in the 'mmengine' "
                       r'MODELS registry by mmcv_custom.models.internvit.InternViT'):
        register_model(InternViT)
    assert ROOT_MODELS.get('InternViT') is internvit_module.InternViT


def test_linear_probe_head_is_a_norm_and_a_classifier_in_its_own_dtype():
    from mmcv_custom.models.seg_heads import LinearProbeHead
    head = LinearProbeHead(in_channels=8, channels=8, num_classes=3, dropout_ratio=0.0,
                           norm_cfg=dict(type='BN', requires_grad=True)).eval()
    assert [name for name, _ in head.named_parameters()] == [
        'conv_seg.weight', 'conv_seg.bias', 'norm.weight', 'norm.bias']
    feature = torch.randn(2, 8, 5, 5)
    out = head([feature])
    assert torch.allclose(out, head.conv_seg(head.norm(feature)))
    assert head.bfloat16()([feature]).dtype == torch.bfloat16  # float32 maps into a bf16 head
    with pytest.raises(ValueError, match=r'channels \(4\) must equal in_channels \(8\)'):
        LinearProbeHead(in_channels=8, channels=4, num_classes=3)


# ----- the init_cfg loader: nothing silent -----

def pretrained(checkpoint, **options) -> InternViT:
    """A TINY backbone whose init_cfg loads ``checkpoint``, with init_weights run."""
    cfg = dict(type='Pretrained', checkpoint=checkpoint, **options.pop('cfg', {}))
    model = InternViT(arch=dict(TINY, **options.pop('arch', {})), pretrain_img_size=56,
                      init_cfg=options.pop('init_cfg', cfg), **options)
    model.init_weights()
    return model


def test_the_arch_fields_the_converter_recorded_must_be_the_backbones(tmp_path):
    from mmcv_custom.models import convert_internvit
    source = dict(tiny().state_dict())
    raw = save(tmp_path, source, 'raw.pth')
    converted = str(tmp_path / 'converted.pth')
    convert_internvit(raw, converted, arch=TINY)  # records num_heads=2
    assert torch.equal(pretrained(converted).pos_embed, source['pos_embed'])
    with pytest.raises(CheckpointKeyError, match=r'converted\.pth was converted for an InternViT '
                       r'with num_heads=2 .*; this backbone has num_heads=4: set arch num_heads=2'):
        pretrained(converted, arch=dict(num_heads=4))
    guessed = str(tmp_path / 'guessed.pth')
    convert_internvit(raw, guessed)  # no arch, no config.json: heads recorded as unknown
    assert torch.load(guessed, weights_only=True)['meta']['arch_fields']['num_heads'] is None
    pretrained(guessed, arch=dict(num_heads=4))


def test_pretrained_weights_are_not_loaded_into_a_model_on_meta(tmp_path):
    checkpoint = save(tmp_path, dict(tiny().state_dict()))
    with torch.device('meta'):
        model = InternViT(arch=TINY, pretrain_img_size=56,
                          init_cfg=dict(type='Pretrained', checkpoint=checkpoint))
    with pytest.raises(RuntimeError, match=r'the backbone is on the meta device .* so '
                       r'.*ckpt\.pth cannot be loaded into it\. Materialise it first'):
        model.init_weights()


def test_an_mmengine_training_checkpoint_loads_with_weights_only(tmp_path):
    import numpy as np
    from mmengine.logging import HistoryBuffer
    state = dict(tiny().state_dict())
    buffer = HistoryBuffer()
    buffer.update(1.0)
    path = str(tmp_path / 'iter_10.pth')
    torch.save({'meta': {'iter': 10}, 'optimizer': {},
                'state_dict': {**{f'backbone.{k}': v for k, v in state.items()},
                               'decode_head.conv_seg.weight': torch.zeros(2)},
                'message_hub': {'log_scalars': {'train/loss': buffer},
                                'runtime_info': {'eta': np.float64(3.0)}}}, path)
    model = pretrained(path, cfg=dict(prefix='backbone'))  # the dot is added
    assert torch.equal(model.pos_embed, state['pos_embed'])
    with pytest.raises(CheckpointKeyError, match=r"the backbone's keys are under 'backbone\.' "
                       r".*: set init_cfg prefix='backbone\.'"):
        pretrained(path)


@pytest.mark.parametrize('wrapper', ['module', 'model', 'state_dict'])
def test_a_wrapped_state_dict_is_unwrapped_and_logged(tmp_path, wrapper, log_records):
    state = dict(tiny().state_dict())
    path = str(tmp_path / 'wrapped.pth')
    torch.save({wrapper: state}, path)
    assert torch.equal(pretrained(path).pos_embed, state['pos_embed'])
    assert f"InternViT: took the tensors under {wrapper!r}" in log_records.messages(logging.INFO)


def test_an_unconverted_internvl_file_with_clip_projector_says_to_convert_it(tmp_path):
    state = {**tiny().state_dict(), 'clip_projector.norm1_q.weight': torch.zeros(32)}
    with pytest.raises(CheckpointKeyError, match=r"clip_projector\.\* is InternVL-C's CLIP "
                       r'projection head .*: convert the file with '
                       r'tools/model_converters/internvit\.py first'):
        pretrained(save(tmp_path, state))


def test_a_file_that_is_not_a_checkpoint_is_named_without_pointing_at_pickle(tmp_path):
    path = tmp_path / 'weights.pth'
    path.write_bytes(b'\x00' * 64)
    with pytest.raises(ValueError, match=rf'{re.escape(str(path))} is not a checkpoint') as error:
        pretrained(str(path))
    assert 'trust' not in str(error.value)


def test_init_cfg_may_be_a_list_with_one_pretrained_entry(tmp_path):
    state = dict(tiny().state_dict())
    checkpoint = save(tmp_path, state)
    model = pretrained(None, init_cfg=[dict(type='TruncNormal', layer='Linear', std=0.02),
                                       dict(type='Pretrained', checkpoint=checkpoint)])
    assert all(torch.equal(model.state_dict()[key], state[key]) for key in state)
    with pytest.raises(ValueError, match='init_cfg has 2 Pretrained entries; give one'):
        pretrained(None, init_cfg=[dict(type='Pretrained', checkpoint=checkpoint)] * 2)


@pytest.mark.parametrize('cfg, message', [
    (dict(type='Pretrained'), "needs checkpoint=PATH.*; got no checkpoint key"),
    (dict(type='Pretrained', checkpoint=None), 'needs checkpoint=PATH.*; got checkpoint=None'),
    (dict(type='Pretrained', checkpoint='https://example.com/x.pth'), 'is a URL: this loader '
     'reads local files only'),
    ('Pretrained', 'init_cfg must be a dict or a list of dicts'),
])
def test_a_pretrained_entry_without_a_local_checkpoint_is_named(cfg, message):
    with pytest.raises((ValueError, TypeError), match=message):
        pretrained(None, init_cfg=cfg)


def test_edge_pixels_beyond_a_multiple_of_the_patch_are_not_seen_as_documented():
    model = tiny().eval()
    pixels = torch.randn(1, 3, 60, 61)
    with torch.no_grad():
        assert torch.equal(model(pixels)[0], model(pixels[:, :, :56, :56])[0])
    doc = ' '.join(InternViT.__doc__.split())
    assert ('the last ``H % patch_size`` rows and ``W % patch_size`` columns are not seen' in doc)
