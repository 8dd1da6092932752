"""``PolyLRRatio``: polynomial lr decay whose floor never raises a layer-decayed group.

The trap. MMEngine's ``PolyLR(eta_min=...)`` moves *every* group towards the same absolute floor::

    lr_t = (lr_{t-1} - eta_min) * (1 - 1 / (T - t + 1)) ** power + eta_min

Under layer decay the embeddings of a deep ViT start far below the base lr (``6e-5 * 0.9 ** 25``
is about ``4e-6``). mmseg's default 160k schedule uses ``eta_min=1e-4``, so for such a group
``lr_{t-1} - eta_min`` is negative and the schedule *raises* its lr to ``1e-4``, silently undoing
the decay. ``CosineAnnealingLR`` has the same trap with ``eta_min``; it offers ``eta_min_ratio``,
which scales the floor per group, and is the fix there.

``PolyLRRatio`` gives ``PolyLR`` the same choice. Each group ``g`` with initial lr ``base_g``
gets its own floor ``eta_min_g``:

- ``eta_min_ratio=r`` (a number in [0, 1]): ``eta_min_g = r * base_g``; every group ends at the same
  fraction of its start, so the layer-decay ratios hold for the whole run.
- ``eta_min=e`` (a number >= 0, the default 0): ``eta_min_g = min(e, base_g)``; an absolute floor
  for the groups that start above it, while a group that starts below it is left where it is.

Exactly one of the two may be given. Everything else (``power``, ``begin``, ``end``, ``by_epoch``,
``convert_to_iter_based``) is ``PolyLR``'s.

Example (mmseg's 160k schedule with layer decay)::

    custom_imports = dict(imports=['mmcv_custom'], allow_failed_imports=False)
    param_scheduler = [
        dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1500),
        dict(type='PolyLRRatio', eta_min_ratio=0.0, power=1.0, begin=1500, end=160000,
             by_epoch=False),
    ]
"""
from typing import Any, List, Optional

from mmengine.optim.scheduler.lr_scheduler import LRSchedulerMixin
from mmengine.optim.scheduler.param_scheduler import INF, PolyParamScheduler

from .._checks import NON_NEGATIVE, Interval, check_number
from ..registry import PARAM_SCHEDULERS, ROOT_PARAM_SCHEDULERS


def _check_floor(eta_min: Optional[float], eta_min_ratio: Optional[float]) -> None:
    if eta_min is not None and eta_min_ratio is not None:
        raise ValueError('PolyLRRatio: give eta_min or eta_min_ratio, not both (got '
                         f'eta_min={eta_min!r}, eta_min_ratio={eta_min_ratio!r})')
    if eta_min is not None:
        check_number('PolyLRRatio: eta_min', eta_min, NON_NEGATIVE)
    if eta_min_ratio is not None:
        check_number('PolyLRRatio: eta_min_ratio', eta_min_ratio, Interval(low=0, high=1))


class PolyParamSchedulerRatio(PolyParamScheduler):
    """``PolyParamScheduler`` with a floor per group (see the module docstring)."""

    def __init__(self, optimizer: Any, param_name: str, eta_min: Optional[float] = None,
                 power: float = 1.0, begin: int = 0, end: int = INF, last_step: int = -1,
                 by_epoch: bool = True, verbose: bool = False,
                 eta_min_ratio: Optional[float] = None) -> None:
        _check_floor(eta_min, eta_min_ratio)
        self.eta_min_ratio = eta_min_ratio
        super().__init__(optimizer, param_name=param_name,
                         eta_min=0.0 if eta_min is None else float(eta_min), power=power,
                         begin=begin, end=end, last_step=last_step, by_epoch=by_epoch,
                         verbose=verbose)

    def group_floors(self) -> List[float]:
        """``eta_min_g`` for every param group, in order."""
        if self.eta_min_ratio is not None:
            return [base * self.eta_min_ratio for base in self.base_values]
        return [min(self.eta_min, base) for base in self.base_values]

    def _get_value(self) -> List[float]:
        groups = self.optimizer.param_groups
        if self.last_step == 0:
            return [group[self.param_name] for group in groups]
        factor = (1 - 1 / (self.total_iters - self.last_step + 1)) ** self.power
        return [(group[self.param_name] - floor) * factor + floor
                for group, floor in zip(groups, self.group_floors())]


@PARAM_SCHEDULERS.register_module()
class PolyLRRatio(LRSchedulerMixin, PolyParamSchedulerRatio):
    """Polynomial lr decay with a per-group floor: ``eta_min_ratio`` times each group's initial lr,
    or an absolute ``eta_min`` that never raises a group starting below it.

    Args:
        optimizer: the optimizer or optim wrapper.
        eta_min (float, optional): absolute floor, capped at each group's initial lr. Default 0.
        eta_min_ratio (float, optional): floor as a fraction (in [0, 1]) of each group's initial
            lr. Exclusive with ``eta_min``.
        power (float): the polynomial power. Default 1.0.
        begin, end, last_step, by_epoch, verbose: as in MMEngine's ``PolyLR``.
    """


ROOT_PARAM_SCHEDULERS.register_module(module=PolyLRRatio, force=True)
