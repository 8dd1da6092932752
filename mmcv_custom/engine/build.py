"""One entry point for the whole mechanism: model -> validated, deterministic parameter groups."""
import math
from dataclasses import dataclass
from typing import AbstractSet, Any, Callable, FrozenSet, List, Mapping, Optional, Tuple

from torch import nn

from ..layer_ids.base import LayerIdRule
from ..layer_ids.recipe import LayerIdError
from .groups import NumLayers, build_param_groups, resolve_num_layers
from .options import TOKEN_ENDINGS, ParamOptionRules, is_token_name
from .params import ModelParams, collect_params


@dataclass(frozen=True)
class LayerDecayResult:
    """The groups and what the report needs to say about them."""

    groups: List[dict]
    rule: LayerIdRule
    num_layers: NumLayers
    notes: Tuple[str, ...]
    warnings: Tuple[str, ...]


def _check_model(model_params: ModelParams, settings: Mapping[str, Any], owner: str) -> List[str]:
    warnings = []
    if not model_params.trainable:
        raise ValueError(
            f'{owner}: the model has no trainable parameters (all {len(model_params.frozen_names)}'
            ' have requires_grad=False); there is nothing to optimize')
    for alias, first in model_params.aliases:
        if not settings['bypass_duplicate']:
            raise ValueError(
                f'{owner}: parameter {first!r} is shared: the same tensor is also reachable as '
                f'{alias!r}. A parameter may sit in one group only; set '
                'paramwise_cfg.bypass_duplicate=True to keep it once, under its first name.')
        warnings.append(f'{owner}: {alias!r} is the same tensor as {first!r}; it is kept once, '
                        'under its first name, since bypass_duplicate=True')
    return warnings


def _notes(groups: List[dict], model_params: ModelParams, settings: Mapping[str, Any]) -> List[str]:
    notes = []
    if model_params.frozen_names:
        notes.append(f'{len(model_params.frozen_names)} frozen parameters (requires_grad=False) '
                     'are in no group')
    tokens = {name for group in groups if group['weight_decay'] > 0
              for name in group['param_names']
              if name.endswith(TOKEN_ENDINGS) and is_token_name(name)}
    decayed_tokens = [info.name for info in model_params.trainable
                      if info.name in tokens and len(info.shape) > 1] if tokens else []
    if decayed_tokens:
        notes.append(
            f'{len(decayed_tokens)} token / position-embedding parameters are weight-decayed: '
            f'{", ".join(decayed_tokens)} (as InternVL, BEiT, mmdet and mmseg do); set '
            'paramwise_cfg.exclude_tokens_from_decay=True to exclude them')
    if model_params.sharded:
        held = sum(info.param.numel() for info in model_params.trainable)
        total = sum(math.prod(info.shape) for info in model_params.trainable)
        notes.append(
            "the optimizer holds this rank's shards (FSDP / ZeRO-3): the table counts the "
            f'{held:,} parameter elements on this rank of {total:,}; weight decay follows the '
            'original shapes')
    return notes


def _unmatched_multiplier_notes(rule: LayerIdRule, applied_tags: AbstractSet[str]) -> List[str]:
    """Name the recipe multipliers the config sets that no parameter matched (InternImage's
    ``offset_lr_scale`` on a model without ``sampling_offsets`` / ``reference_points``)."""
    recipe = getattr(rule, 'recipe', None)
    if recipe is None:
        return []
    options = getattr(rule, 'options', {})
    return [f'paramwise_cfg.{m.factor_key}={options[m.factor_key]} matched no parameter (it '
            f"multiplies the lr of names matching {' or '.join(m.patterns)!r}"
            f"{' in the backbone' if m.scope == 'backbone' else ''}"
            f"{' outside the backbone' if m.scope == 'outside' else ''}, as {recipe.name} does)"
            for m in recipe.multipliers
            if m.factor_key is not None and options.get(m.factor_key) is not None
            and m.tag not in applied_tags]


def _head_embedding_notes(rule: LayerIdRule, model_params: ModelParams,
                          layer_ids: List[int]) -> List[str]:
    """Name the parameters outside the backbone that the recipe put at layer 0."""
    is_head_embedding = getattr(rule, 'is_head_embedding', None)
    if is_head_embedding is None:
        return []
    placed = [name for name, layer_id in zip(model_params.trainable_names, layer_ids)
              if layer_id == 0 and is_head_embedding(name)]
    if not placed:
        return []
    switch = ('; paramwise_cfg.head_embeddings_at_layer_0=False puts the decode head\'s with the '
              'head' if rule.recipe.head_embeddings else '')
    return [f'{len(placed)} parameters outside the backbone are trained as embeddings (layer 0), '
            f'as {rule.recipe.name} does: {", ".join(placed)}{switch}']


def build_layer_decay_groups(model: nn.Module, *, choose_rule: Callable[[ModelParams], LayerIdRule],
                             settings: Mapping[str, Any], rate: float, base_lr: float,
                             base_wd: float, owner: str,
                             no_decay_names: Callable[[LayerIdRule], FrozenSet[str]] = (
                                 lambda rule: frozenset()),
                             wrapped: Optional[nn.Module] = None) -> LayerDecayResult:
    """Collect -> choose the layer-id rule -> resolve num_layers -> decide options -> group.

    ``no_decay_names(rule)`` gives the full names that get weight decay 0 whatever the rule
    (the model's ``no_weight_decay()`` list under the rule's backbone prefix). ``wrapped``: the
    model the optimizer constructor was called with, when MMEngine unwrapped it to ``model``
    (``collect_params`` reads FSDP's original shapes from it). Groups record canonical parameter
    names (``engine.names``).
    """
    model_params = collect_params(model, wrapped)
    warnings = _check_model(model_params, settings, owner)
    rule = choose_rule(model_params)
    try:
        num_layers, layer_ids = resolve_num_layers(rule, model_params.all_names,
                                                   model_params.trainable_names,
                                                   settings['num_layers'], owner)
    except LayerIdError as error:
        raise ValueError(f'{owner}: {error}') from None
    check_layer_ids = getattr(rule, 'check_layer_ids', None)
    if check_layer_ids is not None:
        check_layer_ids(model_params.all_names, num_layers.value, owner)
    if num_layers.given and num_layers.inferred not in (None, num_layers.value):
        warnings.append(
            f'{owner}: paramwise_cfg.num_layers={num_layers.value} differs from the depth of the '
            f'model ({num_layers.inferred} layers of the {rule.family} family); the layer-decay '
            'scales follow num_layers')
    options = ParamOptionRules(settings, base_wd, model_params, rule, num_layers.value,
                               no_decay_names(rule))
    groups = build_param_groups(model_params.trainable, layer_ids, num_layers.value, rate,
                                base_lr, base_wd, options, rule)
    notes = (_notes(groups, model_params, settings)
             + _head_embedding_notes(rule, model_params, layer_ids)
             + _unmatched_multiplier_notes(rule, options.applied_tags))
    return LayerDecayResult(groups, rule, num_layers, tuple(notes), tuple(warnings))
