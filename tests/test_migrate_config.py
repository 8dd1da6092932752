"""tools/migrate_config.py: published mmcv 1.x configs convert to OpenMMLab 2.x configs whose
optimizer builds and whose schedule gives mmcv 1.x's learning rate at every iteration.

mmcv 1.x's rule, as these tests compute it (``mmcv1_lr``). Every param group ``g`` keeps its
initial lr ``base_g``. Before iteration ``t`` (0-based, counted over the whole run) the hook first
computes the *regular* lr from the policy at the run's progress ``p`` -- the epoch that iteration
``t`` belongs to when ``lr_config.by_epoch``, else ``t`` itself -- out of ``P`` (max_epochs or
max_iters):

- poly: ``(base_g - floor_g) * (1 - p / P) ** power + floor_g``
- step: ``base_g * gamma ** (number of milestones <= p)`` (``p // step`` for an int step), never
  below ``floor_g`` when a floor is set
- cosine annealing: ``floor_g + (base_g - floor_g) * (1 + cos(pi * p / P)) / 2``
- fixed: ``base_g``

Then, while ``t`` is below the warm-up length ``W``, it multiplies that regular lr by a factor
that depends on ``t`` and ``warmup_ratio`` ``r``: linear ``1 - (1 - t / W) * (1 - r)``, exp
``r ** (1 - t / W)``, constant ``r``. So the decay runs from iteration 0, under the warm-up
(``get_warmup_lr`` multiplies ``regular_lr``; mmcv 1.x ``mmcv/runner/hooks/lr_updater.py``).

``floor_g`` is ``min_lr`` (absolute) or ``min_lr_ratio * base_g``; where the tool converts an
absolute ``min_lr`` to the ratio form (a layer-decayed group may start below it), the expected
floor is ``min_lr * base_g / optimizer.lr``, which the output's note states.
"""
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import OptimWrapper, build_optim_wrapper

from mmcv_custom.analysis import simulate_lr_schedule
from mmcv_custom.migrate import (MigrationError, as_config, migrate_config,
                                 render_migration)
from mmcv_custom.migrate._schedule import RunLength, convert_lr_config
from field_models import InternImageDINO, InternImageUperNet
from helpers import lr_wd_by_name
from test_field_recipes import internimage_expected
from toy_models import toy_vit_segmentor

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / 'tests' / 'fixtures' / 'mmcv1_configs'
TOOL = ROOT / 'tools' / 'migrate_config.py'
REL = 1e-9  # MMEngine's chained schedulers multiply step ratios: equal up to float rounding

CUSTOM_IMPORTS = dict(imports=['mmcv_custom'], allow_failed_imports=False)
LINEAR_WARMUP_1500 = dict(type='LinearLR', start_factor=1e-6, end_factor=1.0, by_epoch=False,
                          begin=0, end=1501)


def poly(total):
    return dict(type='PolyLR', eta_min=0.0, power=1.0, by_epoch=False, begin=0, end=total + 1)


def seg_runtime(max_iters, val_interval, checkpoint):
    return dict(
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=val_interval),
        val_cfg=dict(type='ValLoop'), test_cfg=dict(type='TestLoop'),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', **checkpoint)))


#: The six published configs: the new sections, exactly.
EXPECTED = {
    'upernet_internimage_t_512_160k_ade20k.py': dict(
        custom_imports=CUSTOM_IMPORTS,
        optim_wrapper=dict(
            type='OptimWrapper',
            optimizer=dict(type='AdamW', lr=6e-05, betas=(0.9, 0.999), weight_decay=0.05),
            constructor='CustomLayerDecayOptimizerConstructor',
            paramwise_cfg=dict(num_layers=30, layer_decay_rate=1.0, depths=[4, 4, 18, 4])),
        param_scheduler=[LINEAR_WARMUP_1500, poly(160000)],
        **seg_runtime(160000, 16000, dict(by_epoch=False, interval=1000, max_keep_ckpts=1,
                                          save_best='mIoU'))),
    'cascade_internimage_l_fpn_3x_coco.py': dict(
        custom_imports=CUSTOM_IMPORTS,
        optim_wrapper=dict(
            type='OptimWrapper',
            optimizer=dict(type='AdamW', lr=0.0002, weight_decay=0.05),
            constructor='CustomLayerDecayOptimizerConstructor',
            paramwise_cfg=dict(num_layers=37, layer_decay_rate=0.9, depths=[5, 5, 22, 5],
                               offset_lr_scale=0.01),
            clip_grad=None),
        param_scheduler=[
            dict(type='LinearLR', start_factor=0.001, end_factor=1.0, by_epoch=False, begin=0,
                 end=501),
            dict(type='MultiStepLR', milestones=[27, 33], gamma=0.1, by_epoch=True, begin=0)],
        train_cfg=dict(type='EpochBasedTrainLoop', max_epochs=36, val_interval=1),
        val_cfg=dict(type='ValLoop'), test_cfg=dict(type='TestLoop'),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=3,
                                           save_last=True, by_epoch=True, save_best='auto')),
        resume=False),
    'mask2former_beit_adapter_large_640_160k_ade20k_ss.py': dict(
        custom_imports=CUSTOM_IMPORTS,
        optim_wrapper=dict(
            type='OptimWrapper',
            optimizer=dict(type='AdamW', lr=2e-05, betas=(0.9, 0.999), weight_decay=0.05),
            constructor='LayerDecayOptimizerConstructor',
            paramwise_cfg=dict(num_layers=24, layer_decay_rate=0.9)),
        param_scheduler=[LINEAR_WARMUP_1500, poly(160000)],
        **seg_runtime(160000, 16000, dict(by_epoch=False, interval=1000, max_keep_ckpts=1,
                                          save_best='mIoU'))),
    'upernet_beit_base_12_512_slide_160k_ade20k.py': dict(
        custom_imports=CUSTOM_IMPORTS,
        optim_wrapper=dict(
            type='AmpOptimWrapper',
            optimizer=dict(type='AdamW', lr=3e-05, betas=(0.9, 0.999), weight_decay=0.05),
            constructor='LayerDecayOptimizerConstructor',
            paramwise_cfg=dict(num_layers=12, layer_decay_rate=0.9),
            clip_grad=None, loss_scale='dynamic'),
        param_scheduler=[LINEAR_WARMUP_1500, poly(160000)],
        **seg_runtime(160000, 16000, dict(by_epoch=False, interval=16000))),
    'upernet_convnext_base_512_160k_ade20k_ss.py': dict(
        custom_imports=CUSTOM_IMPORTS,
        optim_wrapper=dict(
            type='AmpOptimWrapper',
            optimizer=dict(type='AdamW', lr=0.0001, betas=(0.9, 0.999), weight_decay=0.05),
            constructor='LearningRateDecayOptimizerConstructor',
            paramwise_cfg=dict(decay_rate=0.9, decay_type='stage_wise', num_layers=12),
            clip_grad=None, loss_scale='dynamic'),
        param_scheduler=[LINEAR_WARMUP_1500, poly(160000)],
        **seg_runtime(160000, 16000, dict(by_epoch=False, interval=16000))),
    'upernet_eva02_large_24_512_slide_80k.py': dict(
        custom_imports=CUSTOM_IMPORTS,
        optim_wrapper=dict(
            type='AmpOptimWrapper',
            optimizer=dict(type='AdamW', lr=4e-05, betas=(0.9, 0.999), weight_decay=0.05),
            constructor='LayerDecayOptimizerConstructor',
            paramwise_cfg=dict(num_layers=24, layer_decay_rate=0.9),
            clip_grad=None, loss_scale='dynamic'),
        param_scheduler=[LINEAR_WARMUP_1500, poly(80000)],
        **seg_runtime(80000, 8000, dict(by_epoch=False, interval=8000))),
}
#: Old keys each published config leaves for the user, as the output's header lists them.
NOT_CONVERTED = {
    'upernet_internimage_t_512_160k_ade20k.py': ['pretrained', 'data'],
    'cascade_internimage_l_fpn_3x_coco.py': ['pretrained', 'data', 'custom_hooks'],
    'mask2former_beit_adapter_large_640_160k_ade20k_ss.py': ['crop_size', 'pretrained', 'data'],
    'upernet_beit_base_12_512_slide_160k_ade20k.py': ['crop_size', 'data'],
    'upernet_convnext_base_512_160k_ade20k_ss.py': ['crop_size', 'data'],
    'upernet_eva02_large_24_512_slide_80k.py': ['crop_size', 'data'],
}


# ----- mmcv 1.x's rule (module docstring) -----

def mmcv1_lr(base: float, t: int, lr_config: dict, max_progress: int,
             epoch_length: int = 1, floor: float = 0.0) -> float:
    """The lr of a group with initial lr ``base`` during iteration ``t`` under mmcv 1.x."""
    policy = lr_config['policy']
    progress = t // epoch_length if lr_config.get('by_epoch', True) else t
    if policy == 'poly':
        power = lr_config.get('power', 1.0)
        regular = (base - floor) * (1 - progress / max_progress) ** power + floor
    elif policy == 'step':
        step = lr_config['step']
        exponent = (progress // step if isinstance(step, int)
                    else sum(progress >= milestone for milestone in step))
        regular = base * lr_config.get('gamma', 0.1) ** exponent
        if 'min_lr' in lr_config:
            regular = max(regular, floor)
    elif policy in ('CosineAnnealing', 'cosine'):
        regular = floor + (base - floor) * (1 + math.cos(math.pi * progress / max_progress)) / 2
    else:
        assert policy == 'fixed'
        regular = base
    warmup = lr_config.get('warmup')
    length = lr_config.get('warmup_iters', 0)
    if lr_config.get('warmup_by_epoch'):
        length *= epoch_length
    if warmup is None or t >= length:
        return regular
    ratio = lr_config.get('warmup_ratio', 0.1)
    factor = {'linear': 1 - (1 - t / length) * (1 - ratio),
              'exp': ratio ** (1 - t / length),
              'constant': ratio}[warmup]
    return factor * regular


def simulated(cfg: Config, wrapper: OptimWrapper, iters_per_epoch=None):
    groups = wrapper.optimizer.param_groups
    return simulate_lr_schedule(cfg, wrapper, iters_per_epoch=iters_per_epoch,
                                group_indices=list(range(len(groups))))


def assert_schedule_is_mmcv1(cfg, wrapper, lr_config, max_progress, epoch_length=1,
                             floor_of=lambda base: 0.0, iters_per_epoch=None):
    bases = [group['lr'] for group in wrapper.optimizer.param_groups]
    schedule = simulated(cfg, wrapper, iters_per_epoch)
    assert len(set(bases)) > 1, 'the schedule check needs groups at different lrs'
    for base, lrs in zip(bases, schedule.lr):
        expected = [mmcv1_lr(base, t, lr_config, max_progress, epoch_length, floor_of(base))
                    for t in range(schedule.total_iters)]
        assert lrs == pytest.approx(expected, rel=REL, abs=0)
    return schedule


def stand_in_wrapper(lr: float, rate: float, layers: int) -> OptimWrapper:
    """An optimizer with one group per layer id at ``lr * rate ** (layers + 1 - k)``: the
    layer-decayed groups of a config whose model is not built here (the schedule depends only on
    each group's initial lr)."""
    params = [torch.nn.Parameter(torch.zeros(1)) for _ in range(layers + 2)]
    groups = [dict(params=[param], lr=lr * rate ** (layers + 1 - k))
              for k, param in enumerate(params)]
    return OptimWrapper(torch.optim.AdamW(groups, lr=lr))


def convnext_segmentor():
    from mmpretrain.models import ConvNeXt
    backbone = ConvNeXt(arch=dict(depths=[3, 3, 27, 3], channels=[4] * 4),
                        out_indices=(0, 1, 2, 3), gap_before_final_norm=False)
    model = torch.nn.Module()
    model.backbone = backbone
    model.decode_head = torch.nn.Conv2d(4, 3, 1)
    return model


def shortened(name: str, **runner) -> Config:
    """The published config with a shorter run (same warm-up), for the per-iteration check."""
    old = Config.fromfile(str(FIXTURES / name))
    old.runner.update(runner)
    return old


# ----- the six published configs -----

@pytest.mark.parametrize('name', sorted(EXPECTED))
def test_published_config_converts_to_the_expected_sections(name):
    migration = migrate_config(FIXTURES / name)
    assert migration.sections == EXPECTED[name]
    assert list(migration.not_converted) == NOT_CONVERTED[name]
    # round trip: the rendered file reads back to the same sections
    text = render_migration(migration)
    assert Config.fromstring(text, '.py').to_dict() == as_config(migration).to_dict()
    for key in NOT_CONVERTED[name]:
        assert f'#   - {key}' in text or f', {key}' in text


PRE_EVAL_NOTE = "evaluation {'metric': 'mIoU', 'pre_eval': True}: not converted"
APEX_NOTES = ['optimizer_config coalesce=True, bucket_size_mb=-1: not converted',
              'optimizer_config.use_fp16=True (apex amp, dynamic loss scaling) -> '
              "AmpOptimWrapper(loss_scale='dynamic')",
              "AmpOptimWrapper(loss_scale='dynamic') from use_fp16: MMEngine's AmpOptimWrapper "
              'trains on a GPU, NPU, MLU or MUSA device only',
              'runner IterBasedRunnerAmp (apex) -> the plain loop',
              "evaluation {'metric': 'mIoU'}: not converted"]
#: The start of every note each published config gets: every option without a 2.x meaning.
NOTES = {
    'upernet_internimage_t_512_160k_ade20k.py': [PRE_EVAL_NOTE],
    'cascade_internimage_l_fpn_3x_coco.py': [],
    'mask2former_beit_adapter_large_640_160k_ade20k_ss.py': [PRE_EVAL_NOTE],
    'upernet_beit_base_12_512_slide_160k_ade20k.py': APEX_NOTES,
    'upernet_convnext_base_512_160k_ade20k_ss.py': APEX_NOTES,
    'upernet_eva02_large_24_512_slide_80k.py': APEX_NOTES,
}


@pytest.mark.parametrize('name', sorted(EXPECTED))
def test_published_config_notes_name_every_dropped_option(name):
    notes = migrate_config(FIXTURES / name).notes
    assert len(notes) == len(NOTES[name]), notes
    for note, start in zip(notes, NOTES[name]):
        assert note.startswith(start)


@pytest.mark.parametrize('name, num_layers', [
    ('upernet_beit_base_12_512_slide_160k_ade20k.py', 12),
    ('mask2former_beit_adapter_large_640_160k_ade20k_ss.py', 24),
    ('upernet_eva02_large_24_512_slide_80k.py', 24),
])
def test_beit_style_configs_build_and_follow_mmcv1_every_iteration(name, num_layers):
    """BEiT's ``LayerDecayOptimizerConstructor`` (the name is carried over unchanged) builds
    through ours, with the BEiT / ViT-Adapter reading of its keys."""
    cfg = as_config(migrate_config(shortened(name, max_iters=2000)))
    wrapper_cfg = cfg.optim_wrapper.to_dict()
    assert wrapper_cfg['constructor'] == 'LayerDecayOptimizerConstructor'
    wrapper_cfg.update(type='OptimWrapper')
    wrapper_cfg.pop('loss_scale', None)  # AmpOptimWrapper needs a GPU; the groups are the same
    wrapper = build_optim_wrapper(toy_vit_segmentor(depth=num_layers), wrapper_cfg)
    lrs = sorted({group['lr'] for group in wrapper.optimizer.param_groups})
    base = wrapper_cfg['optimizer']['lr']
    assert lrs[0] == pytest.approx(base * 0.9 ** (num_layers + 1)) and lrs[-1] == base
    lr_config = dict(Config.fromfile(str(FIXTURES / name)).lr_config)
    assert_schedule_is_mmcv1(cfg, wrapper, lr_config, max_progress=2000)


def test_convnext_config_builds_and_follows_mmcv1_every_iteration():
    name = 'upernet_convnext_base_512_160k_ade20k_ss.py'
    cfg = as_config(migrate_config(shortened(name, max_iters=2000)))
    wrapper_cfg = dict(cfg.optim_wrapper.to_dict(), type='OptimWrapper')
    wrapper_cfg.pop('loss_scale')
    wrapper = build_optim_wrapper(convnext_segmentor(), wrapper_cfg)
    scales = sorted({group['lr_scale'] for group in wrapper.optimizer.param_groups})
    assert scales[0] == pytest.approx(0.9 ** 13) and scales[-1] == 1.0  # stage_wise, 12 layers
    lr_config = dict(Config.fromfile(str(FIXTURES / name)).lr_config)
    assert_schedule_is_mmcv1(cfg, wrapper, lr_config, max_progress=2000)


def test_internimage_upernet_builds_as_internimage_and_follows_mmcv1_every_iteration():
    """The converted optimizer builds through our constructor with InternImage's keys, on a
    module with InternImage's names: every parameter as InternImage's rule gives it. InternImage-T
    was published with layer_decay_rate=1.0 (every group at the base lr), so the schedule is
    checked on stand-in groups at layer-decayed lrs."""
    name = 'upernet_internimage_t_512_160k_ade20k.py'
    cfg = as_config(migrate_config(shortened(name, max_iters=2000)))
    model = InternImageUperNet(depths=(4, 4, 18, 4))
    wrapper = build_optim_wrapper(model, dict(cfg.optim_wrapper.to_dict(), type='OptimWrapper'))
    assert lr_wd_by_name(wrapper.optimizer.param_groups) == internimage_expected(
        model, (4, 4, 18, 4), 1.0, segmentation=True, lr=6e-5)
    lr_config = dict(Config.fromfile(str(FIXTURES / name)).lr_config)
    assert_schedule_is_mmcv1(cfg, stand_in_wrapper(6e-5, 0.9, 30), lr_config, max_progress=2000)


def test_internimage_cascade_builds_as_internimage_and_follows_mmcv1_every_iteration():
    """Epoch-based: the step decay per epoch, the linear warm-up per iteration over the first
    500 iterations (an epoch here is 30 iterations, so the warm-up spans epochs 0-16). The
    detection reading of InternImage's keys: offset_lr_scale=0.01 on every offset."""
    name = 'cascade_internimage_l_fpn_3x_coco.py'
    cfg = as_config(migrate_config(FIXTURES / name))
    model = InternImageDINO(depths=(5, 5, 22, 5))
    wrapper = build_optim_wrapper(model, dict(cfg.optim_wrapper.to_dict(), type='OptimWrapper'))
    assert lr_wd_by_name(wrapper.optimizer.param_groups) == internimage_expected(
        model, (5, 5, 22, 5), 0.9, segmentation=False, offset_lr_scale=0.01, lr=2e-4)
    lr_config = dict(Config.fromfile(str(FIXTURES / name)).lr_config)
    schedule = assert_schedule_is_mmcv1(cfg, wrapper, lr_config,
                                        max_progress=36, epoch_length=30, iters_per_epoch=30)
    assert schedule.total_iters == 36 * 30


def test_the_old_optimizer_dict_fails_in_mmengine_and_the_converted_one_builds():
    """Why the constructor has to move up: MMEngine hands optimizer's keys to torch."""
    old = Config.fromfile(str(FIXTURES / 'upernet_beit_base_12_512_slide_160k_ade20k.py'))
    naive = dict(type='OptimWrapper', optimizer=old.optimizer.to_dict())
    with pytest.raises(TypeError, match="unexpected keyword argument 'constructor'"):
        build_optim_wrapper(toy_vit_segmentor(depth=12), naive)


# ----- every lr_config form: MMEngine's chain where exact, LrUpdaterLR elsewhere -----

ITER_RUN = RunLength(by_epoch=False, length=300)
EPOCH_RUN = RunLength(by_epoch=True, length=12)
EPOCH_LENGTH = 20


@pytest.mark.parametrize('lr_config, run, types', [
    (dict(policy='poly', power=0.9, min_lr=0.0, by_epoch=False, warmup='linear',
          warmup_iters=50, warmup_ratio=1e-3), ITER_RUN, ['LinearLR', 'PolyLR']),
    (dict(policy='poly', power=0.9, min_lr=1e-6, by_epoch=False), ITER_RUN, ['PolyLR']),
    (dict(policy='poly', power=1.0, min_lr=1e-6, by_epoch=False, warmup='linear',
          warmup_iters=50, warmup_ratio=0.1), ITER_RUN, ['mmcv_custom.LrUpdaterLR']),
    (dict(policy='poly', by_epoch=False, warmup='exp', warmup_iters=40, warmup_ratio=0.01),
     ITER_RUN, ['mmcv_custom.LrUpdaterLR']),
    (dict(policy='poly', by_epoch=False, warmup='constant', warmup_iters=40,
          warmup_ratio=0.25), ITER_RUN, ['ConstantLR', 'PolyLR']),
    (dict(policy='poly', power=2.0, by_epoch=True, warmup='linear', warmup_iters=30),
     EPOCH_RUN, ['LinearLR', 'PolyLR']),
    (dict(policy='poly', by_epoch=False, warmup='linear', warmup_iters=30), EPOCH_RUN,
     ['mmcv_custom.LrUpdaterLR']),
    (dict(policy='step', step=[5, 9], gamma=0.5, warmup='linear', warmup_iters=25,
          warmup_ratio=0.001), EPOCH_RUN, ['LinearLR', 'MultiStepLR']),
    (dict(policy='step', step=4, warmup='exp', warmup_iters=2, warmup_by_epoch=True,
          warmup_ratio=0.1), EPOCH_RUN, ['mmcv_custom.LrUpdaterLR']),
    (dict(policy='step', step=[100, 200], by_epoch=False, min_lr=1e-9), ITER_RUN,
     ['mmcv_custom.LrUpdaterLR']),
    (dict(policy='step', step=70, gamma=0.3, by_epoch=False), ITER_RUN, ['StepLR']),
    (dict(policy='CosineAnnealing', min_lr_ratio=0.01, warmup='linear', warmup_iters=10),
     EPOCH_RUN, ['mmcv_custom.LrUpdaterLR']),
    (dict(policy='CosineAnnealing', min_lr_ratio=0.01), EPOCH_RUN, ['CosineAnnealingLR']),
    (dict(policy='CosineAnnealing', min_lr=0.0, by_epoch=False, warmup='linear',
          warmup_iters=60, warmup_ratio=0.2), ITER_RUN, ['LinearLR', 'CosineAnnealingLR']),
    (dict(policy='cosine', target_lr=0.0, by_epoch=False), ITER_RUN, ['CosineAnnealingLR']),
    (dict(policy='fixed', warmup='linear', warmup_iters=20, warmup_ratio=0.5, by_epoch=False),
     ITER_RUN, ['LinearLR']),
    (dict(policy='fixed', warmup='exp', warmup_iters=20, by_epoch=False), ITER_RUN,
     ['mmcv_custom.LrUpdaterLR']),
])
def test_lr_config_converts_to_mmcv1s_lr_at_every_iteration(lr_config, run, types):
    wrapper = stand_in_wrapper(1e-3, 0.8, 6)
    optimizer = dict(type='AdamW', lr=1e-3)
    schedulers, _ = convert_lr_config(lr_config, run, optimizer)
    assert [scheduler['type'] for scheduler in schedulers] == types
    length_key = 'max_epochs' if run.by_epoch else 'max_iters'
    cfg = Config(dict(param_scheduler=schedulers, train_cfg={length_key: run.length}))
    by_epoch = lr_config.get('by_epoch', True)
    max_progress = run.length if by_epoch == run.by_epoch else run.length * EPOCH_LENGTH
    ratio = lr_config.get('min_lr_ratio')
    floor_of = ((lambda base: ratio * base) if ratio is not None
                else (lambda base: lr_config.get('min_lr', lr_config.get('target_lr', 0.0))))
    assert_schedule_is_mmcv1(cfg, wrapper, lr_config, max_progress, EPOCH_LENGTH, floor_of,
                             iters_per_epoch=EPOCH_LENGTH if run.by_epoch else None)


# ----- the absolute floor -----

def test_absolute_min_lr_above_a_decayed_group_becomes_a_ratio_with_a_note():
    """mmseg 0.x's default poly floor (min_lr=1e-4) under BEiT-B's layer decay with lr 3e-4: the
    embeddings start at 3e-4 * 0.9 ** 13 = 7.63e-5, which mmcv 1.x would raise towards 1e-4."""
    lr_config = dict(policy='poly', power=0.9, min_lr=1e-4, by_epoch=False, warmup='linear',
                     warmup_iters=100, warmup_ratio=1e-6)
    optimizer = dict(type='AdamW', lr=3e-4)
    paramwise_cfg = dict(num_layers=12, layer_decay_rate=0.9)
    schedulers, notes = convert_lr_config(lr_config, ITER_RUN, optimizer, paramwise_cfg)
    assert schedulers == [dict(type='mmcv_custom.LrUpdaterLR', policy='poly', power=0.9,
                               min_lr_ratio=0.333333333333333, warmup='linear', warmup_iters=100,
                               warmup_ratio=1e-6, max_iters=300, progress_by_epoch=False,
                               by_epoch=False)]
    assert len(notes) == 2
    assert notes[0].startswith('lr_config.min_lr=0.0001 is absolute, and a group can start at '
                               '7.626e-05 (from optimizer.lr and paramwise_cfg), below it')
    wrapper = build_optim_wrapper(toy_vit_segmentor(depth=12), dict(
        type='OptimWrapper', optimizer=optimizer,
        constructor='CustomLayerDecayOptimizerConstructor', paramwise_cfg=paramwise_cfg))
    cfg = Config(dict(param_scheduler=schedulers, train_cfg=dict(max_iters=300)))
    schedule = assert_schedule_is_mmcv1(cfg, wrapper, lr_config, 300,
                                        floor_of=lambda base: 1e-4 * base / 3e-4)
    # no group ever goes above its own start (mmcv 1.x's absolute floor would have raised some)
    for group, lrs in zip(wrapper.optimizer.param_groups, schedule.lr):
        assert max(lrs) <= group['lr']


def test_absolute_min_lr_below_every_group_stays_absolute():
    lr_config = dict(policy='poly', power=1.0, min_lr=1e-8, by_epoch=False)
    schedulers, notes = convert_lr_config(lr_config, ITER_RUN, dict(type='AdamW', lr=1e-3),
                                          dict(num_layers=4, layer_decay_rate=0.9))
    assert schedulers == [dict(type='PolyLR', eta_min=1e-8, power=1.0, by_epoch=False,
                               begin=0, end=301)]
    assert notes == ['lr_config.min_lr=1e-08 kept absolute: no group starts below it (lowest '
                     'initial lr 0.0005905, from optimizer.lr and paramwise_cfg)']


def test_absolute_min_lr_with_num_layers_from_the_model_becomes_a_ratio():
    schedulers, notes = convert_lr_config(
        dict(policy='CosineAnnealing', min_lr=1e-6), EPOCH_RUN, dict(type='SGD', lr=0.1),
        dict(layer_decay_rate=0.75))
    assert schedulers == [dict(type='CosineAnnealingLR', T_max=12, eta_min_ratio=1e-5,
                               by_epoch=True, begin=0, end=13)]
    assert 'paramwise_cfg leaves num_layers to the model, so a group may start below it' in notes[0]


# ----- what is refused, loudly -----

@pytest.mark.parametrize('lr_config, message', [
    (dict(policy='OneCycle', max_lr=0.1), r"policy 'OneCycle' \(OneCycleLrUpdaterHook\) is not "
                                          'converted'),
    (dict(policy='poly', power=1.0, eta_min=0), r"\['eta_min'\] are not arguments of "
                                                'PolyLrUpdaterHook'),
    (dict(policy='CosineAnnealing'), 'exactly one of min_lr and min_lr_ratio'),
    (dict(policy='step'), 'policy step needs step'),
    (dict(policy='poly', warmup='cosine', warmup_iters=3), "warmup 'cosine' is not one of"),
    (dict(policy='poly', warmup='linear', warmup_iters=0), 'warmup_iters must be a positive int'),
    (dict(policy='poly', by_epoch=True), 'counts epochs .* in an iteration-based run'),
    (dict(power=1.0), 'lr_config has no policy'),
])
def test_unconvertible_lr_config_is_an_error_naming_it(lr_config, message):
    with pytest.raises(MigrationError, match=message):
        convert_lr_config(lr_config, ITER_RUN, dict(type='SGD', lr=0.1))


def test_warmup_arguments_without_warmup_are_named_in_a_note():
    schedulers, notes = convert_lr_config(
        dict(policy='poly', by_epoch=False, warmup=None, warmup_iters=100, warmup_ratio=0.1),
        ITER_RUN, dict(type='SGD', lr=0.1))
    assert [scheduler['type'] for scheduler in schedulers] == ['PolyLR']
    assert notes == ["lr_config ['warmup_iters', 'warmup_ratio'] without warmup: no warm-up (as "
                     'in mmcv 1.x)']


def test_absolute_min_lr_without_optimizer_lr_is_an_error():
    with pytest.raises(MigrationError, match='optimizer has no lr'):
        convert_lr_config(dict(policy='poly', min_lr=1e-4, by_epoch=False), ITER_RUN,
                          dict(type='AdamW'))


def write_config(tmp_path, text: str) -> Path:
    path = tmp_path / 'old_config.py'
    path.write_text(text)
    return path


BASIC = ("optimizer = dict(type='SGD', lr=0.01)\n"
         "runner = dict(type='IterBasedRunner', max_iters=100)\n")


@pytest.mark.parametrize('extra, message', [
    ("momentum_config = dict(policy='cyclic')\n", 'momentum_config .* is not converted'),
    ("optimizer = dict(backbone=dict(type='SGD', lr=0.1), head=dict(type='SGD', lr=0.1))\n",
     r"several optimizers \(\['backbone', 'head'\]\)"),
    ("optimizer_config = dict(type='MyHook')\n", "optimizer_config type 'MyHook' is not one"),
    ("runner = dict(type='DynamicRunner', max_iters=4)\n", "runner type 'DynamicRunner'"),
    ("runner = dict(type='IterBasedRunner', max_epochs=4)\n", 'give max_iters'),
])
def test_unconvertible_config_is_an_error_naming_it(tmp_path, extra, message):
    with pytest.raises(MigrationError, match=message):
        migrate_config(write_config(tmp_path, BASIC + extra))


def test_optimizer_hooks_convert_to_wrapper_options(tmp_path):
    path = write_config(tmp_path, BASIC + (
        "optimizer_config = dict(type='GradientCumulativeFp16OptimizerHook', cumulative_iters=4,"
        " grad_clip=dict(max_norm=35, norm_type=2), loss_scale=dict(init_scale=512),"
        " distributed=True)\n"
        "lr_config = dict(policy='fixed')\n"))
    migration = migrate_config(path)
    assert migration.sections['optim_wrapper'] == dict(
        type='AmpOptimWrapper', optimizer=dict(type='SGD', lr=0.01),
        clip_grad=dict(max_norm=35, norm_type=2), accumulative_counts=4,
        loss_scale=dict(init_scale=512))
    assert migration.sections['param_scheduler'] == []
    assert any('distributed=True: not converted' in note for note in migration.notes)


def test_fp16_dict_and_anomaly_detection(tmp_path):
    path = write_config(tmp_path, BASIC + (
        "optimizer_config = dict(grad_clip=None, detect_anomalous_params=True)\n"
        "fp16 = dict(loss_scale=512.)\n"))
    migration = migrate_config(path)
    assert migration.sections['optim_wrapper'] == dict(
        type='AmpOptimWrapper', optimizer=dict(type='SGD', lr=0.01), clip_grad=None,
        loss_scale=512.0)
    assert migration.sections['model_wrapper_cfg'] == dict(type='MMDistributedDataParallel',
                                                           detect_anomalous_params=True)
    assert migration.sections['param_scheduler'] == []
    assert 'no lr_config: constant learning rate (param_scheduler = [])' in migration.notes


# ----- the command line -----

def run_tool(*args):
    return subprocess.run([sys.executable, str(TOOL), *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def test_cli_prints_the_new_config_with_what_it_did_not_convert():
    result = run_tool(FIXTURES / 'upernet_internimage_t_512_160k_ade20k.py')
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == ("# OpenMMLab 2.x optimization settings, converted by mmcv_custom's "
                        'tools/migrate_config.py')  # stdout is the config, nothing before it
    assert '#   - pretrained, data: model / data: changed in mmdet 3, mmseg 1 and mmpretrain 1' \
        in result.stdout
    assert "custom_imports = dict(imports=['mmcv_custom'], allow_failed_imports=False)" in lines


def load_tool():
    import importlib.util
    spec = importlib.util.spec_from_file_location('migrate_config_tool', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_writes_a_config_that_loads(tmp_path):
    out = tmp_path / 'new.py'
    assert load_tool().main([str(FIXTURES / 'upernet_beit_base_12_512_slide_160k_ade20k.py'),
                             '-o', str(out)]) == 0
    cfg = Config.fromfile(str(out))
    expected = EXPECTED['upernet_beit_base_12_512_slide_160k_ade20k.py']
    assert cfg.to_dict() == Config(expected).to_dict()


def test_cli_refuses_with_a_message_and_status_2(tmp_path, capsys):
    path = write_config(tmp_path, BASIC + "lr_config = dict(policy='Cyclic')\n")
    assert load_tool().main([str(path)]) == 2
    captured = capsys.readouterr()
    assert "policy 'Cyclic' (CyclicLrUpdaterHook) is not converted" in captured.err
    assert captured.out == ''


def test_readme_quick_start_shows_the_tools_output():
    readme = (ROOT / 'README.md').read_text()
    section = readme.split('## Quick start: an mmcv 1.x config in one command', 1)[1]
    blocks = [block.split('```', 1)[0] for block in section.split('```python\n')[1:3]]
    published, shown = blocks
    fixture = FIXTURES / 'upernet_internimage_t_512_160k_ade20k.py'
    lines = fixture.read_text().splitlines()
    positions = [lines.index(line) for line in published.splitlines()]
    assert positions == sorted(positions)  # the optimization part as published, in order
    migration = migrate_config(fixture)
    migration.source = 'tests/fixtures/mmcv1_configs/upernet_internimage_t_512_160k_ade20k.py'
    assert shown == render_migration(migration)


def test_rendered_config_reads_back_with_non_identifier_keys_and_long_values(tmp_path):
    keys = {f'backbone.levels.{i}.offset': dict(lr_mult=0.1, decay_mult=0.0) for i in range(4)}
    path = write_config(tmp_path, BASIC + (
        "optimizer = dict(type='AdamW', lr=1e-4, "
        "constructor='CustomLayerDecayOptimizerConstructor', "
        f"paramwise_cfg=dict(num_layers=3, layer_decay_rate=0.9, custom_keys={keys!r}))\n"
        "lr_config = dict(policy='step', step=[30, 60, 90], gamma=0.5, min_lr=1e-5, by_epoch=False,"
        " warmup='exp', warmup_iters=10, warmup_ratio=0.01)\n"))
    migration = migrate_config(path)
    # The header names the old config's path as given, whose length depends on where pytest puts
    # tmp_path (``pytest-of-<user>/pytest-<N>``: 103 columns once N had 3 digits); the values are
    # what must wrap.
    migration.source = 'configs/old_config.py'
    text = render_migration(migration)
    assert "'backbone.levels.0.offset': dict(lr_mult=0.1, decay_mult=0.0)" in text
    assert max(len(line) for line in text.splitlines()) <= 102
    assert Config.fromstring(text, '.py').to_dict() == as_config(migration).to_dict()
    assert migration.sections['optim_wrapper']['paramwise_cfg']['custom_keys'] == keys
    # min_lr 1e-5 is above the lowest group (1e-4 * 0.9 ** 4 * 0.1 = 6.6e-6): a ratio of each
    # group's start
    assert migration.sections['param_scheduler'][0]['min_lr_ratio'] == pytest.approx(0.1)


def test_the_floor_is_judged_against_the_lowest_group_the_recipe_gives():
    """InternImage's backbone_small_lr multiplies every lr below the base by 0.1: with lr 1.0,
    rate 0.5 and 4 layers the embeddings start at 0.5 ** 5 * 0.1 = 0.003125, below min_lr=0.01,
    so the floor becomes a ratio (issue 17, fix 3)."""
    lr_config = dict(policy='poly', power=1.0, min_lr=0.01, by_epoch=False)
    optimizer = dict(type='AdamW', lr=1.0, constructor='CustomLayerDecayOptimizerConstructor')
    paramwise_cfg = dict(num_layers=4, layer_decay_rate=0.5, depths=[1, 1, 1, 1],
                         backbone_small_lr=True)
    schedulers, notes = convert_lr_config(lr_config, ITER_RUN, optimizer, paramwise_cfg)
    assert notes[0].startswith('lr_config.min_lr=0.01 is absolute, and a group can start at '
                               '0.003125')
    assert schedulers == [dict(type='mmcv_custom.PolyLRRatio', eta_min_ratio=0.01, power=1.0,
                               by_epoch=False, begin=0, end=301)]
    built = build_optim_wrapper(InternImageUperNet(depths=(1, 1, 1, 1)), dict(
        type='OptimWrapper', optimizer=dict(type='AdamW', lr=1.0),
        constructor='CustomLayerDecayOptimizerConstructor', paramwise_cfg=paramwise_cfg))
    assert min(g['lr'] for g in built.optimizer.param_groups) == pytest.approx(0.003125)


def test_the_floor_bound_is_unknown_for_a_constructor_mmcv_custom_does_not_know():
    lr_config = dict(policy='poly', power=1.0, min_lr=1e-8, by_epoch=False)
    schedulers, notes = convert_lr_config(
        lr_config, ITER_RUN, dict(type='AdamW', lr=1e-3, constructor='MyLayerDecayConstructor'),
        dict(num_layers=4, layer_decay_rate=0.9))
    assert schedulers[0]['type'] == 'mmcv_custom.PolyLRRatio'
    assert "the lowest initial lr is unknown (constructor 'MyLayerDecayConstructor' is not " \
        "one of mmcv_custom's)" in notes[0]
