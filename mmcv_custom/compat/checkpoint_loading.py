"""Resume MMEngine checkpoints under torch >= 2.6 without turning ``weights_only`` off.

Since torch 2.6, ``torch.load`` defaults to ``weights_only=True``: it unpickles tensors and plain
containers only. MMEngine 0.10.7 calls ``torch.load(filename, map_location=...)`` for local files,
and its checkpoints also hold a few other objects, so ``--resume`` (and ``load_from`` of a full
checkpoint) fails with ``_pickle.UnpicklingError: Weights only load failed``. Passing
``weights_only=False`` would let any checkpoint run arbitrary code when it is loaded.

:func:`install` instead registers :func:`load_from_local` as MMEngine's loader for local paths
(``CheckpointLoader.register_scheme(prefixes='', force=True)``); see :mod:`mmcv_custom.compat` for
when it is installed (never by ``import mmcv_custom`` alone). It still loads with
``weights_only=True`` and allows, for that one load (``torch.serialization.safe_globals``), exactly
the extra types an MMEngine checkpoint contains (found by reading the pickles of single-process,
2-process DDP, AMP and EMA runs of mmengine 0.10.7 with numpy 2):

- ``mmengine.logging.history_buffer.HistoryBuffer``: the message hub's ``log_scalars``;
- the statistics methods ``HistoryBuffer.min`` / ``max`` / ``current`` / ``mean`` (and any method
  registered with ``HistoryBuffer.register_statistics``), which the buffer pickles as
  ``getattr(HistoryBuffer, name)``: the pickle's ``builtins.getattr`` is mapped to
  :func:`history_buffer_statistic`, which returns those and refuses everything else (plain
  ``getattr`` is never allowed);
- numpy arrays and scalars (the buffers' histories, ``runtime_info['eta']``):
  ``numpy.ndarray``, ``numpy.dtype``, the numeric dtype classes
  (``numpy.dtypes.Float64DType``, ...),
  and the reconstruct functions ``numpy._core.multiarray._reconstruct`` / ``scalar`` (also under
  numpy 1.x's name ``numpy.core.multiarray``, for checkpoints written with numpy < 2);
- ``collections.OrderedDict`` and ``_codecs.encode`` (already allowed by torch);
- what MMEngine's ``FSDPStrategy`` saves with ``state_dict_cfg='local'`` (its default: one
  ``rank{R}.pth`` per rank, each parameter a ``ShardedTensor`` of this rank's shard), found by
  reading the pickles of 2-process FSDP runs (torch 2.13): ``ShardedTensor``, its ``Shard``,
  ``ShardMetadata``, ``ShardedTensorMetadata``, ``TensorProperties`` and
  ``MEM_FORMAT_ENCODING``, the sharding specs ``ChunkShardingSpec`` and
  ``EnumerableShardingSpec``, and ``torch.distributed.remote_device._remote_device`` (the
  shard's placement), and ``ShardedTensor.ProcessGroupState`` (pickled as
  ``getattr(ShardedTensor, 'ProcessGroupState')``, which :func:`history_buffer_statistic` allows
  too). A ``ShardedTensor`` loads only inside a process group of the size that saved it.

Nothing is added to torch's global allow-list (``add_safe_globals`` is not called). A checkpoint
that holds any other pickled object is refused with :class:`UnsafeCheckpointError`, which names
the object and says how to proceed for a file one trusts. Checkpoints loaded from URLs, pavi or
ceph keep MMEngine's own loaders.
"""
import os.path as osp
import pickle
from typing import Any, Callable, List, Optional, Tuple, Union

import numpy as np
import torch
from mmengine.logging.history_buffer import HistoryBuffer

__all__ = ['UnsafeCheckpointError', 'checkpoint_safe_globals', 'sharded_tensor_globals',
           'history_buffer_statistic', 'load_from_local', 'install']

_DEFAULT_STATISTICS = ('min', 'max', 'current', 'mean')
_NUMERIC_DTYPE_NAMES = ('BoolDType', 'Int8DType', 'Int16DType', 'Int32DType', 'Int64DType',
                        'UInt8DType', 'UInt16DType', 'UInt32DType', 'UInt64DType',
                        'Float16DType', 'Float32DType', 'Float64DType', 'LongDType',
                        'ULongDType', 'LongLongDType', 'ULongLongDType', 'ByteDType',
                        'UByteDType', 'ShortDType', 'UShortDType', 'IntDType', 'UIntDType')


class UnsafeCheckpointError(pickle.UnpicklingError):
    """A checkpoint holds a pickled object outside the types MMEngine's checkpoints contain."""


def _sharded_tensor_class() -> Optional[type]:
    try:
        from torch.distributed._shard.sharded_tensor.api import ShardedTensor
    except ImportError:
        return None
    return ShardedTensor


def history_buffer_statistic(owner: Any, name: str) -> Callable:
    """What a pickled ``getattr(owner, name)`` may return: one of the statistics methods of
    mmengine's ``HistoryBuffer`` (``min``, ``max``, ``current``, ``mean`` and those registered
    with ``HistoryBuffer.register_statistics``), or ``ShardedTensor.ProcessGroupState`` (FSDP's
    local checkpoints), and nothing else."""
    allowed = {**{key: HistoryBuffer.__dict__.get(key) for key in _DEFAULT_STATISTICS},
               **HistoryBuffer._statistics_methods}
    if owner is HistoryBuffer and isinstance(name, str) and callable(allowed.get(name)):
        return allowed[name]
    sharded = _sharded_tensor_class()
    if sharded is not None and owner is sharded and name == 'ProcessGroupState':
        return sharded.ProcessGroupState
    raise UnsafeCheckpointError(
        f'checkpoint asks for getattr({owner!r}, {name!r}); only the statistics methods of '
        f'mmengine HistoryBuffer ({sorted(allowed)}) and ShardedTensor.ProcessGroupState are '
        'allowed')


def _numpy_reconstructors() -> List[Tuple[Callable, str]]:
    multiarray = np._core.multiarray if hasattr(np, '_core') else np.core.multiarray
    entries = []
    for module in ('numpy._core.multiarray', 'numpy.core.multiarray'):
        entries.append((multiarray._reconstruct, f'{module}._reconstruct'))
        entries.append((multiarray.scalar, f'{module}.scalar'))
    return entries


def sharded_tensor_globals() -> List[Any]:
    """The classes of an FSDP ``LOCAL_STATE_DICT`` checkpoint (see the module docstring); empty
    for a torch built without distributed support."""
    try:
        from torch.distributed._shard.metadata import ShardMetadata
        from torch.distributed._shard.sharded_tensor.api import ShardedTensor
        from torch.distributed._shard.sharded_tensor.metadata import (MEM_FORMAT_ENCODING,
                                                                      ShardedTensorMetadata,
                                                                      TensorProperties)
        from torch.distributed._shard.sharded_tensor.shard import Shard
        from torch.distributed._shard.sharding_spec.api import EnumerableShardingSpec
        from torch.distributed._shard.sharding_spec.chunk_sharding_spec import ChunkShardingSpec
        from torch.distributed.remote_device import _remote_device
    except ImportError:
        return []
    return [ShardedTensor, ShardedTensor.ProcessGroupState, Shard, ShardMetadata,
            ShardedTensorMetadata, TensorProperties, MEM_FORMAT_ENCODING, ChunkShardingSpec,
            EnumerableShardingSpec, _remote_device]


def checkpoint_safe_globals() -> List[Union[Any, Tuple[Any, str]]]:
    """The globals allowed while an MMEngine checkpoint is loaded (see the module docstring)."""
    allowed: List[Union[Any, Tuple[Any, str]]] = [
        HistoryBuffer,
        (history_buffer_statistic, 'builtins.getattr'),
        np.ndarray,
        np.dtype,
    ]
    allowed += _numpy_reconstructors()
    allowed += sharded_tensor_globals()
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:
        allowed += [getattr(dtypes, name) for name in _NUMERIC_DTYPE_NAMES
                    if hasattr(dtypes, name)]
    return allowed


#: Words of the line of torch's message that names the refused object.
_DETAIL_KEYS = ('GLOBAL', 'getattr', 'unrecognized function', 'Can only create', 'Unsupported')


def _refusal(filename: str, error: Exception) -> UnsafeCheckpointError:
    lines = [line.split('WeightsUnpickler error:', 1)[-1].strip()
             for line in str(error).splitlines() if line.strip()]
    detail = next((line for line in lines if any(key in line for key in _DETAIL_KEYS)),
                  lines[-1] if lines else '')
    detail = detail.split(' Please use `torch.serialization.add_safe_globals')[0]
    return UnsafeCheckpointError(
        f'mmcv_custom refused to load checkpoint {filename!r}: it holds a pickled object that an '
        f'MMEngine checkpoint does not contain ({detail}). It is loaded with weights_only=True, '
        'allowing only tensors, plain containers and the types listed in '
        'mmcv_custom.compat.checkpoint_loading.checkpoint_safe_globals(). If you trust this '
        'file, extract the '
        "state dicts you need once with torch.load(path, weights_only=False) and save them "
        'again with torch.save.')


def load_from_local(filename: str, map_location: Optional[Any] = None) -> Any:
    """MMEngine's local-file loader, with ``weights_only=True`` and MMEngine's types allowed."""
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    with torch.serialization.safe_globals(checkpoint_safe_globals()):
        try:
            return torch.load(filename, map_location=map_location, weights_only=True)
        except pickle.UnpicklingError as error:
            raise _refusal(filename, error) from None


def install() -> None:
    """Make :func:`load_from_local` MMEngine's loader for local paths (idempotent)."""
    from mmengine.runner.checkpoint import CheckpointLoader  # imports MMEngine's runner
    CheckpointLoader.register_scheme(prefixes='', loader=load_from_local, force=True)
