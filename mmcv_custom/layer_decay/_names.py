"""The one place that canonicalises a parameter's name (mechanism, no policy).

Wrappers insert segments into ``named_parameters()`` names, and a name must mean the same parameter
whatever wraps the model, so every rule, a model's ``get_layer_depth`` and a group's
``param_names`` see the *canonical* name: the name in the bare model (the one its
``state_dict()`` keys use). Removed, wherever they appear:

- ``_fsdp_wrapped_module.``: a nested ``FullyShardedDataParallel`` unit (torch FSDP1);
- ``_checkpoint_wrapped_module.``: activation checkpointing (torch's ``CheckpointWrapper``);
- ``_orig_mod.``: a module compiled with ``torch.compile`` before the optimizer is built;
- ``module.``, only where a model wrapper put it: the child called ``module`` of a module that
  MMEngine's ``is_model_wrapper`` recognises (``DistributedDataParallel``,
  ``MMDistributedDataParallel``, the per-child wrappers of ``MMSeparateDistributedDataParallel``,
  FSDP, DeepSpeed's engine, ...). A user's own child called ``module`` is kept.

Example: ``backbone.module.layers.0._fsdp_wrapped_module._checkpoint_wrapped_module.ln1.weight``
is ``backbone.layers.0.ln1.weight``.

``collect_params`` applies this while it walks the modules (:func:`child_path`), so the check
of the parent's type happens once per module; :func:`canonical_name` is the same rule for one
name string given the raw paths of the wrappers.
"""
from typing import AbstractSet, Dict, Optional

from torch import nn

__all__ = ['WRAPPER_SEGMENTS', 'WRAPPED_CHILD', 'is_inserted_segment', 'child_path',
           'canonical_name', 'canonical_module_paths']

#: Segments torch inserts between a wrapper and the module it wraps; always removed.
WRAPPER_SEGMENTS = frozenset({'_fsdp_wrapped_module', '_checkpoint_wrapped_module', '_orig_mod'})
#: The child under which DDP-like model wrappers hold the wrapped module.
WRAPPED_CHILD = 'module'
# collect_params skips the canonical-path work for module paths without 'mod' (its fast path).
assert all('mod' in segment for segment in WRAPPER_SEGMENTS | {WRAPPED_CHILD}), \
    'every segment a wrapper inserts must contain "mod" (layer_decay._params relies on it)'


def _is_model_wrapper(module: nn.Module) -> bool:
    from mmengine.model import is_model_wrapper
    return is_model_wrapper(module)


def is_inserted_segment(segment: str, parent: Optional[nn.Module]) -> bool:
    """Whether the child name ``segment`` under ``parent`` was put there by a wrapper."""
    if segment in WRAPPER_SEGMENTS:
        return True
    return segment == WRAPPED_CHILD and parent is not None and _is_model_wrapper(parent)


def child_path(parent_path: str, segment: str, parent: Optional[nn.Module]) -> str:
    """The canonical path of child ``segment`` of the module at canonical ``parent_path``."""
    if is_inserted_segment(segment, parent):
        return parent_path
    return f'{parent_path}.{segment}' if parent_path else segment


def canonical_module_paths(model: nn.Module) -> Dict[str, str]:
    """``{raw module path: canonical path}`` for every module of ``model``
    (``named_modules(remove_duplicate=False)``; the root is ``''``)."""
    paths: Dict[str, str] = {}
    modules: Dict[str, nn.Module] = {}
    for raw, module in model.named_modules(remove_duplicate=False):
        modules[raw] = module
        if not raw:
            paths[raw] = ''
            continue
        parent_raw, _, segment = raw.rpartition('.')
        paths[raw] = child_path(paths[parent_raw], segment, modules[parent_raw])
    return paths


def canonical_name(name: str, wrapper_paths: AbstractSet[str] = frozenset()) -> str:
    """``name`` without the segments wrappers inserted.

    ``wrapper_paths`` are the *raw* paths of the model wrappers in the model (``''`` for the
    root); a ``module`` segment right below one of them is removed, any other ``module`` is kept.
    """
    kept = []
    raw = ''
    for segment in name.split('.'):
        wrapped = segment == WRAPPED_CHILD and raw in wrapper_paths
        if not (segment in WRAPPER_SEGMENTS or wrapped):
            kept.append(segment)
        raw = f'{raw}.{segment}' if raw else segment
    return '.'.join(kept)
