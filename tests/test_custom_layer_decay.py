"""CustomLayerDecayOptimizerConstructor: InternVL's semantics on ViT-style layouts."""
import pytest
import torch

from helpers import build_groups, lr_wd_by_name
from toy_models import ViTBackbone, toy_vit_segmentor

CONSTRUCTOR = 'CustomLayerDecayOptimizerConstructor'
BASE_LR, WD = 1e-3, 0.05


def lr_for(layer_id: int, num_layers: int, rate: float) -> float:
    """The formula: base_lr * rate ** (num_layers + 1 - layer_id)."""
    return BASE_LR * rate ** (num_layers + 1 - layer_id)


def expected_toy_vit(num_layers: int, rate: float, blocks_attr: str = 'blocks', depth: int = 3):
    lr = lambda k: lr_for(k, num_layers, rate)  # noqa: E731
    head = num_layers + 1
    expected = {
        # 3-D tokens are decayed, as in InternVL (its ('pos_embed', 'cls_token') test never matches)
        'backbone.cls_token': (lr(0), WD),
        'backbone.pos_embed': (lr(0), WD),
        'backbone.patch_embed.proj.weight': (lr(0), WD),
        'backbone.patch_embed.proj.bias': (lr(0), 0.0),
    }
    for i in range(depth):
        block = f'backbone.{blocks_attr}.{i}'
        expected.update({
            f'{block}.ls1': (lr(i + 1), 0.0),
            f'{block}.ls2': (lr(i + 1), 0.0),
            f'{block}.norm1.weight': (lr(i + 1), 0.0),
            f'{block}.norm1.bias': (lr(i + 1), 0.0),
            f'{block}.attn.weight': (lr(i + 1), WD),
            f'{block}.attn.bias': (lr(i + 1), 0.0),
            f'{block}.norm2.weight': (lr(i + 1), 0.0),
            f'{block}.norm2.bias': (lr(i + 1), 0.0),
            f'{block}.mlp.weight': (lr(i + 1), WD),
            f'{block}.mlp.bias': (lr(i + 1), 0.0),
        })
    expected.update({
        'backbone.norm.weight': (lr(head), 0.0),
        'backbone.norm.bias': (lr(head), 0.0),
        'decode_head.weight': (lr(head), WD),
        'decode_head.bias': (lr(head), 0.0),
    })
    return expected


@pytest.mark.parametrize('blocks_attr', ['blocks', 'layers'])
def test_every_parameter_gets_internvl_lr_and_weight_decay(blocks_attr):
    model = toy_vit_segmentor(depth=3, blocks_attr=blocks_attr)
    groups = build_groups(model, CONSTRUCTOR, dict(num_layers=3, layer_decay_rate=0.9))
    assert lr_wd_by_name(groups) == expected_toy_vit(3, 0.9, blocks_attr)


def test_groups_are_named_by_layer_and_ordered_by_first_appearance():
    groups = build_groups(toy_vit_segmentor(depth=2), CONSTRUCTOR,
                          dict(num_layers=2, layer_decay_rate=0.9))
    assert [g['group_name'] for g in groups] == [
        'layer_0_decay', 'layer_0_no_decay', 'layer_1_no_decay', 'layer_1_decay',
        'layer_2_no_decay', 'layer_2_decay', 'layer_3_no_decay', 'layer_3_decay']
    assert groups[0]['param_names'] == ['backbone.cls_token', 'backbone.pos_embed',
                                        'backbone.patch_embed.proj.weight']


def test_every_group_carries_lr_scale_layer_id_and_names():
    groups = build_groups(toy_vit_segmentor(depth=2), CONSTRUCTOR,
                          dict(num_layers=2, layer_decay_rate=0.5))
    for group in groups:
        assert group['lr'] == BASE_LR * group['lr_scale']
        assert group['lr_scale'] == 0.5 ** (3 - group['layer_id'])
        assert group['group_name'].startswith(f"layer_{group['layer_id']}_")
        assert len(group['param_names']) == len(group['params'])


def test_num_layers_is_inferred_from_the_number_of_blocks():
    inferred = build_groups(toy_vit_segmentor(depth=4), CONSTRUCTOR, dict(layer_decay_rate=0.9))
    assert lr_wd_by_name(inferred) == expected_toy_vit(4, 0.9, depth=4)


def test_num_layers_larger_than_the_model_is_used_and_warned(log_records):
    groups = build_groups(toy_vit_segmentor(depth=3), CONSTRUCTOR,
                          dict(num_layers=5, layer_decay_rate=0.9))
    assert lr_wd_by_name(groups) == expected_toy_vit(5, 0.9)
    warnings = log_records.messages(30)
    assert any('num_layers=5 differs from the depth of the model (3 layers' in w for w in warnings)


def test_num_layers_one_below_the_depth_puts_the_last_block_at_the_heads_lr_and_says_so(
        log_records):
    # InternVL's rule does the same: block i at id i + 1, capped by nothing, so with
    # num_layers = depth - 1 the last block's id is num_layers + 1, the head's.
    groups = build_groups(toy_vit_segmentor(depth=3), CONSTRUCTOR,
                          dict(num_layers=2, layer_decay_rate=0.9))
    lrs = {name: lr for name, (lr, _) in lr_wd_by_name(groups).items()}
    last_block = [lr for name, lr in lrs.items() if name.startswith('backbone.blocks.2.')]
    assert last_block and set(last_block) == {BASE_LR}
    warnings = log_records.messages(30)
    assert any('num_layers=2 differs from the depth of the model (3 layers' in w
               and 'the deepest blocks share the head id and lr' in w for w in warnings)


def test_frozen_parameters_are_left_out():
    model = toy_vit_segmentor(depth=2)
    model.backbone.patch_embed.requires_grad_(False)
    model.backbone.cls_token.requires_grad_(False)
    groups = build_groups(model, CONSTRUCTOR, dict(num_layers=2, layer_decay_rate=0.9))
    names = [name for group in groups for name in group['param_names']]
    assert 'backbone.cls_token' not in names
    assert not any(name.startswith('backbone.patch_embed') for name in names)
    assert names[0] == 'backbone.pos_embed'


def test_cbnet_copies_share_the_ids_of_the_plain_names():
    model = torch.nn.Module()
    model.backbone = torch.nn.Module()
    model.backbone.cb_modules = torch.nn.ModuleList([ViTBackbone(depth=2), ViTBackbone(depth=2)])
    groups = build_groups(model, CONSTRUCTOR, dict(num_layers=2, layer_decay_rate=0.9))
    got = lr_wd_by_name(groups)
    for copy in (0, 1):
        prefix = f'backbone.cb_modules.{copy}'
        assert got[f'{prefix}.cls_token'] == (lr_for(0, 2, 0.9), WD)
        assert got[f'{prefix}.patch_embed.proj.bias'] == (lr_for(0, 2, 0.9), 0.0)
        assert got[f'{prefix}.blocks.1.mlp.weight'] == (lr_for(2, 2, 0.9), WD)
        assert got[f'{prefix}.norm.weight'] == (lr_for(3, 2, 0.9), 0.0)


def test_levels_are_read_as_layers():
    model = torch.nn.Module()
    model.backbone = torch.nn.Module()
    model.backbone.patch_embed = torch.nn.Conv2d(3, 4, 2)
    model.backbone.levels = torch.nn.ModuleList(torch.nn.Linear(4, 4) for _ in range(3))
    model.head = torch.nn.Linear(4, 2)
    got = lr_wd_by_name(build_groups(model, CONSTRUCTOR, dict(layer_decay_rate=0.5)))
    assert got['backbone.levels.0.weight'] == (lr_for(1, 3, 0.5), WD)
    assert got['backbone.levels.2.bias'] == (lr_for(3, 3, 0.5), 0.0)
    assert got['head.weight'] == (BASE_LR, WD)


def test_exclude_tokens_from_decay_zeroes_tokens_and_no_weight_decay_names():
    model = toy_vit_segmentor(depth=2)
    model.backbone.no_weight_decay = lambda: {'patch_embed.proj.weight'}
    groups = build_groups(model, CONSTRUCTOR, dict(layer_decay_rate=0.9,
                                                   exclude_tokens_from_decay=True))
    got = lr_wd_by_name(groups)
    assert got['backbone.cls_token'] == (lr_for(0, 2, 0.9), 0.0)
    assert got['backbone.pos_embed'] == (lr_for(0, 2, 0.9), 0.0)
    assert got['backbone.patch_embed.proj.weight'] == (lr_for(0, 2, 0.9), 0.0)
    assert got['backbone.blocks.0.attn.weight'] == (lr_for(1, 2, 0.9), WD)


def test_report_says_when_3d_tokens_are_decayed(log_records):
    build_groups(toy_vit_segmentor(depth=2), CONSTRUCTOR, dict(layer_decay_rate=0.9))
    (report,) = [m for m in log_records.messages(20) if 'Param groups = ' in m]
    assert '2 token / position-embedding parameters are weight-decayed' in report
    assert 'backbone.cls_token, backbone.pos_embed' in report
    assert 'exclude_tokens_from_decay=True' in report


def test_optimizer_without_weight_decay_builds_and_steps():
    model = toy_vit_segmentor(depth=2)
    wrapper_groups = build_groups(model, CONSTRUCTOR, dict(layer_decay_rate=0.9),
                                  optimizer='SGD', weight_decay=None)
    assert {g['weight_decay'] for g in wrapper_groups} == {0.0}
    adamw_groups = build_groups(model, CONSTRUCTOR, dict(layer_decay_rate=0.9),
                                weight_decay=None)
    # AdamW's own default (0.01) applies to the decayed groups, 0 to the others
    assert {g['group_name']: g['weight_decay'] for g in adamw_groups}['layer_1_decay'] == 0.01
    assert {g['group_name']: g['weight_decay'] for g in adamw_groups}['layer_1_no_decay'] == 0.0


def test_sgd_without_weight_decay_steps():
    from mmengine.optim import build_optim_wrapper

    from helpers import optim_cfg
    model = toy_vit_segmentor(depth=2)
    wrapper = build_optim_wrapper(model, optim_cfg(CONSTRUCTOR, dict(layer_decay_rate=0.9),
                                                   optimizer='SGD', weight_decay=None))
    before = model.decode_head.weight.detach().clone()
    loss = model.decode_head(torch.randn(1, 8, 2, 2)).sum()
    wrapper.update_params(loss)
    assert not torch.equal(before, model.decode_head.weight)


def _real_vit_backbones():
    from mmpretrain.models import VisionTransformer as PretrainViT
    from mmseg.models.backbones import MAE, BEiT
    from mmseg.models.backbones import VisionTransformer as SegViT
    tiny = dict(img_size=(32, 32), patch_size=8, embed_dims=16, num_layers=3, num_heads=2,
                mlp_ratio=2)
    return {
        'mmseg.VisionTransformer': SegViT(**tiny, final_norm=True),
        'mmseg.BEiT': BEiT(**tiny),
        'mmseg.MAE': MAE(**tiny),
        'mmpretrain.VisionTransformer': PretrainViT(
            arch=dict(embed_dims=16, num_layers=3, num_heads=2, feedforward_channels=32),
            img_size=32, patch_size=8, out_type='featmap'),
    }


@pytest.mark.parametrize('backbone', sorted(_real_vit_backbones()))
def test_real_vit_backbones_get_vit_layer_ids(backbone):
    model = torch.nn.Module()
    model.backbone = _real_vit_backbones()[backbone]
    model.decode_head = torch.nn.Conv2d(16, 3, 1)
    groups = build_groups(model, CONSTRUCTOR, dict(layer_decay_rate=0.9))
    layer_of = {name: g['layer_id'] for g in groups for name in g['param_names']}
    lr_of = {name: g['lr'] for g in groups for name in g['param_names']}
    assert layer_of['backbone.cls_token'] == 0
    assert layer_of['backbone.patch_embed.projection.weight'] == 0
    for i in range(3):
        in_block = [n for n in layer_of if n.startswith(f'backbone.layers.{i}.')]
        assert in_block and {layer_of[n] for n in in_block} == {i + 1}
    assert layer_of['decode_head.weight'] == 4
    assert lr_of['backbone.cls_token'] == BASE_LR * 0.9 ** 4
    assert lr_of['decode_head.weight'] == BASE_LR
    # and the same groups as LearningRateDecayOptimizerConstructor's ViT rule
    same = build_groups(model, 'LearningRateDecayOptimizerConstructor', dict(decay_rate=0.9))
    assert [(g['group_name'], g['param_names'], g['lr']) for g in same] == \
        [(g['group_name'], g['param_names'], g['lr']) for g in groups]


# ----- InternVL's own reading of levels.N, the seed's rule (issue 17, fix 1) -----

def internvl_layout(model: torch.nn.Module, num_layers: int, rate: float):
    """InternVL's rule (OpenGVLab/InternVL ``segmentation/mmcv_custom/
    layer_decay_optimizer_constructor.py``), with ``L = num_layers``: ``backbone.levels.N.`` is
    read as ``backbone.layers.N.`` (id ``N + 1``, one id per level); ``backbone.{cls_token,
    mask_token, pos_embed, visual_embed}`` and ``backbone.patch_embed*`` id 0; everything else the
    head id ``L + 1``. Weight decay 0 for 1-D parameters and biases. Groups are named
    ``layer_{id}_{decay|no_decay}`` and ordered by first appearance; ``lr_scale = rate ** (L + 1
    - id)``. Returns ``[(group_name, param_names, lr, lr_scale, weight_decay)]``."""
    groups = {}
    for name, param in model.named_parameters():
        parts = name.split('.')
        if name in ('backbone.cls_token', 'backbone.mask_token', 'backbone.pos_embed',
                    'backbone.visual_embed') or name.startswith('backbone.patch_embed'):
            layer_id = 0
        elif name.startswith(('backbone.levels.', 'backbone.layers.', 'backbone.blocks.')):
            layer_id = int(parts[2]) + 1
        else:
            layer_id = num_layers + 1
        decays = not (param.ndim == 1 or name.endswith('.bias'))
        group_name = f"layer_{layer_id}_{'decay' if decays else 'no_decay'}"
        scale = rate ** (num_layers + 1 - layer_id)
        entry = groups.setdefault(group_name, [group_name, [], BASE_LR * scale, scale,
                                               WD if decays else 0.0])
        entry[1].append(name)
    return [tuple(entry) for entry in groups.values()]


def internimage_names_with_tokens():
    """InternImage's names (``levels.S.blocks.B``, 2 levels of 2 blocks) with a class token and a
    position embedding, as in the issue's report."""
    from field_models import InternImageUperNet
    model = InternImageUperNet(depths=(2, 2))
    model.backbone.cls_token = torch.nn.Parameter(torch.zeros(1, 1, 8))
    model.backbone.pos_embed = torch.nn.Parameter(torch.zeros(1, 5, 8))
    return model


def test_levels_without_internimage_keys_get_internvl_reading_exactly(log_records):
    model = internimage_names_with_tokens()
    groups = build_groups(model, CONSTRUCTOR, dict(num_layers=4, layer_decay_rate=0.8))
    got = [(g['group_name'], g['param_names'], pytest.approx(g['lr']),
            pytest.approx(g['lr_scale']), g['weight_decay']) for g in groups]
    assert got == internvl_layout(model, 4, 0.8)
    lr = lr_wd_by_name(groups)
    assert lr['backbone.cls_token'] == (pytest.approx(1e-3 * 0.8 ** 5), WD)
    assert lr['backbone.pos_embed'] == (pytest.approx(3.2768e-4), WD)
    (report,) = [m for m in log_records.messages(20) if 'Param groups = ' in m]
    assert 'recipe internvl' in report
    assert "InternImage's per-block reading" in report and 'depths' in report


def test_levels_with_an_internimage_key_get_internimage_reading():
    model = internimage_names_with_tokens()
    ids = {name: g['layer_id'] for g in build_groups(
        model, CONSTRUCTOR, dict(num_layers=4, layer_decay_rate=0.8, depths=[2, 2]))
        for name in g['param_names']}
    assert ids['backbone.levels.1.blocks.1.mlp.0.weight'] == 1 + 1 + 2
    assert ids['backbone.cls_token'] == 5  # not an embedding of InternImage's rule
