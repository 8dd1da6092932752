"""Keep ``param_names`` true on every rank of torch's ``ZeroRedundancyOptimizer``.

ZeRO shards each param group across ranks: rank ``r``'s local optimizer gets a *copy* of every
group whose ``params`` are only the parameters ``r`` owns, but whose other keys, ``param_names``
included, are the whole group's. torch (>= 2.5) reads ``param_names[i]`` as the name of
``params[i]``, so on every rank the local groups name the wrong parameters (a group with 8 names
and 4 tensors, or 3 names and none); ``_sync_param_groups`` copies all keys but ``params`` between
the exposed and the local groups, before and after every step and on ``load_state_dict``, so the
wrong lists come back each time (and the local ones would overwrite the exposed ones).

:func:`keep_zero_param_names` fixes one ZeRO instance: the exposed groups keep the full names (what
the consolidated ``state_dict`` saves and a resume compares), each local group gets the names of
its own parameters, and the syncs copy every key except ``params`` and ``param_names``. lr, weight
decay and all other keys are synced as before.
"""
from typing import Any, Dict, List

_NOT_SYNCED = ('params', 'param_names')


def _names_by_param(groups: List[dict]) -> Dict[int, str]:
    return {id(param): name for group in groups
            for param, name in zip(group['params'], group.get('param_names', ()))}


def keep_zero_param_names(optimizer: Any) -> bool:
    """Patch ``optimizer`` if it is a ZeRO optimizer whose groups carry ``param_names``; return
    whether it did."""
    try:
        from torch.distributed.optim import ZeroRedundancyOptimizer
    except ImportError:  # torch built without distributed support
        return False
    if not isinstance(optimizer, ZeroRedundancyOptimizer) or not hasattr(optimizer, 'optim'):
        return False
    if not any('param_names' in group for group in optimizer.param_groups):
        return False

    def name_local_groups() -> None:
        names = _names_by_param(optimizer.param_groups)
        for group in optimizer.optim.param_groups:
            group['param_names'] = [names[id(param)] for param in group['params']]

    def sync_param_groups(src_groups: List[dict], dst_groups: List[dict]) -> None:
        if len(src_groups) != len(dst_groups):
            raise RuntimeError('ZeroRedundancyOptimizer: the exposed and the local optimizer '
                               f'have {len(src_groups)} and {len(dst_groups)} param groups')
        for src, dst in zip(src_groups, dst_groups):
            for key, value in src.items():
                if key not in _NOT_SYNCED:
                    dst[key] = value
        if dst_groups is optimizer.optim.param_groups:
            name_local_groups()

    optimizer._sync_param_groups = sync_param_groups
    name_local_groups()
    return True
