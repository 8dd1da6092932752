"""Report the groups: one rank-0 INFO record (what was chosen, a table, notes and InternVL's JSON
summary), per-parameter detail at DEBUG. Never ``print``."""
import json
import logging
import math
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from mmengine.dist import get_rank
from mmengine.logging import MMLogger

from ..recipes._model import TOKEN_ENDINGS, is_token_name
from ..recipes._compiled import any_of
from ..recipes._schema import head_layer_id
from ._groups import first_member_lr
from ._params import ModelParams
from ._plan import Plan

SUMMARY_KEYS = ('param_names', 'lr_scale', 'lr', 'weight_decay')


def _count(group: dict) -> int:
    return sum(param.numel() for param in group['params'])


def named_groups(param_groups: Iterable[dict]) -> List[dict]:
    """The groups a layer-decay constructor built: those with a ``group_name``. (With more than
    one group, MMEngine's ``OptimWrapper.param_groups`` appends an unnamed group of base settings.)
    """
    return [group for group in param_groups if 'group_name' in group]


def summarize_groups(param_groups: Iterable[dict]) -> Dict[str, dict]:
    """``{group_name: {param_names, lr_scale, lr, weight_decay}}``: InternVL's JSON summary."""
    return {group['group_name']: {key: group[key] for key in SUMMARY_KEYS}
            for group in named_groups(param_groups)}


def _counts(group: dict, numel_by_name: Optional[Mapping[str, int]]) -> Tuple[int, int]:
    names = group['param_names']
    if numel_by_name is not None and all(name in numel_by_name for name in names):
        return len(names), sum(numel_by_name[name] for name in names)
    return len(group['params']), _count(group)


def group_records(param_groups: Iterable[dict],
                  numel_by_name: Optional[Mapping[str, int]] = None) -> Dict[str, dict]:
    """The content of ``param_groups.json`` (written by training runs and by the inspector):
    InternVL's summary of every named group plus its ``layer_id`` and tensor / parameter counts.

    ``numel_by_name`` (canonical name -> elements in the bare model) counts what the group holds
    in the whole model where the optimizer's tensors are one rank's shards (FSDP, DeepSpeed ZeRO);
    without it, or for a group naming a parameter it lacks, the group's own tensors are counted.
    """
    records = {}
    for group in named_groups(param_groups):
        num_tensors, num_params = _counts(group, numel_by_name)
        records[group['group_name']] = {**{key: group[key] for key in SUMMARY_KEYS},
                                        'layer_id': group.get('layer_id'),
                                        'num_tensors': num_tensors, 'num_params': num_params}
    return records


def format_summary(summary: Mapping[str, dict]) -> str:
    """The JSON summary with one group per line: valid JSON, a line per group in the log."""
    lines = [f'  {json.dumps(name)}: {json.dumps(fields)}' for name, fields in summary.items()]
    return '{\n' + ',\n'.join(lines) + '\n}'


def format_table(param_groups: Iterable[dict]) -> str:
    """A fixed-width table: group, layer id, lr, lr_scale, weight decay, tensors, parameters."""
    header = ('group', 'layer', 'lr', 'lr_scale', 'weight_decay', 'tensors', 'params')
    rows = [header] + [
        (group['group_name'], str(group.get('layer_id', '')), f"{group['lr']:.4g}",
         f"{group['lr_scale']:.4g}", f"{group['weight_decay']:.4g}", str(len(group['params'])),
         f'{_count(group):,}') for group in named_groups(param_groups)]
    widths = [max(len(row[col]) for row in rows) for col in range(len(header))]
    lines = ['  '.join(cell.ljust(width) if col == 0 else cell.rjust(width)
                       for col, (cell, width) in enumerate(zip(row, widths))) for row in rows]
    lines.insert(1, '  '.join('-' * width for width in widths))
    return '\n'.join(lines)


def debug_is_emitted(logger: logging.Logger) -> bool:
    """Whether a DEBUG record would reach some handler. An MMLogger's own level is NOTSET, so
    ``isEnabledFor(DEBUG)`` is always true while its handlers usually drop DEBUG; building the
    per-parameter detail for nobody costs more than the rest of the report."""
    if not logger.isEnabledFor(logging.DEBUG):
        return False
    current: Optional[logging.Logger] = logger
    while current is not None:
        if any(handler.level <= logging.DEBUG for handler in current.handlers):
            return True
        current = current.parent if current.propagate else None
    return False


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
    lines.append('Param groups = ' + format_summary(summarize_groups(param_groups)))
    logger.info('\n'.join(lines))
    if debug_is_emitted(logger):
        logger.debug('\n'.join(
            f"{name}: group={group['group_name']} layer_id={group.get('layer_id')} "
            f"lr={group['lr']:.6g} weight_decay={group['weight_decay']:.6g}"
            for group in param_groups for name in group['param_names']))


def report_title(plan: Plan, groups: Sequence[dict]) -> str:
    """The record's first lines: the rule, ``num_layers``, the rate, the formula in use, the base
    weight decay and, for a recipe, its name, source, backbone prefix and depths."""
    rule, layers, settings = plan.rule, plan.num_layers, plan.settings
    recipe = rule.recipe
    wd_source = '' if plan.optimizer.wd_given else " (the optimizer's default)"
    multiplied = (' [* ' + ' | '.join(m.factor_key or m.tag for m in recipe.multipliers) + ']'
                  if recipe.multipliers else '')
    title = (f'{plan.owner}: {len(groups)} param groups; layer ids: {rule.family}; '
             f"num_layers={layers.value} ({'from paramwise_cfg' if layers.given else 'inferred from the model'}); "  # noqa: E501
             f'{settings.rate_key}={settings.rate}; lr = {plan.optimizer.base_lr:g} * '
             f'{settings.rate} ** ({layers.value} + 1 - layer_id){multiplied} [* lr_mult]; '
             f'weight_decay={plan.optimizer.base_wd:g}{wd_source}')
    depths = f'; depths={list(rule.depths)}' if rule.depths else ''
    return title + (f'\nrecipe {recipe.name} ({recipe.source}); backbone prefix '
                    f'{rule.prefix!r}{depths}')


def _shared_tensors_note(aliases: Sequence[Tuple[str, str]]) -> List[str]:
    """The tensors reachable under several names, each under its first name with the others."""
    also: Dict[str, List[str]] = {}
    for alias, first in aliases:
        also.setdefault(first, []).append(alias)
    listed = '; '.join(f"{first} (also {', '.join(names)})" for first, names in also.items())
    return [f'{len(also)} tensors are reachable under more than one name; each is optimized '
            'once, under its first name in named_parameters(), as the published layer-decay '
            f'constructors take them: {listed}'] if also else []


def _layout_only_note(plan: Plan, params: ModelParams) -> List[str]:
    """The copies whose layout the recipe reads but whose names its source leaves at the head id
    (CB-InternImage's ``cb_modules.K`` under InternImage's published rules)."""
    rule, recipe = plan.rule, plan.rule.recipe
    if not recipe.layout_aliases:
        return []
    copy = any_of([regex for regex, _ in recipe.layout_aliases])
    head, counts = head_layer_id(plan.num_layers.value), {}
    for name, layer_id in zip(params.trainable_names, plan.layer_ids):
        match = copy.match(name, len(rule.prefix)) if rule.in_backbone(name) else None
        if match and layer_id == head:
            counts[name[:match.end()]] = counts.get(name[:match.end()], 0) + 1
    listed = ', '.join(f'{copy}* ({count})' for copy, count in counts.items())
    return [f'{sum(counts.values())} parameters of {listed} train at the head id, as '
            f'{recipe.name} ({recipe.source}) trained them: its rule reads their layout, not '
            f'their names; paramwise_cfg.{recipe.layout_aliases_for_ids}=True gives each copy '
            "the backbone's per-block ids"] if counts else []


def _first_member_note(plan: Plan, groups: Sequence[dict]) -> List[str]:
    """The parameters that train at the multiplier of their group's first member, not at their
    own (:func:`._groups.first_member_lr`: OmniDrive's ``lm_head``)."""
    if not first_member_lr(plan):
        return []
    rule, recipe, num_layers = plan.rule, plan.rule.recipe, plan.num_layers.value
    keys = {m.tag: m.factor_key or m.tag for m in recipe.multipliers}

    def what(factor: float, tag: str) -> str:
        return f'x{factor:g} ({keys[tag] if tag else "no multiplier"})'

    moved: Dict[tuple, Tuple[List[str], List[str]]] = {}
    for group in groups:
        first, *others = group['param_names']
        own_first = rule.multiplier(first, group['layer_id'], num_layers)
        for name in others:
            own = rule.multiplier(name, group['layer_id'], num_layers)
            if own[0] != own_first[0]:
                names, firsts = moved.setdefault((*own_first, *own), ([], []))
                names.append(name)
                firsts += [first] if first not in firsts else []
    parts = [f'{len(names)} at {what(*kind[:2])} (the lr of {" / ".join(firsts)}, first in '
             f'their groups) instead of {what(*kind[2:])}: {", ".join(names[:6])}'
             + (f' and {len(names) - 6} more' if len(names) > 6 else '')
             for kind, (names, firsts) in moved.items()]
    total = sum(len(names) for names, _ in moved.values())
    return [f'{total} parameters train at another lr than the keys give them, as {recipe.name} '
            f'({recipe.source}) trained them: its groups are named by layer id only, so a group '
            'keeps the lr of its first parameter. ' + '; '.join(parts)
            + f'. paramwise_cfg.{recipe.groups_by_layer_id}=True gives each its own lr'] \
        if moved else []


def report_notes(plan: Plan, params: ModelParams, groups: Sequence[dict]) -> List[str]:
    """What the report says besides the groups: frozen parameters, shared tensors, decayed
    tokens, sharded tensors, parameters outside the backbone trained as embeddings, copies and
    parameters that train as the recipe's source trained them, recipe multipliers that matched
    nothing, and the plan's own notes."""
    notes = []
    if params.frozen_names:
        notes.append(f'{len(params.frozen_names)} frozen parameters (requires_grad=False) '
                     'are in no group')
    notes += _shared_tensors_note(params.aliases)
    tokens = {name for group in groups if group['weight_decay'] > 0
              for name in group['param_names']
              if name.endswith(TOKEN_ENDINGS) and is_token_name(name)}
    decayed_tokens = [info.name for info in params.trainable
                      if info.name in tokens and len(info.shape) > 1] if tokens else []
    if decayed_tokens:
        notes.append(
            f'{len(decayed_tokens)} token / position-embedding parameters are weight-decayed: '
            f'{", ".join(decayed_tokens)} (as InternVL, BEiT, mmdet and mmseg do); set '
            'paramwise_cfg.exclude_tokens_from_decay=True to exclude them')
    if params.sharded:
        held = sum(info.param.numel() for info in params.trainable)
        total = sum(math.prod(info.shape) for info in params.trainable)
        notes.append(
            "the optimizer holds this rank's shards (FSDP / ZeRO-3): the table counts the "
            f'{held:,} parameter elements on this rank of {total:,}; weight decay follows the '
            'original shapes')
    rule, recipe = plan.rule, plan.rule.recipe
    placed = [name for name, layer_id in zip(params.trainable_names, plan.layer_ids)
              if layer_id == 0 and rule.is_head_embedding(name)]
    if placed:
        switch = ("; paramwise_cfg.head_embeddings_at_layer_0=False puts the decode head's with "
                  'the head' if recipe.head_embeddings else '')
        notes.append(f'{len(placed)} parameters outside the backbone are trained as embeddings '
                     f'(layer 0), as {recipe.name} does: {", ".join(placed)}{switch}')
    notes += _layout_only_note(plan, params) + _first_member_note(plan, groups)
    options = plan.settings.recipe_options
    set_by_config = [m for m in recipe.multipliers
                     if m.factor_key is not None and options.get(m.factor_key) is not None]
    if set_by_config:
        applied = {rule.multiplier(name, layer_id, plan.num_layers.value)[1]
                   for name, layer_id in zip(params.trainable_names, plan.layer_ids)}
        notes += [f'paramwise_cfg.{m.factor_key}={options[m.factor_key]} matched no parameter '
                  f"(it multiplies the lr of names matching {' or '.join(m.patterns)!r}"
                  f"{' in the backbone' if m.scope == 'backbone' else ''}"
                  f"{' outside the backbone' if m.scope == 'outside' else ''}, as {recipe.name} "
                  'does)' for m in set_by_config if m.tag not in applied]
    return notes + list(plan.notes)
