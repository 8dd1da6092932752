"""``mmcv_custom.compat.mmengine_fsdp``: needed while MMEngine calls torch's FSDP optimizer-state
conversion with torch 2.0's argument order. These tests fail when either side changes, so the fix
is removed or revised then; the FSDP resume it enables runs in test_reliability_engines.py."""
import inspect
import re

from mmengine._strategy.fsdp import FSDPStrategy
from torch.distributed.fsdp import FullyShardedDataParallel

from mmcv_custom.compat import mmengine_fsdp

#: MMEngine 0.10.7's call (mmengine/_strategy/fsdp.py, FSDPStrategy.load_optim_state_dict).
UPSTREAM_CALL = re.compile(r'FSDP\.optim_state_dict_to_load\(\s*state_dict,\s*self\.model,\s*'
                           r'self\.optim_wrapper\.optimizer\)')


def test_mmengine_still_passes_the_state_dict_first():
    source = inspect.getsource(inspect.getmodule(FSDPStrategy))
    assert UPSTREAM_CALL.search(source), (
        'MMEngine changed FSDPStrategy.load_optim_state_dict: check whether '
        'mmcv_custom.compat.mmengine_fsdp is still needed')


def test_torch_takes_the_model_first():
    names = list(inspect.signature(FullyShardedDataParallel.optim_state_dict_to_load).parameters)
    assert names[:3] == ['model', 'optim', 'optim_state_dict']
    assert mmengine_fsdp.needs_fix()


def test_install_replaces_the_method_and_is_idempotent():
    # tools/train.py and the constructors install it; `import mmcv_custom` does not
    # (test_import.py)
    assert mmengine_fsdp.install()
    assert FSDPStrategy.load_optim_state_dict is mmengine_fsdp.load_optim_state_dict
    assert mmengine_fsdp.install()  # idempotent: installs the same function again
    assert FSDPStrategy.load_optim_state_dict is mmengine_fsdp.load_optim_state_dict


class _Recorder:
    """Stands for the strategy: records what reaches torch and the optim wrapper."""

    def __init__(self) -> None:
        self.model, self.loaded = object(), None
        self.optim_wrapper = self
        self.optimizer = object()

    def load_state_dict(self, state_dict) -> None:
        self.loaded = state_dict


def test_the_fix_passes_model_optimizer_and_state_by_name(monkeypatch):
    seen = {}

    def convert(model, optim, optim_state_dict, **kwargs):
        seen.update(model=model, optim=optim, state=optim_state_dict)
        return {'converted': optim_state_dict}

    monkeypatch.setattr(FullyShardedDataParallel, 'optim_state_dict_to_load',
                        staticmethod(convert))
    strategy, saved = _Recorder(), {'state': {}, 'param_groups': []}
    mmengine_fsdp.load_optim_state_dict(strategy, saved)
    assert seen == dict(model=strategy.model, optim=strategy.optimizer, state=saved)
    assert strategy.loaded == {'converted': saved}
