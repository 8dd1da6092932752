"""Simulate a config's learning-rate schedule on a built optimizer, without training (step 5 of
the inspector, ``mmcv_custom.analysis``)."""
import copy
import logging
import math
import warnings
from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Tuple

from mmengine.config import Config
from mmengine.optim import OptimWrapper
from mmengine.registry import DATASETS, PARAM_SCHEDULERS

from ._build import _default_scope, _log

#: Epoch length used for epoch-based schedules when neither the option nor the dataset gives one.
DEFAULT_ITERS_PER_EPOCH = 1000
#: About this many evenly spaced iterations are written to ``lr_schedule.json`` (plus boundaries).
JSON_SAMPLES = 500


def representative_groups(param_groups: Sequence[dict]) -> List[Tuple[str, int]]:
    """``(label, index)`` of the embedding group (lowest layer id), a middle block and the head
    (highest layer id); within a layer id the group with the most parameters. Groups without a
    ``layer_id`` count as the head."""
    if not param_groups:
        raise ValueError('the optimizer has no parameter groups')
    ids = [group.get('layer_id') for group in param_groups]
    known = [layer_id for layer_id in ids if layer_id is not None]
    top = max(known) if known else 0
    ids = [top if layer_id is None else layer_id for layer_id in ids]
    low = min(ids)
    distinct = sorted(set(ids))
    middle = min(distinct, key=lambda layer_id: (abs(layer_id - (low + top) / 2), layer_id))

    def largest_with(layer_id: int) -> int:
        candidates = [index for index, value in enumerate(ids) if value == layer_id]
        return max(candidates, key=lambda index: (
            sum(param.numel() for param in param_groups[index]['params']), -index))

    chosen: List[Tuple[str, int]] = []
    for label, layer_id in (('embedding', low), ('middle', middle), ('head', top)):
        index = largest_with(layer_id)
        if index not in [seen for _, seen in chosen]:
            chosen.append((f"{label}: {param_groups[index].get('group_name', index)}", index))
    return chosen


@dataclass
class LrSchedule:
    """The learning rate of some groups at every training iteration.

    ``lr[k][i]`` is the lr of group ``group_indices[k]`` during iteration ``i`` (0-based), i.e. the
    value the optimizer step of that iteration uses.
    """

    total_iters: int
    by_epoch: bool
    iters_per_epoch: Optional[int]
    iters_per_epoch_source: str
    group_indices: List[int]
    labels: List[str]
    group_names: List[str]
    layer_ids: List[Optional[int]]
    lr: List[List[float]]
    #: Iterations at which some scheduler begins or ends.
    boundaries: List[int] = field(default_factory=list)

    def sample_iterations(self, samples: int = JSON_SAMPLES) -> List[int]:
        """Evenly spaced iterations, each boundary and the one before it, and the last one."""
        stride = max(1, self.total_iters // samples)
        picked = set(range(0, self.total_iters, stride)) | {self.total_iters - 1}
        for boundary in self.boundaries:
            picked.update(b for b in (boundary - 1, boundary) if 0 <= b < self.total_iters)
        return sorted(picked)

    def to_json(self) -> dict:
        iterations = self.sample_iterations()
        return {
            'total_iters': self.total_iters,
            'by_epoch': self.by_epoch,
            'iters_per_epoch': self.iters_per_epoch,
            'iters_per_epoch_source': self.iters_per_epoch_source,
            'boundaries': self.boundaries,
            'groups': [{'label': label, 'group_name': name, 'layer_id': layer_id, 'index': index}
                       for label, name, layer_id, index in zip(
                           self.labels, self.group_names, self.layer_ids, self.group_indices)],
            'iterations': iterations,
            'lr': {name: [values[i] for i in iterations]
                   for name, values in zip(self.group_names, self.lr)},
        }


def train_dataloader_length(cfg: Config) -> Optional[int]:
    """Iterations per epoch on one process, if the training dataset can be built here."""
    loader = cfg.get('train_dataloader')
    if not loader or 'dataset' not in loader or 'batch_size' not in loader:
        return None
    try:
        with _default_scope(cfg):
            dataset = DATASETS.build(copy.deepcopy(loader['dataset']))
        size = len(dataset)
    except Exception as error:  # any dataset's way of saying its files are missing
        _log(f'the training dataset cannot be built here ({type(error).__name__}: {error}); '
             'its length is unknown', logging.DEBUG)
        return None
    batch_size = int(loader['batch_size'])
    if loader.get('drop_last', False):
        return max(1, size // batch_size)
    return max(1, math.ceil(size / batch_size))


def _scheduler_cfgs(cfg: Config) -> List[dict]:
    schedulers = cfg.get('param_scheduler')
    if schedulers is None:
        return []
    if isinstance(schedulers, dict):
        if 'type' not in schedulers:
            raise ValueError('param_scheduler given per optimizer (a dict of lists) is not '
                             'supported by the inspector; it simulates a single optimizer')
        schedulers = [schedulers]
    return [dict(copy.deepcopy(scheduler)) for scheduler in schedulers]


def _training_length(cfg: Config) -> Tuple[bool, int]:
    """``(by_epoch, max_epochs or max_iters)`` from ``train_cfg``."""
    train_cfg = cfg.get('train_cfg') or {}
    if 'max_iters' in train_cfg:
        return False, int(train_cfg['max_iters'])
    if 'max_epochs' in train_cfg:
        return True, int(train_cfg['max_epochs'])
    raise ValueError('train_cfg must set max_iters or max_epochs to simulate the schedule; got '
                     f'train_cfg={dict(train_cfg)!r}')


def resolve_iters_per_epoch(cfg: Config, iters_per_epoch: Optional[int]) -> Tuple[int, str]:
    """The epoch length and where it came from: the option, the dataset, or the default."""
    if iters_per_epoch is not None:
        if iters_per_epoch < 1:
            raise ValueError(f'iters_per_epoch must be a positive int, got {iters_per_epoch!r}')
        return int(iters_per_epoch), 'option'
    length = train_dataloader_length(cfg)
    if length is not None:
        return length, 'train dataloader (one process)'
    _log(f'the train dataloader length is unknown (dataset not available); assuming '
         f'{DEFAULT_ITERS_PER_EPOCH} iterations per epoch (set --iters-per-epoch)',
         logging.WARNING)
    return DEFAULT_ITERS_PER_EPOCH, 'default'


def simulate_lr_schedule(cfg: Config, optim_wrapper: OptimWrapper,
                         iters_per_epoch: Optional[int] = None,
                         group_indices: Optional[Sequence[int]] = None) -> LrSchedule:
    """Step the config's own schedulers over the whole training and record the lr of some groups
    (by default ``representative_groups``). The optimizer's ``lr`` values are restored after."""
    groups = optim_wrapper.optimizer.param_groups
    # OptimWrapper.param_groups may end with a tracker of the base lr, which schedulers also step
    tracked = optim_wrapper.param_groups
    if group_indices is None:
        chosen = representative_groups(groups)
    else:
        chosen = [(groups[index].get('group_name', str(index)), index) for index in group_indices]
    indices = [index for _, index in chosen]
    by_epoch, length = _training_length(cfg)
    scheduler_cfgs = _scheduler_cfgs(cfg)
    needs_epoch_length = by_epoch or any(s.get('convert_to_iter_based') for s in scheduler_cfgs)
    epoch_length, source = ((None, 'not needed') if not needs_epoch_length
                            else resolve_iters_per_epoch(cfg, iters_per_epoch))
    total = length * epoch_length if by_epoch else length
    max_epochs, max_iters = (length, total) if by_epoch else (1, length)

    saved = [(group['lr'], 'initial_lr' in group, group.get('initial_lr')) for group in tracked]
    try:
        schedulers = []
        with _default_scope(cfg), warnings.catch_warnings():
            warnings.simplefilter('ignore', UserWarning)  # "scheduler.step() before optimizer"
            for scheduler_cfg in scheduler_cfgs:
                scheduler_cfg.setdefault(
                    'end', max_epochs if scheduler_cfg.get('by_epoch', True) else max_iters)
                default_args = dict(optimizer=optim_wrapper)
                if epoch_length is not None:
                    default_args['epoch_length'] = epoch_length
                schedulers.append(PARAM_SCHEDULERS.build(scheduler_cfg, default_args=default_args))
            per_iter = [s for s in schedulers if not s.by_epoch]
            per_epoch = [s for s in schedulers if s.by_epoch]
            lrs: List[List[float]] = [[] for _ in indices]
            for iteration in range(total):
                for record, index in zip(lrs, indices):
                    record.append(groups[index]['lr'])
                for scheduler in per_iter:
                    scheduler.step()
                if by_epoch and (iteration + 1) % epoch_length == 0:
                    for scheduler in per_epoch:
                        scheduler.step()
        boundaries = sorted({bound * (epoch_length if s.by_epoch else 1)
                             for s in schedulers for bound in (s.begin, s.end)
                             if 0 < bound * (epoch_length if s.by_epoch else 1) < total})
    finally:
        for group, (lr, had_initial, initial) in zip(tracked, saved):
            group['lr'] = lr
            if had_initial:
                group['initial_lr'] = initial
            else:
                group.pop('initial_lr', None)
    return LrSchedule(
        total_iters=total, by_epoch=by_epoch, iters_per_epoch=epoch_length,
        iters_per_epoch_source=source, group_indices=indices,
        labels=[label for label, _ in chosen],
        group_names=[groups[index].get('group_name', str(index)) for index in indices],
        layer_ids=[groups[index].get('layer_id') for index in indices], lr=lrs,
        boundaries=boundaries)
