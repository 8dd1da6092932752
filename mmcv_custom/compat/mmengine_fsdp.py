"""Resume FSDP runs of MMEngine 0.10.7 under torch >= 2.1: the optimizer-state call order.

MMEngine 0.10.7's ``FSDPStrategy.load_optim_state_dict`` calls
``FSDP.optim_state_dict_to_load(state_dict, self.model, optimizer)``, the argument order of
torch 2.0. torch 2.1 changed the signature to ``(model, optim, optim_state_dict, ...)``, so under
torch 2.13 every FSDP resume fails inside MMEngine with ``TypeError: unhashable type: 'dict'``
(the state dict is taken for the model). :func:`install` replaces that one method with one that
passes the same three objects by keyword; nothing else in MMEngine changes. See
:mod:`mmcv_custom.compat` for when it is installed. ``tests/test_compat_mmengine_fsdp.py`` fails
when MMEngine's method
or torch's signature changes, so this module is removed once upstream is fixed.

Sources: ``mmengine/_strategy/fsdp.py`` (``FSDPStrategy.load_optim_state_dict``, 0.10.7) and
``torch/distributed/fsdp/fully_sharded_data_parallel.py``
(``FullyShardedDataParallel.optim_state_dict_to_load``, 2.13).
"""
import inspect
from typing import Any, Optional

__all__ = ['TORCH_ARGUMENTS', 'needs_fix', 'load_optim_state_dict', 'install']

#: The leading parameters of ``FSDP.optim_state_dict_to_load`` this fix passes by keyword.
TORCH_ARGUMENTS = ('model', 'optim', 'optim_state_dict')


def _strategy_class() -> Optional[type]:
    try:
        from mmengine._strategy.fsdp import FSDPStrategy
    except ImportError:  # torch without distributed, or an MMEngine without FSDPStrategy
        return None
    return FSDPStrategy


def needs_fix() -> bool:
    """Whether torch's ``optim_state_dict_to_load`` takes the model first (torch >= 2.1)."""
    from torch.distributed.fsdp import FullyShardedDataParallel
    names = tuple(inspect.signature(FullyShardedDataParallel.optim_state_dict_to_load).parameters)
    return names[:3] == TORCH_ARGUMENTS


def load_optim_state_dict(self: Any, state_dict: dict) -> None:
    """``FSDPStrategy.load_optim_state_dict`` with torch's keyword arguments: convert the saved
    optimizer state for this rank's FSDP model (``state_dict_cfg`` decides full or local), then
    load it into the optim wrapper."""
    from torch.distributed.fsdp import FullyShardedDataParallel
    optim_state_dict = FullyShardedDataParallel.optim_state_dict_to_load(
        model=self.model, optim=self.optim_wrapper.optimizer, optim_state_dict=state_dict)
    self.optim_wrapper.load_state_dict(optim_state_dict)


def install() -> bool:
    """Replace ``FSDPStrategy.load_optim_state_dict`` when torch needs it; return whether it
    did (idempotent)."""
    strategy = _strategy_class()
    if strategy is None or not needs_fix():
        return False
    strategy.load_optim_state_dict = load_optim_state_dict
    return True
