"""``LrUpdaterLR``: mmcv 1.x's ``lr_config`` rule as one MMEngine learning-rate scheduler.

Why a scheduler of our own. mmcv 1.x's ``LrUpdaterHook`` computes, before every iteration ``t``
(0-based, counted over the whole run), a *regular* lr for every param group from the group's
initial lr ``base_g``, and multiplies it by a warm-up factor while ``t < warmup_iters``::

    lr_g(t) = warmup_factor(t) * regular_g(progress(t))       (warmup_factor = 1 after warm-up)

The decay starts at iteration 0, under the warm-up. MMEngine's schedulers are chained: each one
rescales the lr the previous one left. A chain reproduces the rule only when every factor is
multiplicative, i.e. when the decay has no floor. With a floor (``min_lr`` / ``min_lr_ratio``),
poly or cosine move the *warmed-up* lr towards the floor, which is not the same; MMEngine has no
single scheduler for the exponential warm-up ``ratio ** (1 - t / W)`` (an ``ExponentialLR`` would
need a ``ConstantLR`` that never ends beside it), and none for a step decay clipped at a floor; a
warm-up counted in epochs ends one iteration early in ``LinearLR`` converted to iterations.
``tools/migrate_config.py`` therefore emits MMEngine's own ``LinearLR`` / ``ConstantLR`` /
``PolyLR`` / ``CosineAnnealingLR`` / ``MultiStepLR`` / ``StepLR`` where their chain is exact, and
this scheduler, which computes the rule above in closed form, where none is.

The rule, with ``P`` the run's length in the units of ``progress`` (``max_epochs`` when
``progress_by_epoch``, else ``max_iters``; under an epoch-based run ``max_epochs`` times the epoch
length), ``m_g`` the group's floor (``min_lr``, or ``min_lr_ratio * base_g``, or 0) and
``p = progress(t)`` (the epoch of iteration ``t`` when ``progress_by_epoch``, else ``t``):

- ``poly``: ``regular_g = (base_g - m_g) * (1 - p / P) ** power + m_g``
- ``CosineAnnealing``: ``regular_g = m_g + (base_g - m_g) * (1 + cos(pi * p / P)) / 2``
- ``step``: ``regular_g = max(base_g * gamma ** k, m_g)`` where ``k`` is ``p // step`` for an int
  ``step``, else the number of milestones ``<= p`` (no floor when neither ``min_lr`` nor
  ``min_lr_ratio`` is given)
- ``fixed``: ``regular_g = base_g``

and, with ``W`` the warm-up length in iterations (``warmup_iters``, times the epoch length when
``warmup_by_epoch``) and ``r`` the ``warmup_ratio``, for ``t < W``:

- ``linear``: ``warmup_factor = 1 - (1 - t / W) * (1 - r)``
- ``exp``: ``warmup_factor = r ** (1 - t / W)``
- ``constant``: ``warmup_factor = r``

Source of the rule: mmcv 1.x ``mmcv/runner/hooks/lr_updater.py`` (``LrUpdaterHook.get_warmup_lr``
multiplies the regular lr; ``PolyLrUpdaterHook``, ``StepLrUpdaterHook``,
``CosineAnnealingLrUpdaterHook``, ``FixedLrUpdaterHook``).

Example (an epoch-based run whose poly decay counts iterations: the epoch length is needed, so the
scheduler is declared by epoch and converted to iterations, as MMEngine does for its own)::

    param_scheduler = [dict(type='LrUpdaterLR', policy='poly', power=0.9, min_lr_ratio=0.01,
                            warmup='exp', warmup_iters=500, warmup_ratio=0.001,
                            max_epochs=12, progress_by_epoch=False,
                            by_epoch=True, convert_to_iter_based=True)]
"""
import math
from typing import Any, List, Optional, Sequence, Union

from mmengine.optim.scheduler.lr_scheduler import LRSchedulerMixin
from mmengine.optim.scheduler.param_scheduler import INF, _ParamScheduler

from .._checks import Interval, check_number, check_positive_int
from ..registry import PARAM_SCHEDULERS, ROOT_PARAM_SCHEDULERS

#: The policies of mmcv 1.x's ``lr_config`` this scheduler computes.
POLICIES = ('poly', 'step', 'CosineAnnealing', 'fixed')
#: The warm-up types of mmcv 1.x's ``LrUpdaterHook``.
WARMUPS = ('linear', 'exp', 'constant')


def _check_step(step: Union[int, Sequence[int], None]) -> Union[int, List[int]]:
    if isinstance(step, int) and not isinstance(step, bool):
        return check_positive_int('LrUpdaterLR: step', step)
    if isinstance(step, (list, tuple)) and step and all(
            isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in step):
        return list(step)
    raise ValueError(f'LrUpdaterLR: policy step needs step, a positive int or a non-empty list of '
                     f'positive ints, got {step!r}')


class LrUpdaterParamScheduler(_ParamScheduler):
    """The closed-form rule of the module docstring for any param (``LrUpdaterLR`` for ``lr``).

    Args:
        optimizer: the optimizer or optim wrapper.
        param_name (str): the param-group key to schedule.
        policy (str): ``'poly'``, ``'step'``, ``'CosineAnnealing'`` or ``'fixed'``.
        max_iters (int, optional) / max_epochs (int, optional): the run's length; exactly one.
            ``max_epochs`` with ``progress_by_epoch=False`` needs the epoch length.
        progress_by_epoch (bool): count the decay's progress in epochs (mmcv 1.x's
            ``lr_config.by_epoch``). Default False.
        power (float): poly power. Default 1.0.
        step (int | list[int], optional): step interval or milestones (policy ``step`` only).
        gamma (float): step decay factor. Default 0.1.
        min_lr (float, optional) / min_lr_ratio (float, optional): absolute floor, or floor as a
            fraction of each group's initial lr; at most one. Default: no floor (0 for poly and
            cosine).
        warmup (str, optional): ``'linear'``, ``'exp'``, ``'constant'`` or None (default).
        warmup_iters (int): warm-up length (epochs when ``warmup_by_epoch``). Needed with warmup.
        warmup_ratio (float): the factor at iteration 0, in (0, 1]. Default 0.1 (mmcv 1.x's).
        warmup_by_epoch (bool): ``warmup_iters`` counts epochs. Default False.
        epoch_length (int, optional): iterations per epoch; set by ``build_iter_from_epoch``
            (``by_epoch=True, convert_to_iter_based=True`` in a config).
        begin, end, last_step, by_epoch, verbose: as in MMEngine's schedulers. The scheduler
            must step every iteration: ``by_epoch=True`` is accepted only through
            ``convert_to_iter_based``.

    Raises:
        ValueError / TypeError: on any argument out of its range, naming it and its value.
    """

    def __init__(self, optimizer: Any, param_name: str, policy: str,
                 max_iters: Optional[int] = None, max_epochs: Optional[int] = None,
                 progress_by_epoch: bool = False, power: float = 1.0,
                 step: Union[int, Sequence[int], None] = None, gamma: float = 0.1,
                 min_lr: Optional[float] = None, min_lr_ratio: Optional[float] = None,
                 warmup: Optional[str] = None, warmup_iters: int = 0, warmup_ratio: float = 0.1,
                 warmup_by_epoch: bool = False, epoch_length: Optional[int] = None,
                 begin: int = 0, end: int = INF, last_step: int = -1, by_epoch: bool = False,
                 verbose: bool = False) -> None:
        if policy not in POLICIES:
            raise ValueError(f'LrUpdaterLR: policy must be one of {POLICIES}, got {policy!r}')
        if by_epoch:
            raise ValueError('LrUpdaterLR: the rule is applied every iteration; declare it with '
                             'by_epoch=False, or by_epoch=True with convert_to_iter_based=True '
                             'when it needs the epoch length')
        if begin != 0:
            raise ValueError(f'LrUpdaterLR: mmcv 1.x\'s rule starts at iteration 0; begin must '
                             f'be 0, got {begin!r}')
        if (max_iters is None) == (max_epochs is None):
            raise ValueError('LrUpdaterLR: give exactly one of max_iters and max_epochs (got '
                             f'max_iters={max_iters!r}, max_epochs={max_epochs!r})')
        if max_iters is not None and progress_by_epoch:
            raise ValueError('LrUpdaterLR: progress_by_epoch=True counts epochs; give '
                             'max_epochs, not max_iters')
        if min_lr is not None and min_lr_ratio is not None:
            raise ValueError('LrUpdaterLR: give min_lr or min_lr_ratio, not both (got '
                             f'min_lr={min_lr!r}, min_lr_ratio={min_lr_ratio!r})')
        if warmup is not None and warmup not in WARMUPS:
            raise ValueError(f'LrUpdaterLR: warmup must be one of {WARMUPS} or None, got '
                             f'{warmup!r}')
        self.policy = policy
        self.max_iters = (None if max_iters is None
                          else check_positive_int('LrUpdaterLR: max_iters', max_iters))
        self.max_epochs = (None if max_epochs is None
                           else check_positive_int('LrUpdaterLR: max_epochs', max_epochs))
        self.progress_by_epoch = bool(progress_by_epoch)
        self.power = check_number('LrUpdaterLR: power', power, Interval(low=0.0))
        self.step_arg = _check_step(step) if policy == 'step' else None
        self.gamma = check_number('LrUpdaterLR: gamma', gamma, Interval(low=0.0))
        self.min_lr = (None if min_lr is None
                       else check_number('LrUpdaterLR: min_lr', min_lr, Interval(low=0.0)))
        self.min_lr_ratio = (None if min_lr_ratio is None
                             else check_number('LrUpdaterLR: min_lr_ratio', min_lr_ratio,
                                               Interval(low=0.0, high=1.0)))
        self.warmup = warmup
        self.warmup_by_epoch = bool(warmup_by_epoch)
        if warmup is not None:
            self.warmup_iters = check_positive_int('LrUpdaterLR: warmup_iters', warmup_iters)
            self.warmup_ratio = check_number('LrUpdaterLR: warmup_ratio', warmup_ratio,
                                             Interval(low=0.0, high=1.0, low_open=True))
        else:
            self.warmup_iters, self.warmup_ratio = 0, 1.0
        self.epoch_length = (None if epoch_length is None
                             else check_positive_int('LrUpdaterLR: epoch_length', epoch_length))
        needs_epoch_length = (self.progress_by_epoch or self.warmup_by_epoch
                              or self.max_epochs is not None)
        if needs_epoch_length and self.epoch_length is None:
            raise ValueError('LrUpdaterLR: this rule counts epochs (progress_by_epoch, '
                             'warmup_by_epoch or max_epochs) and needs the epoch length: declare '
                             'it with by_epoch=True, convert_to_iter_based=True')
        super().__init__(optimizer, param_name=param_name, begin=begin, end=end,
                         last_step=last_step, by_epoch=False, verbose=verbose)

    @classmethod
    def build_iter_from_epoch(cls, *args: Any, begin: int = 0, end: int = INF,
                              by_epoch: bool = True,
                              epoch_length: Optional[int] = None,
                              **kwargs: Any) -> 'LrUpdaterParamScheduler':
        """An iteration-based instance, given the epoch length (``convert_to_iter_based``)."""
        if not by_epoch:
            raise ValueError('LrUpdaterLR: convert_to_iter_based needs by_epoch=True')
        if epoch_length is None or epoch_length < 1:
            raise ValueError(f'LrUpdaterLR: epoch_length must be a positive int, got '
                             f'{epoch_length!r}')
        end = end if end == INF else end * epoch_length
        return cls(*args, begin=begin * epoch_length, end=end, by_epoch=False,
                   epoch_length=epoch_length, **kwargs)

    # ----- the rule -----

    def total_progress(self) -> int:
        """``P``: the run's length in the units of the decay's progress."""
        if self.progress_by_epoch:
            return self.max_epochs
        if self.max_iters is not None:
            return self.max_iters
        return self.max_epochs * self.epoch_length

    def progress(self, iteration: int) -> int:
        """The decay's progress during ``iteration``: its epoch, or the iteration itself."""
        return iteration // self.epoch_length if self.progress_by_epoch else iteration

    def floor(self, base: float) -> Optional[float]:
        """``m_g`` for a group starting at ``base`` (None: no floor)."""
        if self.min_lr_ratio is not None:
            return self.min_lr_ratio * base
        return self.min_lr

    def regular(self, base: float, progress: int) -> float:
        """The lr of a group starting at ``base`` without warm-up."""
        floor = self.floor(base)
        if self.policy == 'fixed':
            return base
        if self.policy == 'step':
            if isinstance(self.step_arg, int):
                exponent = progress // self.step_arg
            else:
                exponent = sum(1 for milestone in self.step_arg if progress >= milestone)
            value = base * self.gamma ** exponent
            return value if floor is None else max(value, floor)
        floor = 0.0 if floor is None else floor
        fraction = progress / self.total_progress()
        if self.policy == 'poly':
            return (base - floor) * (1 - fraction) ** self.power + floor
        return floor + (base - floor) * (1 + math.cos(math.pi * fraction)) / 2

    def warmup_length(self) -> int:
        """``W`` in iterations (0 without warm-up)."""
        if self.warmup is None:
            return 0
        return self.warmup_iters * (self.epoch_length if self.warmup_by_epoch else 1)

    def warmup_factor(self, iteration: int) -> float:
        """The factor on the regular lr during ``iteration`` (1 after the warm-up)."""
        length = self.warmup_length()
        if iteration >= length:
            return 1.0
        if self.warmup == 'constant':
            return self.warmup_ratio
        if self.warmup == 'linear':
            return 1 - (1 - iteration / length) * (1 - self.warmup_ratio)
        return self.warmup_ratio ** (1 - iteration / length)

    def value_at(self, base: float, iteration: int) -> float:
        """``lr_g(t)`` of the module docstring."""
        return self.warmup_factor(iteration) * self.regular(base, self.progress(iteration))

    def _get_value(self) -> List[float]:
        return [self.value_at(base, self.last_step) for base in self.base_values]


@PARAM_SCHEDULERS.register_module()
class LrUpdaterLR(LRSchedulerMixin, LrUpdaterParamScheduler):
    """mmcv 1.x's ``lr_config`` (poly, step, CosineAnnealing, fixed; linear / exp / constant
    warm-up applied to the already-decayed lr) in closed form; see the module docstring for the
    rule, the arguments and why ``tools/migrate_config.py`` uses it only where MMEngine's chained
    schedulers are not exact."""


ROOT_PARAM_SCHEDULERS.register_module(module=LrUpdaterLR, force=True)
