"""Figures of the inspection (step 6 of the inspector, ``mmcv_custom.analysis``): drawn with
matplotlib's Agg canvas, which is imported only here, when a figure is drawn."""
from pathlib import Path
from typing import Any, Mapping, Tuple

from ._build import PathLike
from ._schedule import LrSchedule


def _new_figure(width: float, height: float, rows: int = 1, cols: int = 1,
                **kwargs: Any) -> Tuple[Any, Any]:
    """A matplotlib ``Figure`` on the Agg canvas and its grid of axes (``subplots`` options)."""
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
