"""``inspect_config``: every step of the inspector, and the files it writes
(``mmcv_custom.analysis``)."""
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional

from ..layer_decay._report import format_table, group_records
from ._build import PathLike, build_model, build_optim_wrapper_for_inspection, load_config
from ._plots import plot_lr_by_layer, plot_lr_schedule
from ._schedule import LrSchedule, simulate_lr_schedule


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
    :mod:`mmcv_custom.analysis.memory`)."""
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
