"""Each parameter's original shape, also where an engine has replaced the tensor (mechanism).

The no-decay rule ("1-D parameters are not decayed") must see the shape the parameter has in the
bare model. Engines that shard parameters replace them before the optimizer is built:

- **torch FSDP1, ``use_orig_params=True``** (MMEngine's ``FSDPStrategy`` default): on a sharded
  strategy with 2+ ranks every parameter is a 1-D view of this rank's shard (size 0 on some
  ranks). Each FSDP unit's ``FlatParameter`` records the original shapes (``_shapes``, in the order
  of its original parameters ``_params``; shared parameters in ``_shared_params`` and
  ``_shared_param_infos``), read here from every FSDP unit of the model the optimizer constructor
  was given (MMEngine gives it the wrapped model; the root unit is not reachable from
  ``model.module``).
- **torch FSDP1, ``use_orig_params=False``**: the optimizer sees one ``FlatParameter`` per unit,
  which mixes layers: :class:`FlatParameterError`.
- **DeepSpeed ZeRO-3**: a partitioned parameter keeps its shape in ``ds_shape``.
- FSDP2 (``fully_shard``) parameters are ``DTensor``s whose ``shape`` is the global shape.

A parameter FSDP marked as its own (``_fsdp_flattened``) whose shape no reachable unit records
raises :class:`UnknownShapeError`: a weight decay is never decided from a shard's shape. The
attribute names read here are torch's (``torch/distributed/fsdp/_flat_param.py``, torch 2.13);
``tests/test_names.py`` fails when they change.
"""
import sys
from typing import Dict, Iterator, Mapping

import torch
from torch import nn

__all__ = ['FlatParameterError', 'UnknownShapeError', 'recorded_shapes', 'original_shape',
           'is_flat_parameter']

_FLAT_PARAM_MODULE = 'torch.distributed.fsdp._flat_param'
_LISTED = 6


class FlatParameterError(ValueError):
    """The optimizer would see an FSDP ``FlatParameter`` (``use_orig_params=False``)."""


class UnknownShapeError(ValueError):
    """A parameter is a view of an FSDP shard and its original shape is not known."""


def is_flat_parameter(param: torch.Tensor) -> bool:
    """Whether ``param`` is torch FSDP1's ``FlatParameter`` (False when FSDP was never imported)."""
    module = sys.modules.get(_FLAT_PARAM_MODULE)
    return module is not None and isinstance(param, module.FlatParameter)


def _flat_params(model: nn.Module) -> Iterator[torch.Tensor]:
    if 'torch.distributed.fsdp' not in sys.modules:
        return
    from torch.distributed.fsdp import FullyShardedDataParallel
    for module in model.modules():
        if isinstance(module, FullyShardedDataParallel):
            handle = getattr(module, '_handle', None)
            if handle is not None:
                yield handle.flat_param


def recorded_shapes(model: nn.Module) -> Dict[int, torch.Size]:
    """``{id(parameter): original shape}`` for the original parameters of every FSDP1 unit in
    ``model`` that keeps them (``use_orig_params=True``); empty for a model without FSDP.

    Raises RuntimeError when an FSDP unit lacks the records this reads (a torch that changed
    ``FlatParameter``).
    """
    shapes: Dict[int, torch.Size] = {}
    for flat in _flat_params(model):
        try:
            params = flat._params
            if params is None:  # use_orig_params=False: the FlatParameter itself is optimized
                continue
            infos, recorded = flat._param_infos, flat._shapes
            shared_params, shared_infos = flat._shared_params, flat._shared_param_infos
        except AttributeError as error:
            raise RuntimeError(
                f'mmcv_custom: torch {torch.__version__} FSDP FlatParameter lacks {error.name!r}, '
                'which records the original parameter shapes; mmcv_custom.layer_decay._shapes '
                'needs updating for this torch') from None
        if len(params) != len(recorded):
            raise RuntimeError(
                f'mmcv_custom: an FSDP FlatParameter of torch {torch.__version__} holds '
                f'{len(params)} original parameters but records {len(recorded)} shapes')
        for param, shape in zip(params, recorded):
            shapes[id(param)] = torch.Size(shape)
        index = {(id(info.module), info.param_name): i for i, info in enumerate(infos)}
        for param, info in zip(shared_params, shared_infos):
            shapes[id(param)] = torch.Size(
                recorded[index[(id(info.prim_module), info.prim_param_name)]])
    return shapes


def _flat_param_error(name: str, param: torch.Tensor) -> FlatParameterError:
    fqns = list(getattr(param, '_fqns', ()))
    listed = ', '.join(fqns[:_LISTED]) + (f', ... ({len(fqns) - _LISTED} more)'
                                          if len(fqns) > _LISTED else '')
    return FlatParameterError(
        f'parameter {name!r} is an FSDP FlatParameter holding {len(fqns)} original parameters '
        f'({listed}). With use_orig_params=False the optimizer gets one flat parameter per FSDP '
        'unit, which mixes layers (and weights with biases and norms), so it can have one lr and '
        'one weight decay only and layer-wise decay cannot be applied. Set use_orig_params=True '
        "in the FSDP wrapper (FSDPStrategy: model_wrapper=dict(type='MMFullyShardedDataParallel',"
        ' use_orig_params=True), which is MMEngine\'s default).')


def original_shape(name: str, param: torch.Tensor,
                   recorded: Mapping[int, torch.Size]) -> torch.Size:
    """The shape ``param`` (called ``name``) has in the bare model.

    ``recorded`` is :func:`recorded_shapes` of the model the optimizer is built from. Raises
    :class:`FlatParameterError` for an FSDP ``FlatParameter`` and :class:`UnknownShapeError` for
    a parameter FSDP manages whose shape no reachable FSDP unit records.
    """
    shape = recorded.get(id(param))
    if shape is not None:
        return shape
    if is_flat_parameter(param):
        raise _flat_param_error(name, param)
    ds_shape = getattr(param, 'ds_shape', None)  # DeepSpeed ZeRO-3 partitioned parameter
    if ds_shape is not None:
        return torch.Size(ds_shape)
    if getattr(param, '_fsdp_flattened', False):
        raise UnknownShapeError(
            f'parameter {name!r} is managed by FSDP (its tensor may be a 1-D view of this rank\'s '
            f'shard, shape {tuple(param.shape)}), and no FSDP unit of the model given to the '
            'optimizer constructor records its original shape, so its weight decay cannot be '
            'decided. Build the optimizer from the FSDP-wrapped model (as MMEngine\'s '
            'FSDPStrategy does: build_optim_wrapper(fsdp_model, cfg)), not from its .module.')
    return param.shape
