"""Collect a model's parameters with the facts the grouping rules need (mechanism, no policy).

Names are canonical at the source (:mod:`.names`): every rule, a model's ``get_layer_depth`` and
the ``param_names`` of the groups see the name the parameter has in the bare model, whatever
wraps it (FSDP, activation checkpointing, ``torch.compile``, DDP-like wrappers), so checkpoints'
groups compare across wrap settings. Shapes are original (:mod:`.shapes`): the shape in the bare
model, never a shard's.
"""
from typing import Dict, List, Mapping, NamedTuple, Optional, Tuple

import torch
from torch import nn

from ._names import WRAPPED_CHILD, WRAPPER_SEGMENTS, child_path
from ._shapes import original_shape, recorded_shapes


class ParamInfo(NamedTuple):
    """One trainable parameter: its canonical name, the module that owns it (canonical path), its
    attribute name, its original shape and the name ``named_parameters()`` gives it."""

    name: str
    param: nn.Parameter
    module_name: str
    module: nn.Module
    attr: str
    #: The shape in the bare model (an FSDP shard's tensor is 1-D; this is not).
    shape: torch.Size
    #: The name as the (possibly wrapped) model spells it; equal to ``name`` without wrappers.
    raw_name: str


class ModelParams(NamedTuple):
    """A model's parameters in ``named_parameters()`` order, under canonical names."""

    trainable: Tuple[ParamInfo, ...]
    frozen_names: Tuple[str, ...]
    #: ``(alias, first_name)`` for every parameter reachable under more than one name.
    aliases: Tuple[Tuple[str, str], ...]
    #: Modules by canonical path; where a wrapper and the module it wraps share a path, the
    #: wrapped (inner) module.
    modules: Mapping[str, nn.Module]
    trainable_names: Tuple[str, ...]
    #: Whether some trainable parameter is a shard of its original (FSDP, DeepSpeed ZeRO-3).
    sharded: bool = False

    @property
    def all_names(self) -> Tuple[str, ...]:
        """Trainable names first, then frozen ones."""
        return self.trainable_names + self.frozen_names


#: The child names a wrapper may insert (``module`` only under a model wrapper, see ``names``).
INSERTED_NAMES = WRAPPER_SEGMENTS | {WRAPPED_CHILD}


def _check_unique(model: nn.Module, first_name: Mapping[int, str]) -> None:
    """ValueError naming two parameters that canonicalise to the same name."""
    raw_of: Dict[str, str] = {}
    for raw_name, param in model.named_parameters(remove_duplicate=True):
        name = first_name[id(param)]
        if raw_of.setdefault(name, raw_name) != raw_name:
            raise ValueError(
                f'parameters {raw_of[name]!r} and {raw_name!r} both have the canonical name '
                f'{name!r} (the name without the segments wrappers insert, see '
                'mmcv_custom.layer_decay._names); rename one of them')


def collect_params(model: nn.Module, wrapped: Optional[nn.Module] = None) -> ModelParams:
    """Every parameter of ``model`` under its first canonical name, in ``named_parameters()``
    order.

    ``wrapped`` is the model the optimizer constructor was called with when it differs from
    ``model`` (MMEngine passes ``model.module`` on): original shapes are read from every FSDP
    unit in it. Shared parameters (one tensor under several names) are kept once, under the name
    ``named_parameters()`` gives them first, and their other names are reported in ``aliases``.

    Raises ``shapes.FlatParameterError`` for an FSDP ``FlatParameter`` (``use_orig_params=False``),
    ``shapes.UnknownShapeError`` for an FSDP-managed parameter whose original shape is not
    recorded, and ValueError when two parameters have the same canonical name.
    """
    recorded: Optional[Dict[int, torch.Size]] = None  # read when a parameter needs it
    trainable: List[ParamInfo] = []
    frozen: List[str] = []
    aliases: List[Tuple[str, str]] = []
    first_name: Dict[int, str] = {}
    modules: Dict[str, nn.Module] = {}
    #: Canonical paths of the modules whose raw path may differ (the others keep theirs).
    canonical_path: Dict[str, str] = {}
    renamed = sharded = False
    for raw_path, module in model.named_modules(remove_duplicate=False):
        if 'mod' in raw_path:  # every inserted name contains it ('module', '_orig_mod', ...)
            parent_raw, _, segment = raw_path.rpartition('.')
            inserted = segment in INSERTED_NAMES or parent_raw in canonical_path
        else:
            inserted = False
        if not inserted:
            # fast path: neither this segment nor a parent's can have been put there by a wrapper
            module_name = raw_path
            modules.setdefault(module_name, module)
        else:
            parent_path = canonical_path.get(parent_raw, parent_raw)
            parent = model.get_submodule(parent_raw) if parent_raw else model
            module_name = child_path(parent_path, segment, parent)
            if module_name == parent_path:
                modules[module_name] = module  # the wrapped module replaces its wrapper
            else:
                modules.setdefault(module_name, module)
            renamed = renamed or module_name != raw_path
            canonical_path[raw_path] = module_name
        for attr, param in module._parameters.items():
            if param is None:
                continue
            name = f'{module_name}.{attr}' if module_name else attr
            if id(param) in first_name:
                aliases.append((name, first_name[id(param)]))
                continue
            first_name[id(param)] = name
            if not param.requires_grad:
                frozen.append(name)
                continue
            raw_name = name if module_name is raw_path else (
                f'{raw_path}.{attr}' if raw_path else attr)
            shape = param.shape
            if param.__dict__:  # attributes an engine set (FSDP, DeepSpeed ZeRO-3)
                if recorded is None:
                    recorded = recorded_shapes(model if wrapped is None else wrapped)
                shape = original_shape(raw_name, param, recorded)
                sharded = sharded or shape != param.shape
            trainable.append(ParamInfo(name, param, module_name, module, attr, shape, raw_name))
    if renamed:
        _check_unique(model, first_name)
    return ModelParams(tuple(trainable), tuple(frozen), tuple(aliases), modules,
                       tuple(info.name for info in trainable), sharded)


def check_params(params: ModelParams, bypass_duplicate: Optional[bool], owner: str) -> None:
    """ValueError when the model has no trainable parameter, or shares a tensor under two names
    and ``bypass_duplicate`` is False. (Unset or True: a shared tensor is kept once, under its
    first name, as ``named_parameters()`` and the published constructors take it; the report
    lists it.)"""
    if not params.trainable:
        raise ValueError(
            f'{owner}: the model has no trainable parameters (all {len(params.frozen_names)}'
            ' have requires_grad=False); there is nothing to optimize')
    if params.aliases and bypass_duplicate is False:
        alias, first = params.aliases[0]
        raise ValueError(
            f'{owner}: parameter {first!r} is shared: the same tensor is also reachable as '
            f'{alias!r}, and paramwise_cfg.bypass_duplicate=False refuses shared parameters. To '
            'keep each shared tensor once, under its first name, as named_parameters() and the '
            'published layer-decay constructors do, remove paramwise_cfg.bypass_duplicate (or set '
            'paramwise_cfg.bypass_duplicate=True).')
