"""Inspect a config's layer-decay parameter groups and simulate its learning-rate schedule.

What the inspector does, step by step (each step is a function here, usable on its own):

1. ``load_config``: read the config, merge ``--cfg-options``, import its ``custom_imports``.
2. ``build_model``: build ``cfg.model`` under the config's default scope, on the ``meta`` device
   when asked (no memory, no weights; ``init_weights`` is never called). A model whose constructor
   needs real tensors (mmpretrain's ConvNeXt reads ``torch.linspace(...).item()``) is built on the
   CPU instead, with a warning.
3. ``build_optim_wrapper_for_inspection``: ``mmengine.optim.build_optim_wrapper`` with the config's
   ``optim_wrapper`` (so through its constructor). ``AmpOptimWrapper`` refuses to be built without
   an accelerator; there it is replaced by ``OptimWrapper``, which builds the same groups.
4. ``mmcv_custom.engine.group_records``: the groups as ``param_groups.json`` holds them (the same
   schema the training hook ``LayerDecayLrHook`` writes into the work dir).
5. ``simulate_lr_schedule``: MMEngine's own schedulers, built from ``cfg.param_scheduler`` on the
   built optimizer exactly as the ``Runner`` builds them (default ``end``, ``convert_to_iter_based``
   with the epoch length), stepped as ``ParamSchedulerHook`` steps them (iteration-based ones after
   every iteration, epoch-based ones after every epoch) over the whole training, without training.
   The optimizer's groups are restored afterwards.
6. ``plot_lr_by_layer`` / ``plot_lr_schedule``: figures drawn with matplotlib's Agg canvas
   (matplotlib is imported only here).

``inspect_config`` runs all of it and writes, into one folder:

- ``param_groups.json``: ``{group_name: {param_names, lr_scale, lr, weight_decay, layer_id,
  num_tensors, num_params}}``, one entry per named group in the optimizer's order;
- ``inspection.json``: what was inspected and how (config, device, optim_wrapper type,
  constructor, paramwise_cfg, optimizer, num_groups, num_params, notes);
- ``lr_schedule.json``, ``lr_by_layer.png`` and ``lr_schedule.png``.
"""
import copy
import json
import logging
import math
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import torch
from mmengine.config import Config
from mmengine.device import (is_cuda_available, is_mlu_available, is_musa_available,
                             is_npu_available)
from mmengine.logging import MMLogger
from mmengine.optim import OptimWrapper, build_optim_wrapper
from mmengine.registry import DATASETS, MODELS, PARAM_SCHEDULERS, DefaultScope
from mmengine.utils import import_modules_from_strings
from torch import nn
from torch.overrides import TorchFunctionMode

#: Epoch length used for epoch-based schedules when neither the option nor the dataset gives one.
DEFAULT_ITERS_PER_EPOCH = 1000
#: ``AmpOptimWrapper`` arguments that ``OptimWrapper`` does not take.
AMP_ONLY_KEYS = ('loss_scale', 'dtype', 'use_fsdp')
#: About this many evenly spaced iterations are written to ``lr_schedule.json`` (plus boundaries).
JSON_SAMPLES = 500

PathLike = Union[str, Path]


def _log(message: str, level: int = logging.INFO) -> None:
    MMLogger.get_current_instance().log(level, message)


def load_config(path: PathLike, cfg_options: Optional[Dict[str, Any]] = None) -> Config:
    """The config at ``path`` with ``cfg_options`` merged and its ``custom_imports`` imported."""
    cfg = Config.fromfile(str(path))
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    custom_imports = cfg.get('custom_imports')
    if custom_imports:
        import_modules_from_strings(**custom_imports)
    return cfg


def _default_scope(cfg: Config):
    return DefaultScope.overwrite_default_scope(cfg.get('default_scope'))


#: Factories that allocate storage (parameters, buffers): sent to ``meta`` by ``MetaAllocation``.
ALLOCATING_FACTORIES = frozenset({
    torch.empty, torch.empty_strided, torch.empty_permuted, torch.zeros, torch.ones, torch.full,
    torch.rand, torch.randn, torch.randint,
})


class MetaAllocation(TorchFunctionMode):
    """Inside this mode, allocating factories without a ``device`` (``torch.empty``, ``zeros``,
    ``ones``, ``full``, ``rand*``: how modules create their parameters) create ``meta`` tensors.

    Value factories (``arange``, ``linspace``, ``tensor`` ...) stay on the CPU, because model
    constructors read their values: mmseg's ViT and mmpretrain's ConvNeXt take drop-path rates
    from ``torch.linspace(...)`` with ``.item()``, which ``with torch.device('meta')`` refuses.
    """

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        if func in ALLOCATING_FACTORIES and kwargs.get('device') is None:
            kwargs['device'] = torch.device('meta')
        return func(*args, **kwargs)


def build_model(cfg: Config, meta: bool = False) -> nn.Module:
    """``cfg.model`` built under the config's default scope, without ``init_weights``.

    With ``meta=True`` the parameters are allocated on the ``meta`` device (see
    ``MetaAllocation``; small buffers computed from values may stay on the CPU). If the model's
    constructor still needs real values of a meta tensor, it is built on the CPU, with a warning.
    """
    with _default_scope(cfg):
        if meta:
            try:
                with MetaAllocation():
                    return MODELS.build(copy.deepcopy(cfg.model))
            except (RuntimeError, NotImplementedError) as error:
                if 'meta' not in str(error):
                    raise
                _log(f'the model cannot be built on the meta device ({error}); building it on '
                     'the CPU instead', logging.WARNING)
        return MODELS.build(copy.deepcopy(cfg.model))


def _has_accelerator() -> bool:
    return (is_cuda_available() or is_npu_available() or is_mlu_available()
            or is_musa_available())


def optim_wrapper_cfg_for_inspection(cfg: Config) -> Tuple[dict, List[str]]:
    """``cfg.optim_wrapper`` as a plain dict, and notes on what had to change to build it here.

    ``AmpOptimWrapper`` asserts that a GPU (or NPU, MLU, MUSA) is present; without one it becomes
    ``OptimWrapper`` (loss scaling and the autocast dtype do not change the parameter groups).
    """
    wrapper_cfg = copy.deepcopy(cfg.optim_wrapper)
    wrapper_cfg = wrapper_cfg.to_dict() if hasattr(wrapper_cfg, 'to_dict') else dict(wrapper_cfg)
    notes = []
    if wrapper_cfg.get('type') == 'AmpOptimWrapper' and not _has_accelerator():
        wrapper_cfg['type'] = 'OptimWrapper'
        dropped = [key for key in AMP_ONLY_KEYS if wrapper_cfg.pop(key, None) is not None]
        notes.append('AmpOptimWrapper needs an accelerator; built as OptimWrapper instead '
                     f'(dropped {dropped}); the parameter groups are the same')
    return wrapper_cfg, notes


def build_optim_wrapper_for_inspection(model: nn.Module,
                                       cfg: Config) -> Tuple[OptimWrapper, List[str]]:
    """The config's optimizer wrapper for ``model``, built through its constructor."""
    wrapper_cfg, notes = optim_wrapper_cfg_for_inspection(cfg)
    with _default_scope(cfg):
        return build_optim_wrapper(model, wrapper_cfg), notes


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


def _new_figure(width: float, height: float, rows: int = 1, cols: int = 1, **kwargs):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), layout='constrained')
    FigureCanvasAgg(figure)
    axes = figure.subplots(rows, cols, squeeze=False, **kwargs)
    return figure, axes


def plot_lr_by_layer(records: Mapping[str, dict], path: PathLike, title: str = '') -> Path:
    """lr (log scale) and weight decay against layer id, one point per group of ``records``
    (``group_records``: group name to record)."""
    figure, axes = _new_figure(9, 6, 2, 1, sharex=True)
    lr_axis, wd_axis = axes[0, 0], axes[1, 0]
    styles = (('decay', True, 'o', 'tab:blue', 0.12), ('no decay', False, 'v', 'tab:orange', -0.12))
    for label, decays, marker, color, offset in styles:
        chosen = [r for r in records.values() if ((r['weight_decay'] or 0) > 0) == decays]
        if not chosen:
            continue
        xs = [(r['layer_id'] if r['layer_id'] is not None else -1) + offset for r in chosen]
        lr_axis.scatter(xs, [r['lr'] for r in chosen], marker=marker, color=color, label=label,
                        zorder=3)
        wd_axis.scatter(xs, [r['weight_decay'] for r in chosen], marker=marker, color=color,
                        label=label, zorder=3)
    lr_axis.set_yscale('log')
    lr_axis.set_ylabel('learning rate (log)')
    lr_axis.grid(True, which='both', alpha=0.3)
    lr_axis.legend(title='groups')
    wd_axis.set_ylabel('weight decay')
    wd_axis.set_xlabel('layer id (0 = embeddings, max = head)')
    wd_axis.grid(True, alpha=0.3)
    if title:
        figure.suptitle(title)
    path = Path(path)
    figure.savefig(path, dpi=110)
    return path


def plot_lr_schedule(schedule: LrSchedule, path: PathLike, title: str = '') -> Path:
    """The lr of the recorded groups over the training, on a linear and on a log axis."""
    figure, axes = _new_figure(12, 4.5, 1, 2)
    iterations = range(schedule.total_iters)
    for axis, scale in ((axes[0, 0], 'linear'), (axes[0, 1], 'log')):
        for label, values in zip(schedule.labels, schedule.lr):
            positive = values if scale == 'linear' else [v if v > 0 else float('nan')
                                                         for v in values]
            axis.plot(iterations, positive, label=label, linewidth=1.4)
        for boundary in schedule.boundaries:
            axis.axvline(boundary, color='grey', linewidth=0.6, linestyle=':')
        axis.set_yscale(scale)
        axis.set_xlabel('iteration')
        axis.set_ylabel(f'learning rate ({scale})')
        axis.grid(True, which='both', alpha=0.3)
    axes[0, 0].legend()
    epochs = (f', {schedule.iters_per_epoch} iters/epoch ({schedule.iters_per_epoch_source})'
              if schedule.by_epoch else '')
    figure.suptitle(f'{title}{" - " if title else ""}{schedule.total_iters} iterations{epochs}')
    path = Path(path)
    figure.savefig(path, dpi=110)
    return path


@dataclass
class Inspection:
    """What ``inspect_config`` found and wrote; ``groups`` is the content of
    ``param_groups.json``."""

    config: str
    out_dir: Path
    device: str
    num_params: int
    groups: Dict[str, dict]
    table: str
    schedule: LrSchedule
    notes: List[str]
    seconds: Dict[str, float]
    files: Dict[str, Path]
    #: ``mmcv_custom.analysis.memory.memory_report`` when asked for (``memory_gpus``), else None.
    memory: Optional[dict] = None


def default_out_dir(config: PathLike) -> Path:
    """``work_dirs/<config stem>/param_groups``."""
    return Path('work_dirs') / Path(config).stem / 'param_groups'


def inspect_config(config: PathLike, out_dir: Optional[PathLike] = None, meta: bool = False,
                   cfg_options: Optional[Dict[str, Any]] = None,
                   iters_per_epoch: Optional[int] = None, draw: bool = True,
                   memory_gpus: Optional[int] = None) -> Inspection:
    """Build the model and optimizer of ``config``, simulate its schedule, write the outputs;
    with ``memory_gpus``, also the per-GPU memory of each engine (``memory.json``,
    :mod:`.memory`)."""
    from ..engine import format_table, group_records

    seconds: Dict[str, float] = {}
    start = time.perf_counter()
    cfg = load_config(config, cfg_options)
    seconds['config'] = time.perf_counter() - start

    mark = time.perf_counter()
    model = build_model(cfg, meta=meta)
    seconds['model'] = time.perf_counter() - mark
    first = next(model.parameters(), None)
    device = str(first.device) if first is not None else 'cpu'

    mark = time.perf_counter()
    optim_wrapper, notes = build_optim_wrapper_for_inspection(model, cfg)
    seconds['optimizer'] = time.perf_counter() - mark
    groups = optim_wrapper.optimizer.param_groups
    records = group_records(groups)
    unnamed = len(groups) - len(records)
    if unnamed:
        notes.append(f'{unnamed} of {len(groups)} groups have no group_name (not built by a '
                     'layer-decay constructor); param_groups.json lists only the named ones')

    mark = time.perf_counter()
    schedule = simulate_lr_schedule(cfg, optim_wrapper, iters_per_epoch=iters_per_epoch)
    seconds['schedule'] = time.perf_counter() - mark

    out = Path(out_dir) if out_dir is not None else default_out_dir(config)
    out.mkdir(parents=True, exist_ok=True)
    num_params = sum(param.numel() for group in groups for param in group['params'])
    optimizer_cfg = cfg.optim_wrapper.get('optimizer', {})
    inspection = {
        'config': str(config),
        'device': device,
        'optim_wrapper': cfg.optim_wrapper.get('type'),
        'constructor': cfg.optim_wrapper.get('constructor', 'DefaultOptimWrapperConstructor'),
        'paramwise_cfg': _plain(cfg.optim_wrapper.get('paramwise_cfg')),
        'optimizer': _plain(optimizer_cfg),
        'num_groups': len(groups),
        'num_params': num_params,
        'notes': notes,
    }
    contents = {'param_groups.json': records, 'inspection.json': inspection,
                'lr_schedule.json': schedule.to_json()}
    memory = None
    if memory_gpus is not None:
        from .memory import memory_report
        memory = contents['memory.json'] = memory_report(model, cfg, gpus=memory_gpus)
    files = {name: out / name for name in contents}
    for name, content in contents.items():
        files[name].write_text(json.dumps(content, indent=2))
    if draw:
        mark = time.perf_counter()
        stem = Path(config).stem
        files['lr_by_layer.png'] = plot_lr_by_layer(records, out / 'lr_by_layer.png', stem)
        files['lr_schedule.png'] = plot_lr_schedule(schedule, out / 'lr_schedule.png', stem)
        seconds['figures'] = time.perf_counter() - mark
    seconds['total'] = time.perf_counter() - start
    return Inspection(config=str(config), out_dir=out, device=device, num_params=num_params,
                      groups=records, table=format_table(groups), schedule=schedule,
                      notes=notes, seconds=seconds, files=files, memory=memory)


def _plain(value: Any) -> Any:
    """ConfigDicts and tuples as JSON-ready dicts and lists."""
    if hasattr(value, 'to_dict'):
        value = value.to_dict()
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return repr(value)
