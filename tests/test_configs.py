"""Every real-data config under configs/ (demo configs excluded) loads from this checkout, imports
mmcv_custom, and builds its model and its layer-decay optimizer without the dataset.

Models are built without init_weights; the large ones on the meta device.
"""
import ast
from pathlib import Path
from typing import Dict, NamedTuple

import pytest
from mmengine.config import Config

from mmcv_custom import RECIPES
from mmcv_custom.analysis import build_model, build_optim_wrapper_for_inspection, load_config
from mmcv_custom.recipes._rule import compile_recipe

ROOT = Path(__file__).resolve().parents[1]
CONFIG_DIR = ROOT / 'configs'
#: internimage/: its backbone (with the DCNv3 op) comes from InternImage's own code, so its
#: optimizer is built on a module with InternImage's names (test_internimage_config_...).
EXCLUDED_DIRS = ('_base_', 'demo', 'internimage')


class Expected(NamedTuple):
    scope: str
    constructor: str
    base_lr: float
    rate: float
    num_layers: int
    layer_ids: frozenset
    meta: bool = False


def _ids(*ids) -> frozenset:
    return frozenset(ids)


EXPECTED: Dict[str, Expected] = {
    'upernet_vit-b16_ld0.65_160k_ade20k-512x512': Expected(
        'mmseg', 'CustomLayerDecayOptimizerConstructor', 1e-4, 0.65, 12, _ids(*range(14))),
    'upernet_beit-b16_ld0.9_160k_ade20k-512x512': Expected(
        'mmseg', 'CustomLayerDecayOptimizerConstructor', 3e-5, 0.9, 12, _ids(*range(14))),
    # configs/internvit/: InternVL's ADE20K recipes (every parameter against InternVL's rule in
    # test_internvit_configs.py)
    'upernet_internvit-6b_ld0.95_80k_ade20k-504x504_zero1': Expected(
        'mmseg', 'CustomLayerDecayOptimizerConstructor', 4e-5, 0.95, 48, _ids(*range(50)),
        meta=True),
    'upernet_internvit-6b_ld0.95_80k_ade20k-504x504_fsdp': Expected(
        'mmseg', 'CustomLayerDecayOptimizerConstructor', 4e-5, 0.95, 48, _ids(*range(50)),
        meta=True),
    'upernet_internvit-6b-frozen_80k_ade20k-504x504': Expected(
        'mmseg', 'CustomLayerDecayOptimizerConstructor', 4e-5, 1.0, 48, _ids(49), meta=True),
    'linear_internvit-6b-frozen_80k_ade20k-504x504': Expected(
        'mmseg', 'CustomLayerDecayOptimizerConstructor', 4e-5, 1.0, 48, _ids(49), meta=True),
    'upernet_internvit-6b-448px-v2.5_ld0.95_80k_ade20k-504x504_zero1': Expected(
        'mmseg', 'CustomLayerDecayOptimizerConstructor', 4e-5, 0.95, 45, _ids(*range(47)),
        meta=True),
    'upernet_internvit-6b-448px-v2.5-frozen_80k_ade20k-504x504': Expected(
        'mmseg', 'CustomLayerDecayOptimizerConstructor', 4e-5, 1.0, 45, _ids(46), meta=True),
    'linear_internvit-6b-448px-v2.5-frozen_80k_ade20k-504x504': Expected(
        'mmseg', 'CustomLayerDecayOptimizerConstructor', 4e-5, 1.0, 45, _ids(46), meta=True),
    'upernet_internvit-300m-448px-v2.5_ld0.9_80k_ade20k-504x504': Expected(
        'mmseg', 'CustomLayerDecayOptimizerConstructor', 4e-5, 0.9, 24, _ids(*range(26)),
        meta=True),
    'upernet_convnext-b_lrd0.9-stage12_160k_ade20k-512x512': Expected(
        'mmseg', 'LearningRateDecayOptimizerConstructor', 1e-4, 0.9, 12, _ids(0, 1, 2, 3, 4, 13)),
    'mask-rcnn_convnext-t_lrd0.95-layer6_3x_coco': Expected(
        'mmdet', 'LearningRateDecayOptimizerConstructor', 1e-4, 0.95, 6, _ids(*range(8))),
    'cascade-mask-rcnn_convnext-t_lrd0.7-layer6_3x_coco': Expected(
        'mmdet', 'LearningRateDecayOptimizerConstructor', 2e-4, 0.7, 6, _ids(*range(8))),
    'mae-finetune_vit-b16_ld0.65_100e_in1k-224': Expected(
        'mmpretrain', 'CustomLayerDecayOptimizerConstructor', 2e-3, 0.65, 12, _ids(*range(14))),
}


def real_data_configs():
    return sorted(path for path in CONFIG_DIR.rglob('*.py')
                  if not any(part in EXCLUDED_DIRS for part in path.relative_to(CONFIG_DIR).parts))


CONFIGS = {path.stem: path for path in real_data_configs()}
_BUILT: dict = {}


def built(stem: str):
    """``(cfg, model, optim_wrapper)`` for a config, built once per test session."""
    if stem not in _BUILT:
        cfg = load_config(CONFIGS[stem])  # with its custom_imports imported
        model = build_model(cfg, meta=EXPECTED[stem].meta)
        optim_wrapper, _ = build_optim_wrapper_for_inspection(model, cfg)
        _BUILT[stem] = (cfg, model, optim_wrapper)
    return _BUILT[stem]


def test_every_config_has_expectations():
    assert set(CONFIGS) == set(EXPECTED)


@pytest.mark.parametrize('stem', sorted(EXPECTED))
def test_config_loads_with_custom_imports_of_mmcv_custom(stem):
    path = CONFIGS[stem]
    top_level = {target.id for node in ast.parse(path.read_text()).body
                 if isinstance(node, ast.Assign) for target in node.targets
                 if isinstance(target, ast.Name)}
    assert 'custom_imports' in top_level, f'{path.name} must set custom_imports itself'
    cfg = Config.fromfile(str(path))
    assert 'mmcv_custom' in cfg.custom_imports['imports']
    assert cfg.custom_imports['allow_failed_imports'] is False
    assert cfg.default_scope == EXPECTED[stem].scope
    assert cfg.optim_wrapper['constructor'] == EXPECTED[stem].constructor
    if 'mmpretrain.' in repr(cfg.model):
        assert 'mmpretrain.models' in cfg.custom_imports['imports']


OWN_FILES = sorted(path for path in CONFIG_DIR.rglob('*.py')
                   if 'demo' not in path.relative_to(CONFIG_DIR).parts)


@pytest.mark.parametrize('path', OWN_FILES, ids=lambda p: str(p.relative_to(CONFIG_DIR)))
def test_bases_are_files_of_this_checkout(path):
    """No package-relative ``pkg::`` bases (mmengine needs pkg_resources for them)."""
    text = path.read_text()
    assert '::' not in text, f'{path.name} uses a package-relative base or import'


@pytest.mark.parametrize('stem', sorted(EXPECTED))
def test_groups_follow_the_layer_decay_formula(stem):
    expected = EXPECTED[stem]
    cfg, _, optim_wrapper = built(stem)
    groups = optim_wrapper.optimizer.param_groups
    head = expected.num_layers + 1
    assert {group['layer_id'] for group in groups} == expected.layer_ids
    wd = cfg.optim_wrapper['optimizer']['weight_decay']
    for group in groups:
        assert group['lr'] == pytest.approx(
            expected.base_lr * expected.rate ** (head - group['layer_id']), rel=1e-12)
        assert group['weight_decay'] in (0.0, pytest.approx(wd))


@pytest.mark.parametrize('stem', sorted(EXPECTED))
def test_embedding_and_head_groups_get_the_extreme_lrs(stem):
    expected = EXPECTED[stem]
    _, _, optim_wrapper = built(stem)
    groups = optim_wrapper.optimizer.param_groups
    embedding = [g['lr'] for g in groups if g['layer_id'] == 0]
    head = [g['lr'] for g in groups if g['layer_id'] == expected.num_layers + 1]
    assert head
    assert bool(embedding) == (0 in expected.layer_ids)  # none when the backbone is frozen
    assert embedding == pytest.approx(
        [expected.base_lr * expected.rate ** (expected.num_layers + 1)] * len(embedding))
    assert head == pytest.approx([expected.base_lr] * len(head))


@pytest.mark.parametrize('stem', sorted(EXPECTED))
def test_every_trainable_parameter_is_in_exactly_one_group(stem):
    _, model, optim_wrapper = built(stem)
    grouped = [id(p) for group in optim_wrapper.optimizer.param_groups for p in group['params']]
    trainable = {id(p) for p in model.parameters() if p.requires_grad}
    assert len(grouped) == len(set(grouped))
    assert set(grouped) == trainable


def test_mae_finetune_takes_layer_ids_from_the_backbone_and_custom_keys_exempt_norms():
    cfg, _, optim_wrapper = built('mae-finetune_vit-b16_ld0.65_100e_in1k-224')
    assert cfg.optim_wrapper['paramwise_cfg']['layer_ids_from_model'] is True
    by_name = {name: group for group in optim_wrapper.optimizer.param_groups
               for name in group['param_names']}
    rule = compile_recipe(RECIPES['internvl'], 'backbone.')  # InternVL's reading
    for name, group in by_name.items():
        assert group['layer_id'] == rule.layer_id(name, 12), name
    for name in ('backbone.cls_token', 'backbone.pos_embed', 'backbone.layers.0.ln1.weight',
                 'backbone.layers.11.attn.qkv.bias', 'head.fc.bias'):
        assert by_name[name]['weight_decay'] == 0.0, name
    for name in ('backbone.patch_embed.projection.weight', 'backbone.layers.5.ffn.layers.1.weight',
                 'head.fc.weight'):
        assert by_name[name]['weight_decay'] == pytest.approx(0.05), name


def test_internimage_config_builds_its_optimizer_as_internimage_does():
    """The published InternImage-L UPerNet optimization, on a module with InternImage's parameter
    names at the config's width and depths, on the meta device: every parameter gets the lr and
    weight decay of InternImage's segmentation rule."""
    import torch
    from mmengine.optim import build_optim_wrapper

    from field_models import InternImageUperNet
    from test_field_recipes import internimage_expected
    path = CONFIG_DIR / 'internimage' / 'upernet_internimage-l_ld0.94_160k_ade20k-640x640.py'
    cfg = Config.fromfile(str(path))
    assert 'mmcv_custom' in cfg.custom_imports['imports']
    with torch.device('meta'):
        model = InternImageUperNet(depths=cfg.depths, dim=cfg.channels)
    optimizer = build_optim_wrapper(model, cfg.optim_wrapper).optimizer
    assert optimizer.defaults['lr'] == 2e-5
    got = {name: (group['lr'], group['weight_decay'])
           for group in optimizer.param_groups for name in group['param_names']}
    assert got == internimage_expected(model, cfg.depths, 0.94, segmentation=True, lr=2e-5)
    assert {group['layer_id'] for group in optimizer.param_groups} == set(range(39))
