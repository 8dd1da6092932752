"""Refuse to resume an optimizer whose param groups differ from the checkpoint's, and say how.

``torch.optim.Optimizer.load_state_dict`` matches groups and parameters *by position*. When a run is
resumed with another ``num_layers``, ``decay_type`` or set of frozen parameters, torch either
raises a bare ``loaded state dict has a different number of parameter groups`` or, worse, loads
the Adam moments of one parameter into another of the same group size. The saved groups keep
``group_name`` and ``param_names`` (ours and those of mmdet's / mmseg's / InternVL's
constructors), so the two layouts can be compared name by name before torch loads anything.

:func:`install_resume_check` registers :func:`check_param_groups` as a load-state-dict pre-hook of
an optimizer; the layer-decay constructors do so on every optimizer they build. The check

- raises :class:`ParamGroupMismatchError` (a ``ValueError``) when the groups differ in number,
  names, order or members, listing the groups only in the checkpoint, only in this run, the
  parameters that moved between groups and those trainable in one run only;
- logs a warning (rank 0) when the groups match but their ``lr_scale`` or ``weight_decay`` differ:
  the checkpoint's values are loaded and win, as torch and MMEngine's schedulers resume them;
- compares only the group count when the checkpoint's groups carry no names.
"""
from typing import Any, Dict, List, Optional, Sequence, Tuple

from mmengine.dist import get_rank
from mmengine.logging import MMLogger

__all__ = ['ParamGroupMismatchError', 'describe_group_mismatch', 'check_param_groups',
           'install_resume_check']

#: At most this many entries are listed per kind of difference.
MAX_LISTED = 8


class ParamGroupMismatchError(ValueError):
    """The checkpoint's optimizer param groups are not the ones this run builds."""


def _layout(groups: Sequence[dict]) -> List[Tuple[str, Tuple[str, ...]]]:
    return [(str(group.get('group_name', f'#{index}')), tuple(group.get('param_names', ())))
            for index, group in enumerate(groups)]


def _listed(items: Sequence[str]) -> str:
    shown = ', '.join(items[:MAX_LISTED])
    more = len(items) - MAX_LISTED
    return shown + (f', ... ({more} more)' if more > 0 else '')


def _group_of(layout: Sequence[Tuple[str, Tuple[str, ...]]]) -> Dict[str, str]:
    return {name: group_name for group_name, names in layout for name in names}


def describe_group_mismatch(saved_groups: Sequence[dict],
                            current_groups: Sequence[dict]) -> Optional[str]:
    """How the saved groups differ from the current ones, or None when they match (same group
    names and members, in the same order). Groups without ``param_names`` compare by count."""
    saved_named = all('param_names' in group for group in saved_groups)
    current_named = all('param_names' in group for group in current_groups)
    if not (saved_named and current_named):
        if len(saved_groups) == len(current_groups):
            return None
        return (f'the checkpoint has {len(saved_groups)} param groups, this run builds '
                f'{len(current_groups)} (the checkpoint does not record parameter names)')
    saved, current = _layout(saved_groups), _layout(current_groups)
    if saved == current:
        return None
    lines = [f'the checkpoint has {len(saved)} param groups, this run builds {len(current)}']
    saved_by_name, current_by_name = dict(saved), dict(current)
    only_saved = [name for name, _ in saved if name not in current_by_name]
    only_current = [name for name, _ in current if name not in saved_by_name]
    if only_saved:
        lines.append(f'groups only in the checkpoint: {_listed(only_saved)}')
    if only_current:
        lines.append(f'groups only in this run: {_listed(only_current)}')
    saved_of, current_of = _group_of(saved), _group_of(current)
    moved = [f'{name} ({saved_of[name]} -> {current_of[name]})' for name in current_of
             if name in saved_of and saved_of[name] != current_of[name]]
    if moved:
        lines.append(f'parameters in another group: {_listed(moved)}')
    was_trainable = [name for name in saved_of if name not in current_of]
    now_trainable = [name for name in current_of if name not in saved_of]
    if was_trainable:
        lines.append('parameters optimized in the checkpoint but not in this run (frozen or '
                     f'removed): {_listed(was_trainable)}')
    if now_trainable:
        lines.append('parameters optimized in this run but not in the checkpoint (frozen there '
                     f'or new): {_listed(now_trainable)}')
    common = [name for name, _ in current if name in saved_by_name]
    if not (only_saved or only_current or moved or was_trainable or now_trainable):
        order = [name for name, _ in saved if name in current_by_name]
        if order != common:
            lines.append(f'the same groups in another order: checkpoint {_listed(order)}; '
                         f'this run {_listed(common)}')
        else:
            reordered = [name for name in common if saved_by_name[name] != current_by_name[name]]
            lines.append('parameters in another order within groups: ' + _listed(reordered))
    return '; '.join(lines)


def _rate_changes(saved_groups: Sequence[dict], current_groups: Sequence[dict]) -> List[str]:
    changes = []
    for saved, current in zip(saved_groups, current_groups):
        for key in ('lr_scale', 'weight_decay'):
            if key in saved and key in current and saved[key] != current[key]:
                changes.append(f"{current.get('group_name', '?')}.{key}: checkpoint "
                               f'{saved[key]:.6g}, config {current[key]:.6g}')
    return changes


def check_param_groups(optimizer: Any, state_dict: dict, owner: str = 'mmcv_custom') -> None:
    """Raise :class:`ParamGroupMismatchError` if ``state_dict``'s groups are not ``optimizer``'s."""
    saved_groups = state_dict.get('param_groups') if isinstance(state_dict, dict) else None
    if saved_groups is None:
        return
    mismatch = describe_group_mismatch(saved_groups, optimizer.param_groups)
    if mismatch is not None:
        raise ParamGroupMismatchError(
            f'{owner}: cannot resume the optimizer: {mismatch}. The groups follow '
            'paramwise_cfg (num_layers, decay_type, custom_keys, ...) and which parameters are '
            'frozen; resume with the settings the checkpoint was written with, or start a new '
            'run from its weights with load_from=... and resume=False.')
    changes = _rate_changes(saved_groups, optimizer.param_groups)
    if changes and get_rank() == 0:
        MMLogger.get_current_instance().warning(
            f'{owner}: the checkpoint was trained with other layer-decay scales or weight decay; '
            f"resuming keeps the checkpoint's values: {_listed(changes)}")


def install_resume_check(optimizer: Any, owner: str = 'mmcv_custom') -> Any:
    """Register :func:`check_param_groups` to run before ``optimizer.load_state_dict``."""
    def hook(opt: Any, state_dict: dict) -> None:
        check_param_groups(opt, state_dict, owner)
    return optimizer.register_load_state_dict_pre_hook(hook)
