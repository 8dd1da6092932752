"""configs/internvit/: InternVL's published ADE20K recipes as OpenMMLab 2.x configs. Each builds on
``meta`` with its own constructor, and every parameter's lr and weight decay equal InternVL's rule
(``internvl_rule`` in test_internvit.py: OpenGVLab/InternVL segmentation/mmcv_custom/
layer_decay_optimizer_constructor.py -- embeddings 0, ``backbone.blocks.i`` i + 1, neck and heads
``num_layers + 1``, ``lr = base * rate ** (num_layers + 1 - id)``, no weight decay for 1-D
parameters and ``.bias``; its ``name in ('pos_embed', 'cls_token')`` never matches the prefixed
names, so ``pos_embed`` and ``cls_token`` are decayed). The settings are checked against InternVL's
configs (segmentation/configs/intern_vit_6b/{full_tuning, head_tuning, linear_probing}/*)."""
from pathlib import Path

import pytest

from mmcv_custom.analysis import build_model, build_optim_wrapper_for_inspection, load_config
from mmcv_custom.models import InternViT
from test_internvit import RELEASED_PARAMS, internvl_rule

CONFIG_DIR = Path(__file__).resolve().parents[1] / 'configs' / 'internvit'
FULL = 'upernet_internvit-6b_ld0.95_80k_ade20k-504x504_zero1'
#: stem -> (arch, num_layers, rate, weight decay, out_indices, frozen, engine)
RECIPES = {
    FULL: ('6b', 48, 0.95, 0.05, (11, 23, 35, 47), False, 'DeepSpeedStrategy'),
    'upernet_internvit-6b_ld0.95_80k_ade20k-504x504_fsdp':
        ('6b', 48, 0.95, 0.05, (11, 23, 35, 47), False, 'FSDPStrategy'),
    'upernet_internvit-6b-frozen_80k_ade20k-504x504':
        ('6b', 48, 1.0, 0.05, (11, 23, 35, 47), True, 'DeepSpeedStrategy'),
    'linear_internvit-6b-frozen_80k_ade20k-504x504':
        ('6b', 48, 1.0, 0.0, (44, ), True, 'DeepSpeedStrategy'),
    'upernet_internvit-6b-448px-v2.5_ld0.95_80k_ade20k-504x504_zero1':
        ('6b-45', 45, 0.95, 0.05, (11, 22, 33, 44), False, 'DeepSpeedStrategy'),
    'upernet_internvit-6b-448px-v2.5-frozen_80k_ade20k-504x504':
        ('6b-45', 45, 1.0, 0.05, (11, 22, 33, 44), True, 'DeepSpeedStrategy'),
    'linear_internvit-6b-448px-v2.5-frozen_80k_ade20k-504x504':
        ('6b-45', 45, 1.0, 0.0, (44, ), True, 'DeepSpeedStrategy'),
    'upernet_internvit-300m-448px-v2.5_ld0.9_80k_ade20k-504x504':
        ('300m', 24, 0.9, 0.05, (5, 11, 17, 23), False, None),
}
_BUILT: dict = {}


def built(stem: str):
    if stem not in _BUILT:
        cfg = load_config(CONFIG_DIR / f'{stem}.py')
        model = build_model(cfg, meta=True)
        _BUILT[stem] = (cfg, model, build_optim_wrapper_for_inspection(model, cfg)[0])
    return _BUILT[stem]


def test_every_internvit_config_is_listed():
    assert {path.stem for path in CONFIG_DIR.glob('*.py')} == set(RECIPES)


@pytest.mark.parametrize('stem', sorted(RECIPES))
def test_every_parameter_gets_internvls_lr_and_weight_decay(stem):
    arch, num_layers, rate, wd, _, frozen, _ = RECIPES[stem]
    cfg, model, optim_wrapper = built(stem)
    optimizer = cfg.optim_wrapper['optimizer']
    assert (optimizer['type'], optimizer['lr'], optimizer['weight_decay']) == ('AdamW', 4e-5, wd)
    assert cfg.optim_wrapper['paramwise_cfg'] == dict(num_layers=num_layers,
                                                      layer_decay_rate=rate)
    got = {name: (group['lr'], group['weight_decay'])
           for group in optim_wrapper.optimizer.param_groups for name in group['param_names']}
    want = {name: internvl_rule(name, param.shape, num_layers, 4e-5, rate, wd)
            for name, param in model.named_parameters() if param.requires_grad}
    assert got.keys() == want.keys()
    for name in want:
        assert got[name] == pytest.approx(want[name], rel=1e-12), name
    assert all(param.is_meta for param in model.parameters())
    backbone = sum(param.numel() for param in model.backbone.parameters())
    assert backbone == RELEASED_PARAMS[arch]
    assert any(name.startswith('backbone.') for name in got) is not frozen


@pytest.mark.parametrize('stem', sorted(RECIPES))
def test_the_backbone_and_engine_are_internvls(stem):
    arch, num_layers, _, _, out_indices, frozen, engine = RECIPES[stem]
    cfg, model, _ = built(stem)
    backbone = model.backbone
    assert isinstance(backbone, InternViT) and backbone.arch_name == arch
    assert backbone.num_layers == num_layers
    assert backbone.out_indices == out_indices and backbone.frozen is frozen
    assert backbone.pretrain_grid == (16 if arch == '6b' else 32)
    assert backbone.drop_path_rate == (0.0 if frozen else 0.2 if arch == '300m' else 0.4)
    assert cfg.model.backbone.init_cfg['type'] == 'Pretrained'
    assert cfg.model.test_cfg == dict(mode='slide', crop_size=(504, 504), stride=(322, 322))
    assert cfg.train_dataloader.batch_size == 2  # x 8 GPUs, as InternVL
    assert cfg.train_cfg.max_iters == 80000
    assert cfg.get('strategy', {}).get('type') == engine
    if engine == 'DeepSpeedStrategy':  # InternVL's zero_configs/adam_zero1_bf16.json
        assert cfg.strategy['zero_optimization'] == dict(stage=1, reduce_bucket_size=5e8,
                                                         overlap_comm=True)
        assert cfg.strategy['bf16'] == dict(enabled=True)
        assert cfg.strategy['config']['data_types'] == dict(buffer_dtype='bf16')
        assert cfg.strategy['inputs_to_half'] == ['inputs']


@pytest.mark.parametrize('stem', [stem for stem in RECIPES if stem.startswith('upernet')])
def test_upernet_recipes_have_internvls_neck_and_heads(stem):
    cfg, model, _ = built(stem)
    width = model.backbone.embed_dims
    channels = 1024 if width == 1024 else 1536
    assert type(model.neck).__name__ == 'InternVLFeaturePyramid'
    assert model.neck.in_channels == width
    assert (model.decode_head.in_channels, model.decode_head.channels) == ([width] * 4, channels)
    assert (model.auxiliary_head.in_channels, model.auxiliary_head.channels) == (width, channels)
    frozen = model.backbone.frozen
    assert model.auxiliary_head.in_index == (1 if frozen else 2)  # InternVL's head tuning: 1


@pytest.mark.parametrize('stem', [stem for stem in RECIPES if stem.startswith('linear')])
def test_linear_probing_is_a_norm_and_a_classifier_on_block_44(stem):
    cfg, model, optim_wrapper = built(stem)
    head = model.decode_head
    assert type(head).__name__ == 'LinearProbeHead' and not model.with_neck
    assert not model.with_auxiliary_head
    assert (head.in_channels, head.channels, head.dropout_ratio) == (3200, 3200, 0.0)
    assert type(head.norm).__name__ == 'SyncBatchNorm'
    names = [n for g in optim_wrapper.optimizer.param_groups for n in g['param_names']]
    assert sorted(names) == ['decode_head.conv_seg.bias', 'decode_head.conv_seg.weight',
                             'decode_head.norm.bias', 'decode_head.norm.weight']


def test_the_fsdp_config_wraps_each_internvit_block_and_checkpoints_it():
    cfg, _, _ = built('upernet_internvit-6b_ld0.95_80k_ade20k-504x504_fsdp')
    wrapper = cfg.strategy['model_wrapper']
    assert wrapper['use_orig_params'] is True
    assert wrapper['auto_wrap_policy'] == dict(type='wrap_modules_by_class_name',
                                               class_names=['InternVisionEncoderLayer'])
    assert cfg.strategy['activation_checkpointing'] == dict(check_fn='is_vit_block')
    assert cfg.model.backbone.with_cp is False  # FSDP checkpoints the blocks itself


def test_schedule_is_internvls_mmcv1_poly_with_warmup():
    cfg, _, _ = built(FULL)
    assert [dict(s) for s in cfg.param_scheduler] == [
        dict(type='LinearLR', start_factor=1e-6, end_factor=1.0, by_epoch=False, begin=0,
             end=1501),
        dict(type='PolyLR', eta_min=0.0, power=1.0, by_epoch=False, begin=0, end=80001)]
    assert cfg.train_cfg.val_interval == 1000
    assert cfg.default_hooks.checkpoint.interval == 1000
    assert cfg.default_hooks.checkpoint.max_keep_ckpts == 2
