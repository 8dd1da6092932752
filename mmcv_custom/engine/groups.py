"""Build the optimizer's parameter groups from layer ids (mechanism).

The formula, written once. With ``L = num_layers``, a parameter with layer id ``k`` (0 for the
embeddings, ``i + 1`` for block ``i``, the head id ``L + 1`` for everything above the blocks) gets

    lr_scale = rate ** (L + 1 - k) * recipe_mult * lr_mult
    lr       = base_lr * lr_scale

so the embeddings get ``base_lr * rate ** (L + 1)``, the last block ``base_lr * rate`` and the heads
the full ``base_lr``. ``recipe_mult`` is the recipe's own multiplier (InternImage's
``offset_lr_scale``, ``vit_wise``'s ``head_decay_rate``, ...; 1 for most parameters) and the rule's
``layer_scale`` may scale ``rate ** (L + 1 - k)`` further (InternImage's ``backbone_small_lr``).

Groups are keyed by (layer id, decay / no-decay, lr_mult, weight decay, extra options, recipe
multiplier and its tag) and ordered by
the first appearance of a parameter in ``named_parameters()``, which keeps the order deterministic
(``Optimizer.load_state_dict`` matches groups by position). Every group carries ``params``,
``param_names``, ``lr``, ``lr_scale``, ``weight_decay``, ``group_name`` and ``layer_id``.
``param_names`` are canonical names (``engine.names``: the bare model's names, without the
segments FSDP, activation checkpointing, ``torch.compile`` or DDP-like wrappers insert), so the
groups of checkpoints written under different wrap settings compare name by name.
"""
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from ..layer_ids.base import LayerIdRule, head_layer_id
from .options import ParamOptions
from .params import ParamInfo


def _format_number(value: float) -> str:
    return f'{value:g}'


def group_name(layer_id: int, options: ParamOptions, base_wd: float) -> str:
    """``layer_{id}_{decay|no_decay}``, plus what sets the group apart when multipliers apply."""
    name = f"layer_{layer_id}_{'decay' if options.decays else 'no_decay'}"
    if options.tag:
        name += f'_{options.tag}'
    if options.lr_mult != 1.0:
        name += f'_lr_mult_{_format_number(options.lr_mult)}'
    if options.weight_decay != (base_wd if options.decays else 0.0):
        name += f'_wd_{_format_number(options.weight_decay)}'
    for key, value in options.extras:
        name += f'_{key}_{value!r}'
    return name


@dataclass(frozen=True)
class NumLayers:
    """The ``num_layers`` in use and where it came from."""

    value: int
    inferred: Optional[int]
    given: bool


def resolve_num_layers(rule: LayerIdRule, all_names: Sequence[str], trainable_names: Sequence[str],
                       given: Optional[int], owner: str) -> Tuple[NumLayers, List[int]]:
    """``num_layers`` from the config or the model, and the layer id of every trainable name.

    ValueError when ``num_layers`` is missing and cannot be inferred, or so small that some
    parameter's layer id lies above the head (its lr would exceed the base lr).
    """
    inferred = rule.infer_num_layers(all_names)
    if given is None and inferred is None:
        raise ValueError(
            f'{owner}: paramwise_cfg.num_layers is not set and cannot be inferred: no parameter '
            f'name shows the block layout of the {rule.family} family. Set num_layers.')
    value = given if given is not None else inferred
    layer_ids = [rule.layer_id(name, value) for name in trainable_names]
    head = head_layer_id(value)
    too_deep = next(((name, layer_id) for name, layer_id in zip(trainable_names, layer_ids)
                     if layer_id > head), None)
    if too_deep is not None:
        name, layer_id = too_deep
        minimum = next(n for n in range(value + 1, value + 100_000)
                       if _first_above_head(rule, trainable_names, n) is None)
        depth = f' (the model has {inferred} layers)' if inferred is not None else ''
        raise ValueError(
            f'{owner}: paramwise_cfg.num_layers={value} is too small for this model{depth}: '
            f'parameter {name!r} gets layer id {layer_id} > num_layers + 1 = {head}, so its lr '
            f'would exceed the base lr. num_layers must be at least {minimum}.')
    return NumLayers(value, inferred, given is not None), layer_ids


def _first_above_head(rule: LayerIdRule, names: Sequence[str],
                      num_layers: int) -> Optional[Tuple[str, int]]:
    head = head_layer_id(num_layers)
    for name in names:
        layer_id = rule.layer_id(name, num_layers)
        if layer_id > head:
            return name, layer_id
    return None


def build_param_groups(params: Sequence[ParamInfo], layer_ids: Sequence[int], num_layers: int,
                       rate: float, base_lr: float, base_wd: float,
                       options_of: Callable[[ParamInfo, int], ParamOptions],
                       rule: LayerIdRule) -> List[dict]:
    """One group per distinct (layer id, options), in first-appearance order; ``layer_ids[i]`` is
    the layer id of ``params[i]``; ``rule.layer_scale`` gives each layer's decay scale."""
    if len(layer_ids) != len(params):
        raise ValueError(f'build_param_groups: {len(params)} parameters but {len(layer_ids)} '
                         'layer ids')
    groups: Dict[tuple, dict] = {}
    names_in_use: Dict[str, tuple] = {}
    for info, layer_id in zip(params, layer_ids):
        options = options_of(info, layer_id)
        key = (layer_id, options.key)
        group = groups.get(key)
        if group is None:
            lr_scale = (rule.layer_scale(rate, layer_id, num_layers) * options.recipe_mult
                        * options.lr_mult)
            name = group_name(layer_id, options, base_wd)
            while name in names_in_use:
                name += '_'
            names_in_use[name] = key
            group = {
                'weight_decay': options.weight_decay,
                'params': [],
                'param_names': [],
                'lr_scale': lr_scale,
                'group_name': name,
                'lr': lr_scale * base_lr,
                'layer_id': layer_id,
                **dict(options.extras),
            }
            groups[key] = group
        group['params'].append(info.param)
        group['param_names'].append(info.name)
    return list(groups.values())
