"""Report the groups: one rank-0 INFO record (a table and InternVL's JSON summary), per-parameter
detail at DEBUG. Never ``print``."""
import json
import logging
from typing import Dict, Iterable, List, Sequence

from mmengine.dist import get_rank
from mmengine.logging import MMLogger

SUMMARY_KEYS = ('param_names', 'lr_scale', 'lr', 'weight_decay')


def summarize_groups(param_groups: Iterable[dict]) -> Dict[str, dict]:
    """``{group_name: {param_names, lr_scale, lr, weight_decay}}``: InternVL's JSON summary."""
    return {group['group_name']: {key: group[key] for key in SUMMARY_KEYS}
            for group in param_groups}


def _count(group: dict) -> int:
    return sum(param.numel() for param in group['params'])


def format_table(param_groups: Sequence[dict]) -> str:
    """A fixed-width table: group, layer id, lr, lr_scale, weight decay, tensors, parameters."""
    header = ('group', 'layer', 'lr', 'lr_scale', 'weight_decay', 'tensors', 'params')
    rows = [header] + [
        (group['group_name'], str(group.get('layer_id', '')), f"{group['lr']:.4g}",
         f"{group['lr_scale']:.4g}", f"{group['weight_decay']:.4g}", str(len(group['params'])),
         f'{_count(group):,}') for group in param_groups]
    widths = [max(len(row[col]) for row in rows) for col in range(len(header))]
    lines = ['  '.join(cell.ljust(width) if col == 0 else cell.rjust(width)
                       for col, (cell, width) in enumerate(zip(row, widths))) for row in rows]
    lines.insert(1, '  '.join('-' * width for width in widths))
    return '\n'.join(lines)


def log_param_groups(title: str, param_groups: Sequence[dict], notes: Sequence[str] = (),
                     warnings: Sequence[str] = ()) -> None:
    """Log the groups on rank 0 through MMEngine's current logger (so they reach the log file)."""
    if get_rank() != 0:
        return
    logger = MMLogger.get_current_instance()
    for warning in warnings:
        logger.warning(warning)
    lines: List[str] = [title, format_table(param_groups)]
    lines += [f'note: {note}' for note in notes]
    lines.append('Param groups = ' + json.dumps(summarize_groups(param_groups), indent=2))
    logger.info('\n'.join(lines))
    if logger.isEnabledFor(logging.DEBUG):
        logger.debug('\n'.join(
            f"{name}: group={group['group_name']} layer_id={group.get('layer_id')} "
            f"lr={group['lr']:.6g} weight_decay={group['weight_decay']:.6g}"
            for group in param_groups for name in group['param_names']))
