"""The optimizer's parameter groups, built from a plan (mechanism only).

Parameters with the same assignment (layer id, decay / no-decay, weight decay, lr multiplier,
recipe tag, extra options) share a group; groups are ordered by the first appearance of a
parameter in ``named_parameters()``, which keeps the order deterministic
(``Optimizer.load_state_dict`` matches groups by position). Every group carries ``params``,
``param_names`` (canonical names: the bare model's, whatever wraps it), ``lr``, ``lr_scale``,
``weight_decay``, ``group_name`` and ``layer_id``.

A recipe whose source keys its groups by layer id only (``groups_by_layer_id``: OmniDrive's
``vit_wise``) is reproduced as it trained: parameters that differ only in their recipe multiplier
share a group, and the group keeps the lr (and name) of its first member, unless the recipe's key
(``split_head_group``) is set. The report names the parameters this moves (``_report``).
"""
from typing import Dict, List

from ._params import ModelParams
from ._plan import Assignment, Plan


def group_name(assignment: Assignment, base_wd: float) -> str:
    """``layer_{id}_{decay|no_decay}``, plus what sets the group apart when multipliers apply
    (``_offset_lr_scale``, ``_lr_mult_0.1``, ``_wd_0``, ``_<option>_<value>``)."""
    name = f"layer_{assignment.layer_id}_{'decay' if assignment.decays else 'no_decay'}"
    if assignment.tag:
        name += f'_{assignment.tag}'
    if assignment.lr_mult != 1.0:
        name += f'_lr_mult_{assignment.lr_mult:g}'
    if assignment.weight_decay != (base_wd if assignment.decays else 0.0):
        name += f'_wd_{assignment.weight_decay:g}'
    for key, value in assignment.extras:
        name += f'_{key}_{value!r}'
    return name


def first_member_lr(plan: Plan) -> bool:
    """Whether a group keeps its first member's lr (the recipe's source keys groups by layer id
    only, and its key to split them is not set)."""
    key = plan.rule.recipe.groups_by_layer_id
    return key is not None and not plan.settings.recipe_options.get(key)


def group_params(params: ModelParams, plan: Plan) -> List[dict]:
    """One group per distinct assignment of ``plan``, in first-appearance order (per distinct
    assignment but its recipe multiplier under :func:`first_member_lr`)."""
    groups: Dict[tuple, dict] = {}
    names_in_use = set()
    base_lr, base_wd = plan.optimizer.base_lr, plan.optimizer.base_wd
    # Assignment.key ends with (lr_scale, tag), the two a recipe multiplier changes
    key_length = -2 if first_member_lr(plan) else None
    for info, layer_id in zip(params.trainable, plan.layer_ids):
        assignment = plan.assign(info, layer_id)
        key = assignment.key[:key_length]
        group = groups.get(key)
        if group is None:
            name = group_name(assignment, base_wd)
            while name in names_in_use:
                name += '_'
            names_in_use.add(name)
            group = groups[key] = {
                'weight_decay': assignment.weight_decay,
                'params': [],
                'param_names': [],
                'lr_scale': assignment.lr_scale,
                'group_name': name,
                'lr': assignment.lr_scale * base_lr,
                'layer_id': assignment.layer_id,
                **dict(assignment.extras),
            }
        group['params'].append(info.param)
        group['param_names'].append(info.name)
    return list(groups.values())
