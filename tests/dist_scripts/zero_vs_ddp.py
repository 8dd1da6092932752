"""ZeRO with our layer-decay groups against plain DDP, on 2 CPU processes (``torchrun``, gloo).

Both runs start from the same weights and see the same per-rank batches under a warm-up + poly
schedule; rank 0 writes to ``argv[1]`` (JSON) what the test asserts:

- ``max_param_diff``: the largest |ZeRO - DDP| over all parameters after the steps;
- ``lr_wd_equal``: at every step, the exposed ZeRO groups' (lr, weight_decay) equal DDP's, and every
  rank's local groups carry the same values;
- ``local_names_ok``: every local group's ``param_names`` names exactly its own ``params``;
- ``digests_equal``: the group digest (names, lr, wd) is the same on both ranks;
- ``resume_ok`` / ``mismatch_error``: the consolidated state dict loads into a fresh ZeRO with the
  same groups, and loading it with other groups raises our error (its message).
"""
import json
import os.path as osp
import sys

import torch
import torch.distributed as dist
from mmengine.optim import build_optim_wrapper
from mmengine.optim.scheduler import LinearLR
from torch.nn.parallel import DistributedDataParallel as DDP

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from tiny_train import TinyClassifier, TinyData, group_digest  # noqa: E402

from mmcv_custom import PolyLRRatio  # noqa: E402

STEPS, BATCH = 6, 4


def optim_cfg(zero: bool, num_layers=None) -> dict:
    optimizer = dict(type='AdamW', lr=1e-2, weight_decay=0.05, foreach=False)
    if zero:
        optimizer = dict(optimizer, type='ZeroRedundancyOptimizer', optimizer_type='AdamW')
    paramwise = dict(decay_rate=0.75)
    if num_layers is not None:
        paramwise['num_layers'] = num_layers
    return dict(type='OptimWrapper', optimizer=optimizer,
                constructor='LearningRateDecayOptimizerConstructor', paramwise_cfg=paramwise)


def build(zero: bool, num_layers=None):
    torch.manual_seed(0)
    model = DDP(TinyClassifier(depth=3))
    optim_wrapper = build_optim_wrapper(model, optim_cfg(zero, num_layers))
    return model, optim_wrapper


def batch(rank: int, step: int):
    data = TinyData(1024)
    items = [data[(step * dist.get_world_size() + rank) * BATCH + i] for i in range(BATCH)]
    return (torch.stack([item['inputs'] for item in items]),
            torch.stack([item['label'] for item in items]))


def lr_wd(groups):
    return [(group['lr'], group['weight_decay']) for group in groups]


def train(zero: bool, rank: int, trace: list):
    model, optim_wrapper = build(zero)
    schedulers = [LinearLR(optim_wrapper, start_factor=0.1, by_epoch=False, begin=0, end=2),
                  PolyLRRatio(optim_wrapper, eta_min_ratio=0.1, by_epoch=False, begin=2,
                              end=STEPS)]
    optimizer = optim_wrapper.optimizer
    local_ok = True
    for step in range(STEPS):
        inputs, labels = batch(rank, step)
        loss = model(inputs, labels, mode='loss')['loss']
        optim_wrapper.update_params(loss)
        trace.append(lr_wd(optimizer.param_groups))
        if zero:
            local = optimizer.optim.param_groups
            local_ok &= lr_wd(local) == lr_wd(optimizer.param_groups)
            names = {id(p): n for g in optimizer.param_groups
                     for p, n in zip(g['params'], g['param_names'])}
            local_ok &= all(g['param_names'] == [names[id(p)] for p in g['params']]
                            for g in local)
        for scheduler in schedulers:
            scheduler.step()
    return model, optim_wrapper, local_ok


def main() -> None:
    out = sys.argv[1]
    dist.init_process_group('gloo')
    rank = dist.get_rank()
    ddp_trace, zero_trace = [], []
    ddp_model, _, _ = train(False, rank, ddp_trace)
    zero_model, zero_wrapper, local_ok = train(True, rank, zero_trace)
    max_diff = max((a - b).abs().max().item() for a, b in
                   zip(ddp_model.module.parameters(), zero_model.module.parameters()))
    digests = [None] * dist.get_world_size()
    dist.all_gather_object(digests, group_digest(zero_wrapper.optimizer.param_groups)['sha256'])
    local_flags = [None] * dist.get_world_size()
    dist.all_gather_object(local_flags, local_ok)

    state = [zero_wrapper.state_dict()]  # consolidates on rank 0 (collective)
    dist.broadcast_object_list(state, src=0)
    _, fresh = build(True)
    fresh.load_state_dict(state[0])
    resume_ok = lr_wd(fresh.optimizer.param_groups) == lr_wd(zero_wrapper.optimizer.param_groups)
    mismatch_error = None
    _, other = build(True, num_layers=5)
    try:
        other.load_state_dict(state[0])
    except Exception as error:  # noqa: BLE001  (the test checks type and message)
        mismatch_error = f'{type(error).__name__}: {error}'
    if rank == 0:
        saved_groups = state[0]['param_groups']
        with open(out, 'w') as f:
            json.dump(dict(
                max_param_diff=max_diff,
                lr_wd_equal=ddp_trace == zero_trace,
                local_names_ok=all(local_flags),
                digests_equal=len(set(digests)) == 1,
                num_groups=len(saved_groups),
                saved_names_full=all(len(g['param_names']) == len(g['params'])
                                     for g in saved_groups),
                resume_ok=resume_ok,
                mismatch_error=mismatch_error), f)
    dist.destroy_process_group()


if __name__ == '__main__':
    main()
