"""LrUpdaterLR: mmcv 1.x's lr rule as one MMEngine scheduler -- its arguments are checked, it
resumes from its state, and the scoped names migrate_config writes resolve to mmcv_custom's
classes under every default scope (mmseg has a PolyLRRatio of its own)."""
import pytest
import torch
from mmengine.optim import OptimWrapper
from mmengine.registry import PARAM_SCHEDULERS, DefaultScope

from mmcv_custom import LrUpdaterLR, PolyLRRatio

#: The tests step schedulers without training, which MMEngine warns about.
pytestmark = pytest.mark.filterwarnings('ignore:Detected call of')


def wrapper(*lrs):
    params = [torch.nn.Parameter(torch.zeros(1)) for _ in lrs]
    return OptimWrapper(torch.optim.SGD([dict(params=[p], lr=lr) for p, lr in zip(params, lrs)],
                                        lr=max(lrs)))


def lrs(optim_wrapper):
    return [group['lr'] for group in optim_wrapper.optimizer.param_groups]


@pytest.mark.parametrize('kwargs, error, message', [
    (dict(policy='inv', max_iters=10), ValueError, "policy must be one of .*got 'inv'"),
    (dict(policy='poly'), ValueError, 'exactly one of max_iters and max_epochs'),
    (dict(policy='poly', max_iters=10, max_epochs=2), ValueError, 'exactly one of max_iters'),
    (dict(policy='poly', max_iters=10, progress_by_epoch=True), ValueError,
     'progress_by_epoch=True counts epochs; give max_epochs'),
    (dict(policy='poly', max_iters=10, min_lr=0.1, min_lr_ratio=0.1), ValueError,
     'min_lr or min_lr_ratio, not both'),
    (dict(policy='poly', max_iters=10, min_lr_ratio=1.5), ValueError,
     r'min_lr_ratio must be in \[0.0, 1.0\], got 1.5'),
    (dict(policy='poly', max_iters=10, warmup='cosine', warmup_iters=2), ValueError,
     "warmup must be one of .*got 'cosine'"),
    (dict(policy='poly', max_iters=10, warmup='linear', warmup_iters=0), ValueError,
     'warmup_iters must be a positive int, got 0'),
    (dict(policy='poly', max_iters=10, warmup='linear', warmup_iters=2, warmup_ratio=0),
     ValueError, r'warmup_ratio must be in \(0.0, 1.0\], got 0'),
    (dict(policy='step', max_iters=10, step=[0, 3]), ValueError, 'policy step needs step'),
    (dict(policy='poly', max_iters=10, power='2'), TypeError, "power must be a number, got '2'"),
    (dict(policy='poly', max_epochs=3), ValueError, 'needs the epoch length'),
    (dict(policy='poly', max_iters=10, by_epoch=True), ValueError, 'convert_to_iter_based'),
    (dict(policy='poly', max_iters=10, begin=5), ValueError, 'begin must be 0, got 5'),
])
def test_bad_arguments_are_refused_by_name(kwargs, error, message):
    with pytest.raises(error, match=message):
        LrUpdaterLR(wrapper(0.1), **kwargs)


def test_exp_warmup_multiplies_the_decayed_lr_of_every_group():
    """``ratio ** (1 - t / W) * (base - m) * (1 - t / T) ** power + m`` with ``m = ratio_floor *
    base`` for t < W; the decay runs from t = 0."""
    optim = wrapper(0.1, 0.01)
    scheduler = LrUpdaterLR(optim, policy='poly', power=2.0, min_lr_ratio=0.1, warmup='exp',
                            warmup_iters=4, warmup_ratio=0.01, max_iters=10)
    seen = []
    for _ in range(10):
        seen.append(lrs(optim))
        scheduler.step()
    for t, values in enumerate(seen):
        for base, value in zip((0.1, 0.01), values):
            regular = (base - 0.1 * base) * (1 - t / 10) ** 2 + 0.1 * base
            factor = 0.01 ** (1 - t / 4) if t < 4 else 1.0
            assert value == pytest.approx(factor * regular, rel=1e-12)


def test_resumes_from_its_state_dict():
    first = wrapper(0.1, 0.02)
    scheduler = LrUpdaterLR(first, policy='CosineAnnealing', min_lr=0.001, warmup='linear',
                            warmup_iters=3, max_iters=12)
    for _ in range(5):
        scheduler.step()
    state = scheduler.state_dict()
    second = wrapper(0.1, 0.02)
    for group in second.param_groups:  # as a resumed optimizer's state holds it
        group['initial_lr'] = group['lr']
    resumed = LrUpdaterLR(second, policy='CosineAnnealing', min_lr=0.001, warmup='linear',
                          warmup_iters=3, max_iters=12, last_step=4)
    resumed.load_state_dict(state)
    for _ in range(4):
        scheduler.step()
        resumed.step()
        assert lrs(second) == lrs(first)


def test_convert_to_iter_based_multiplies_the_epoch_counts():
    scheduler = PARAM_SCHEDULERS.build(
        dict(type='LrUpdaterLR', policy='step', step=[2], max_epochs=3, progress_by_epoch=True,
             warmup='constant', warmup_iters=1, warmup_by_epoch=True, warmup_ratio=0.5,
             by_epoch=True, convert_to_iter_based=True, begin=0, end=3),
        default_args=dict(optimizer=wrapper(0.1), epoch_length=5))
    assert (scheduler.by_epoch, scheduler.end, scheduler.warmup_length()) == (False, 15, 5)
    assert [scheduler.value_at(0.1, t) for t in (0, 4, 5, 9, 10)] == pytest.approx(
        [0.05, 0.05, 0.1, 0.1, 0.01])


@pytest.mark.parametrize('scope', [None, 'mmengine', 'mmseg', 'mmdet', 'mmpretrain'])
@pytest.mark.parametrize('name, cls, kwargs', [
    ('mmcv_custom.LrUpdaterLR', LrUpdaterLR, dict(policy='fixed', max_iters=4)),
    ('mmcv_custom.PolyLRRatio', PolyLRRatio, dict(eta_min_ratio=0.1, end=4)),
])
def test_scoped_names_resolve_to_ours_under_every_default_scope(scope, name, cls, kwargs,
                                                                no_default_scope):
    if scope is not None:
        DefaultScope.get_instance(f'test_lr_updater_{scope}', scope_name=scope)
    scheduler = PARAM_SCHEDULERS.build(dict(type=name, **kwargs),
                                       default_args=dict(optimizer=wrapper(0.1)))
    assert type(scheduler) is cls
