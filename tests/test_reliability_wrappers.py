"""Our groups under MMEngine's wrappers (AMP bf16 on CPU, accumulation, clipping, EMA) and lr
schedules (warm-up, poly, cosine): every group keeps its own lr, and no floor raises a group."""
import json
import os.path as osp
import sys

import pytest
import torch
from mmengine.optim import build_optim_wrapper
from mmengine.optim.optimizer import amp_optimizer_wrapper
from mmengine.optim.scheduler import CosineAnnealingLR, LinearLR, PolyLR

from mmcv_custom import PolyLRRatio

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), 'dist_scripts'))
from launch import PYTHON, SCRIPTS, run, tail  # noqa: E402
from tiny_train import TinyClassifier  # noqa: E402

BASE_LR = 1e-3


def build(decay_rate=0.75, depth=3, **wrapper):
    torch.manual_seed(0)
    model = TinyClassifier(depth=depth)
    cfg = dict(dict(type='OptimWrapper'), **wrapper)
    cfg.update(optimizer=dict(type='AdamW', lr=BASE_LR, weight_decay=0.05),
               constructor='LearningRateDecayOptimizerConstructor',
               paramwise_cfg=dict(decay_rate=decay_rate))
    return model, build_optim_wrapper(model, cfg)


def loss_of(model, seed=0):
    generator = torch.Generator().manual_seed(seed)
    inputs = torch.randn(4, 3, 16, 16, generator=generator)
    return model(inputs, torch.tensor([0, 1, 2, 0]), mode='loss')['loss']


def groups(optim_wrapper):
    return optim_wrapper.optimizer.param_groups


def assert_lrs_follow_scales(optim_wrapper):
    """Every group's lr is its lr_scale times the head group's lr (lr_scale 1)."""
    head = next(g['lr'] for g in groups(optim_wrapper) if g['lr_scale'] == 1.0)
    for group in groups(optim_wrapper):
        assert group['lr'] == pytest.approx(group['lr_scale'] * head, rel=1e-12), \
            group['group_name']


def snapshot(model):
    return {name: param.detach().clone() for name, param in model.named_parameters()}


# --- wrappers -------------------------------------------------------------------------------

def test_amp_bf16_on_cpu_keeps_groups_and_steps(monkeypatch):
    # MMEngine's AmpOptimWrapper asserts a CUDA-like device, though its autocast and the
    # (self-disabling) GradScaler work on the CPU.
    monkeypatch.setattr(amp_optimizer_wrapper, 'is_cuda_available', lambda: True)
    model, optim_wrapper = build(type='AmpOptimWrapper', dtype='bfloat16')
    before = snapshot(model)
    expected = [(g['group_name'], g['lr'], g['weight_decay']) for g in groups(optim_wrapper)]
    with optim_wrapper.optim_context(model):
        assert model.decode_head(torch.randn(2, 8)).dtype == torch.bfloat16
        loss = loss_of(model)
    optim_wrapper.update_params(loss)
    assert [(g['group_name'], g['lr'], g['weight_decay'])
            for g in groups(optim_wrapper)] == expected
    after = snapshot(model)
    assert all(torch.isfinite(p).all() for p in after.values())
    assert sum(not torch.equal(before[n], after[n]) for n in before) == len(before)


def test_accumulative_counts_steps_every_second_call_with_group_lrs():
    model, optim_wrapper = build(accumulative_counts=2)
    before = snapshot(model)
    with optim_wrapper.optim_context(model):
        optim_wrapper.update_params(loss_of(model, 0))
    assert all(torch.equal(before[n], p) for n, p in model.named_parameters())
    with optim_wrapper.optim_context(model):
        optim_wrapper.update_params(loss_of(model, 1))
    assert not torch.equal(before['decode_head.weight'], model.decode_head.weight)
    assert_lrs_follow_scales(optim_wrapper)


def test_clip_grad_clips_the_global_norm_and_keeps_group_lrs():
    model, optim_wrapper = build(clip_grad=dict(max_norm=0.01, norm_type=2))
    optim_wrapper.backward(loss_of(model))
    optim_wrapper._clip_grad()
    norm = torch.linalg.vector_norm(torch.stack(
        [p.grad.norm() for p in model.parameters() if p.grad is not None]))
    assert norm <= 0.01 * (1 + 1e-4)
    optim_wrapper.step()
    assert_lrs_follow_scales(optim_wrapper)


def test_amp_and_ema_run_resumes_to_the_same_end_as_the_uninterrupted_run(tmp_path):
    common = ['--iters', '6', '--ckpt-interval', '3', '--wrapper', 'amp', '--ema']
    straight, resumed = tmp_path / 'straight', tmp_path / 'resumed'
    for args, rc in (([str(straight)], 0), ([str(resumed), '--stop-after', '3'], 3),
                     ([str(resumed), '--resume'], 0)):
        result = run([PYTHON, osp.join(SCRIPTS, 'tiny_train.py'), '--work-dir', *args, *common])
        assert result.returncode == rc, tail(result)
    from mmcv_custom.compat.checkpoint_loading import load_from_local
    want = load_from_local(str(straight / 'iter_6.pth'))
    got = load_from_local(str(resumed / 'iter_6.pth'))
    assert 'ema_state_dict' in got and 'loss_scaler' in got['optimizer']
    for key in ('state_dict', 'ema_state_dict'):
        for name, tensor in want[key].items():
            assert torch.equal(got[key][name], tensor), (key, name)
    lrs = [json.loads(line) for line in (resumed / 'lrs.jsonl').read_text().splitlines()]
    assert {e['iter']: e['lr'] for e in lrs} == {
        e['iter']: e['lr'] for e in map(json.loads, (straight / 'lrs.jsonl').open())}


# --- schedules ------------------------------------------------------------------------------

def run_schedule(optim_wrapper, schedulers, steps):
    trace = []
    for _ in range(steps):
        trace.append([g['lr'] for g in groups(optim_wrapper)])
        for scheduler in schedulers:
            scheduler.step()
    return trace


@pytest.mark.parametrize('main', [
    lambda ow: PolyLRRatio(ow, eta_min_ratio=0.01, power=0.9, by_epoch=False, begin=3, end=20),
    lambda ow: PolyLRRatio(ow, eta_min=0.0, power=1.0, by_epoch=False, begin=3, end=20),
    lambda ow: PolyLR(ow, eta_min=0.0, power=1.0, by_epoch=False, begin=3, end=20),
    lambda ow: CosineAnnealingLR(ow, T_max=17, eta_min_ratio=0.01, by_epoch=False, begin=3,
                                 end=20),
], ids=['poly_ratio', 'poly_ratio_eta_min_0', 'poly_eta_min_0', 'cosine_eta_min_ratio'])
def test_warm_up_then_decay_keeps_every_groups_lr_scale(main):
    _, optim_wrapper = build()
    warmup = LinearLR(optim_wrapper, start_factor=0.01, by_epoch=False, begin=0, end=3)
    trace = run_schedule(optim_wrapper, [warmup, main(optim_wrapper)], 19)
    scales = [g['lr_scale'] for g in groups(optim_wrapper)]
    for lrs in trace:
        head = max(lrs)
        assert lrs == pytest.approx([s * head for s in scales], rel=1e-9)


def test_polylr_eta_min_above_a_decayed_groups_lr_raises_it_the_trap():
    # mmseg's 160k schedule: PolyLR(eta_min=1e-4); under layer decay the embeddings start below
    _, optim_wrapper = build(decay_rate=0.5)
    start = [g['lr'] for g in groups(optim_wrapper)]
    assert min(start) < 1e-4
    trace = run_schedule(optim_wrapper, [PolyLR(optim_wrapper, eta_min=1e-4, by_epoch=False,
                                                begin=0, end=10)], 10)
    assert trace[-1][0] > start[0]  # MMEngine's PolyLR raised the embedding group


@pytest.mark.parametrize('floor', [dict(eta_min=1e-4), dict(eta_min_ratio=0.1)])
def test_polylr_ratio_never_raises_a_group_above_its_start(floor):
    _, optim_wrapper = build(decay_rate=0.5)
    start = [g['lr'] for g in groups(optim_wrapper)]
    trace = run_schedule(optim_wrapper, [PolyLRRatio(optim_wrapper, by_epoch=False, begin=0,
                                                     end=10, **floor)], 11)
    for lrs in trace:
        assert all(lr <= s * (1 + 1e-12) for lr, s in zip(lrs, start))
    end = trace[-1]
    if 'eta_min_ratio' in floor:
        assert end == pytest.approx([0.1 * s for s in start], rel=1e-9)
    else:
        assert end == pytest.approx([min(1e-4, s) for s in start], rel=1e-9)


def test_polylr_ratio_is_registered_and_built_from_a_config():
    from mmengine.registry import PARAM_SCHEDULERS
    _, optim_wrapper = build()
    scheduler = PARAM_SCHEDULERS.build(dict(type='PolyLRRatio', eta_min_ratio=0.0,
                                            by_epoch=False, end=10),
                                       default_args=dict(optimizer=optim_wrapper))
    assert isinstance(scheduler, PolyLRRatio)
    scoped = PARAM_SCHEDULERS.build(dict(type='mmcv_custom.PolyLRRatio', by_epoch=False, end=10),
                                    default_args=dict(optimizer=optim_wrapper))
    assert isinstance(scoped, PolyLRRatio)


@pytest.mark.parametrize('kwargs, error, message', [
    (dict(eta_min=1e-4, eta_min_ratio=0.1), ValueError, 'give eta_min or eta_min_ratio, not both'),
    (dict(eta_min_ratio=1.5), ValueError, r'eta_min_ratio must be in \[0, 1\], got 1.5'),
    (dict(eta_min=-1.0), ValueError, 'eta_min must be >= 0, got -1.0'),
    (dict(eta_min_ratio='0.1'), TypeError, "eta_min_ratio must be a number, got '0.1'"),
])
def test_polylr_ratio_refuses_bad_floors(kwargs, error, message):
    _, optim_wrapper = build()
    with pytest.raises(error, match=message):
        PolyLRRatio(optim_wrapper, by_epoch=False, end=10, **kwargs)
