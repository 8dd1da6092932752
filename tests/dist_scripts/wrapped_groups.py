"""Our groups on wrapped models against the bare model's, on 2 CPU processes (``torchrun``, gloo).

One launch checks every wrap setting. Each rank builds the bare model's groups, then for each case
builds the same model (same seed), wraps it, builds the groups through MMEngine's
``build_optim_wrapper`` (as ``FSDPStrategy`` does: from the wrapped model) and records, per
parameter, what differs from the bare model (group name, lr, weight decay), or the error raised.
Each rank writes ``<out>/rank{R}.json``: ``{case: {"mismatches": [...], "groups": n} |
{"error": "Type: message"}}``.

Cases: FSDP ``use_orig_params=True`` with the default wrap (one root unit), per-block wrap,
per-block + activation checkpointing, per-block SHARD_GRAD_OP, the backbone as one unit (also with
``layer_ids_from_model`` on an mmpretrain ViT); ``use_orig_params=False`` and a constructor given
``fsdp_model.module`` (errors); ``torch.compile(model)``; ``MMSeparateDistributedDataParallel``;
``fsdp_step``: one AdamW step under per-block FSDP equals the bare model's step; and
``config_fsdp``: the InternViT-6B FSDP config at width 16 (48 blocks), set up for the CPU by
``tools/train.py`` and wrapped and given its optimizer by MMEngine's ``FSDPStrategy`` itself.
"""
import copy
import importlib.util
import json
import os
import os.path as osp
import sys
import traceback
from typing import Callable, Dict, Optional

import torch
import torch.distributed as dist
from mmengine.model import MMSeparateDistributedDataParallel
from mmengine.optim import build_optim_wrapper
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS
from torch import nn
from torch.distributed.algorithms._checkpoint.checkpoint_wrapper import (
    apply_activation_checkpointing, checkpoint_wrapper)
from torch.distributed.fsdp import FullyShardedDataParallel as FSDP
from torch.distributed.fsdp import ShardingStrategy
from torch.distributed.fsdp.wrap import ModuleWrapPolicy

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from tiny_train import Block, TinyClassifier, TinyViT  # noqa: E402

import mmcv_custom  # noqa: E402,F401

RATE, BASE_LR, WD = 0.5, 1e-2, 0.05


def cfg(layer_ids_from_model: bool = False) -> dict:
    paramwise = dict(decay_rate=RATE)
    if layer_ids_from_model:
        paramwise['layer_ids_from_model'] = True
    return dict(type='OptimWrapper',
                optimizer=dict(type='AdamW', lr=BASE_LR, weight_decay=WD, foreach=False),
                constructor='LearningRateDecayOptimizerConstructor', paramwise_cfg=paramwise)


def tiny() -> nn.Module:
    torch.manual_seed(0)
    return TinyClassifier(depth=3)


class PretrainViTClassifier(nn.Module):
    """mmpretrain's VisionTransformer (it answers get_layer_depth) and a linear head."""

    def __init__(self) -> None:
        super().__init__()
        from mmpretrain.models import VisionTransformer
        torch.manual_seed(0)
        self.backbone = VisionTransformer(
            arch=dict(embed_dims=8, num_layers=3, num_heads=2, feedforward_channels=16),
            img_size=16, patch_size=4, out_type='cls_token')
        self.head = nn.Linear(8, 3)

    def forward(self, x):
        return self.head(self.backbone(x)[-1])


def layout(groups) -> Dict[str, list]:
    return {name: [group['group_name'], group['lr'], group['weight_decay']]
            for group in groups if 'group_name' in group for name in group['param_names']}


def fsdp(model: nn.Module, policy=None, **kwargs) -> FSDP:
    kwargs.setdefault('use_orig_params', True)
    return FSDP(model, device_id=torch.device('cpu'), auto_wrap_policy=policy, **kwargs)


def per_block_checkpointed(model: nn.Module) -> FSDP:
    wrapped = fsdp(model, ModuleWrapPolicy({Block}))
    apply_activation_checkpointing(wrapped, checkpoint_wrapper_fn=checkpoint_wrapper,
                                   check_fn=lambda module: isinstance(module, Block))
    return wrapped


def mmpretrain_vit_as_one_unit(model: nn.Module) -> FSDP:
    return fsdp(model, ModuleWrapPolicy({type(model.backbone)}))


CASES: Dict[str, tuple] = {
    # name: (build the model, wrap it, layer_ids_from_model, build from what)
    'fsdp_default': (tiny, fsdp, False),
    'fsdp_per_block': (tiny, lambda m: fsdp(m, ModuleWrapPolicy({Block})), False),
    'fsdp_per_block_checkpointed': (tiny, per_block_checkpointed, False),
    'fsdp_shard_grad_op': (tiny, lambda m: fsdp(m, ModuleWrapPolicy({Block}),
                                                sharding_strategy=ShardingStrategy.SHARD_GRAD_OP),
                           False),
    'fsdp_backbone_unit': (tiny, lambda m: fsdp(m, ModuleWrapPolicy({TinyViT})), False),
    'fsdp_backbone_unit_model_ids': (PretrainViTClassifier, mmpretrain_vit_as_one_unit, True),
    'fsdp_flat_params': (tiny, lambda m: fsdp(m, ModuleWrapPolicy({Block}),
                                              use_orig_params=False), False),
    'fsdp_inner_module_only': (tiny, lambda m: fsdp(m, ModuleWrapPolicy({Block})).module, False),
    'compiled': (tiny, torch.compile, False),
    'compiled_model_ids': (PretrainViTClassifier, torch.compile, True),
    'separate_ddp': (tiny, lambda m: MMSeparateDistributedDataParallel(m, device_ids=None), False),
    'separate_ddp_model_ids': (PretrainViTClassifier,
                               lambda m: MMSeparateDistributedDataParallel(m, device_ids=None),
                               True),
}


def compare(bare: Dict[str, list], got: Dict[str, list]) -> list:
    mismatches = [f'{name}: bare {want}, wrapped {got.get(name)}'
                  for name, want in bare.items() if got.get(name) != want]
    return mismatches + [f'{name}: only in the wrapped model' for name in got if name not in bare]


def run_case(make: Callable[[], nn.Module], wrap: Callable[[nn.Module], nn.Module],
             model_ids: bool) -> dict:
    bare = layout(build_optim_wrapper(make(), cfg(model_ids)).optimizer.param_groups)
    optim = cfg(model_ids)
    constructor = OPTIM_WRAPPER_CONSTRUCTORS.build(dict(
        type=optim.pop('constructor'), paramwise_cfg=optim.pop('paramwise_cfg'),
        optim_wrapper_cfg=optim))
    try:
        groups = constructor(wrap(make())).optimizer.param_groups
    except Exception as error:  # the test asserts the type and message
        return dict(error=f'{type(error).__name__}: {error}')
    named = [group for group in groups if 'group_name' in group]
    return dict(mismatches=compare(bare, layout(groups)), groups=len(named),
                bare_groups=len({value[0] for value in bare.values()}),
                notes=list(constructor.notes))


def batch():
    generator = torch.Generator().manual_seed(1)
    return torch.randn(4, 3, 16, 16, generator=generator), torch.tensor([0, 1, 2, 0])


def loss_of(model: nn.Module) -> torch.Tensor:
    inputs, labels = batch()
    return nn.functional.cross_entropy(model(inputs, mode='tensor'), labels)


def fsdp_step() -> dict:
    """One AdamW step with our groups: per-block FULL_SHARD FSDP (every rank the same batch, so
    the averaged gradient is the bare model's) against the bare model."""
    bare = tiny()
    optim = build_optim_wrapper(bare, cfg())
    optim.update_params(loss_of(bare))
    wrapped = fsdp(tiny(), ModuleWrapPolicy({Block}))
    optim = build_optim_wrapper(wrapped, cfg())
    optim.update_params(loss_of(wrapped))
    with FSDP.summon_full_params(wrapped):
        got = {name: param.detach().clone() for name, param in wrapped.module.named_parameters()}
    want = dict(bare.named_parameters())
    from mmcv_custom.layer_decay._names import canonical_name
    got = {canonical_name(name): value for name, value in got.items()}
    diffs = {name: (got[name] - param.detach()).abs().max().item() for name, param in
             want.items()}
    changed = [name for name, param in tiny().named_parameters()
               if not torch.equal(param, want[name].detach())]
    return dict(max_diff=max(diffs.values()), changed=len(changed), params=len(want))


ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
FSDP_CONFIG = osp.join(ROOT, 'configs', 'internvit',
                       'upernet_internvit-6b_ld0.95_80k_ade20k-504x504_fsdp.py')
WIDTH = 16


def small_fsdp_config():
    """The InternViT-6B FSDP config with every width 16 (depth, layout and strategy unchanged)."""
    from mmengine.config import Config
    cfg = Config.fromfile(FSDP_CONFIG)
    cfg.model.backbone.update(arch=dict(embed_dims=WIDTH, num_layers=48, num_heads=2,
                                        feedforward_channels=2 * WIDTH, norm_type='rms_norm',
                                        qk_norm=True, qkv_bias=False), init_cfg=None)
    cfg.model.neck.update(in_channels=WIDTH)
    cfg.model.decode_head.update(in_channels=[WIDTH] * 4, channels=WIDTH)
    cfg.model.auxiliary_head.update(in_channels=WIDTH, channels=WIDTH)
    return cfg


def config_fsdp(out: str) -> dict:
    from mmengine._strategy import FSDPStrategy
    from torch.distributed.fsdp import FullyShardedDataParallel

    from mmcv_custom.analysis import build_model
    spec = importlib.util.spec_from_file_location('train_tool', osp.join(ROOT, 'tools', 'train.py'))
    train_tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(train_tool)
    cfg = small_fsdp_config()
    notes = train_tool.use_cpu_strategy(cfg)
    torch.manual_seed(0)
    bare = layout(build_optim_wrapper(build_model(cfg), copy.deepcopy(cfg.optim_wrapper))
                  .optimizer.param_groups)
    options = copy.deepcopy(cfg.strategy)
    options.pop('type')
    strategy = FSDPStrategy(**options, work_dir=osp.join(out, 'strategy'),
                            env_kwargs=dict(launcher='pytorch'))
    torch.manual_seed(0)
    wrapped = strategy._wrap_model(build_model(cfg))
    groups = strategy.build_optim_wrapper(copy.deepcopy(cfg.optim_wrapper),
                                          wrapped).optimizer.param_groups
    units = sum(isinstance(m, FullyShardedDataParallel) for m in wrapped.modules())
    raw = [name for name, _ in wrapped.named_parameters()]
    return dict(mismatches=compare(bare, layout(groups)),
                groups=len([g for g in groups if 'group_name' in g]),
                bare_groups=len({value[0] for value in bare.values()}), fsdp_units=units,
                checkpointed=sum('_checkpoint_wrapped_module' in name for name in raw),
                notes=notes)


def main(out: str, only: Optional[str] = None) -> None:
    dist.init_process_group('gloo')
    rank = dist.get_rank()
    report = {}
    for name, (make, wrap, model_ids) in CASES.items():
        if only and name != only:
            continue
        try:
            report[name] = run_case(make, wrap, model_ids)
        except Exception:
            report[name] = dict(error='harness: ' + traceback.format_exc())
    if not only or only == 'fsdp_step':
        report['fsdp_step'] = fsdp_step()
    if not only or only == 'config_fsdp':
        try:
            report['config_fsdp'] = config_fsdp(out)
        except Exception:
            report['config_fsdp'] = dict(error='harness: ' + traceback.format_exc())
    os.makedirs(out, exist_ok=True)
    with open(osp.join(out, f'rank{rank}.json'), 'w') as file:
        json.dump(report, file, indent=1)
    dist.barrier()
    dist.destroy_process_group()


if __name__ == '__main__':
    main(*sys.argv[1:])
