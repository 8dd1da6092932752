"""``ReliabilityFinalParams``: after training, each rank saves the model's full parameters under
canonical names to ``<work_dir>/final_rank{R}.pt`` (FSDP: gathered with ``summon_full_params``;
DeepSpeed ZeRO-3: with ``GatheredParameters``; otherwise as they are)."""
import contextlib
import os.path as osp

import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from mmcv_custom.layer_decay._names import canonical_name


def _inner(model):
    while hasattr(model, 'module'):
        model = model.module
    return model


def _gathered(model):
    from torch.distributed.fsdp import FullyShardedDataParallel as FSDP
    if isinstance(model, FSDP):
        return FSDP.summon_full_params(model)
    params = list(model.parameters())
    if any(hasattr(p, 'ds_shape') for p in params):
        import deepspeed
        return deepspeed.zero.GatheredParameters(params)
    return contextlib.nullcontext()


@HOOKS.register_module(name='ReliabilityFinalParams', force=True)
class FinalParams(Hook):

    priority = 'LOWEST'

    def after_train(self, runner) -> None:
        model = runner.model
        engine = getattr(model, 'model', None)  # MMDeepSpeedEngineWrapper keeps the engine
        target = engine if engine is not None else model
        with _gathered(target):
            state = {canonical_name(name): param.detach().float().clone()
                     for name, param in _inner(model).named_parameters()}
        torch.save(state, osp.join(runner.work_dir, f'final_rank{get_rank()}.pt'))
