"""Training-step time of the large-model engines with our layer-decay groups against the same
engine with the usual two groups (decay / no decay), on 2 processes (``torchrun``; gloo on CPUs).

For each engine (MMEngine's ``FSDPStrategy``: per-block units; ``DeepSpeedStrategy``: ZeRO-3),
two copies of one ViT are prepared by the strategy itself, one with
``CustomLayerDecayOptimizerConstructor`` (two groups per layer id) and one with a constructor that
builds the two usual groups (``BenchTwoGroups``, from the same original shapes). Their
``train_step`` (forward, backward, optimizer step) then alternates, ``--rounds`` times after
``--warmup``; rank 0 writes the median step times and the median per-round ratio ours / two
groups to ``--out`` (JSON) and ``--markdown``.

Usage (``make bench``)::

    python -m torch.distributed.run --standalone --nproc_per_node=2 benchmarks/bench_engines.py \
        --out work_dirs/bench/engines.json --markdown work_dirs/bench/ENGINES.md
"""
import argparse
import copy
import json
import os
import os.path as osp
import sys
import time
from typing import Dict, List, Optional

import torch
import torch.distributed as dist
import torch.nn.functional as F
from mmengine.model import BaseModel
from mmengine.optim import DefaultOptimWrapperConstructor
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS
from torch import nn

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
import mmcv_custom  # noqa: E402,F401  (constructors, FSDP policies, compat)
from mmcv_custom.layer_decay._params import collect_params  # noqa: E402

BASE_LR, WEIGHT_DECAY, RATE = 1e-4, 0.05, 0.9
SIZES = {'full': dict(depth=12, width=192, batch=8), 'quick': dict(depth=2, width=16, batch=2)}
IMAGE, PATCH, CLASSES = 32, 8, 10


class Block(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(width)
        self.attn = nn.Linear(width, width)
        self.ls1 = nn.Parameter(torch.full((width,), 0.1))
        self.norm2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(),
                                 nn.Linear(4 * width, width))
        self.ls2 = nn.Parameter(torch.full((width,), 0.1))

    def forward(self, x):
        x = x + self.ls1 * self.attn(self.norm1(x))
        return x + self.ls2 * self.mlp(self.norm2(x))


class Backbone(nn.Module):
    def __init__(self, depth: int, width: int) -> None:
        super().__init__()
        self.patch_embed = nn.Conv2d(3, width, PATCH, PATCH)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, width))
        self.pos_embed = nn.Parameter(torch.zeros(1, (IMAGE // PATCH) ** 2 + 1, width))
        self.blocks = nn.ModuleList(Block(width) for _ in range(depth))
        self.norm = nn.LayerNorm(width)

    def forward(self, x):
        x = self.patch_embed(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(len(x), -1, -1), x], dim=1) + self.pos_embed
        for block in self.blocks:
            x = block(x)
        return self.norm(x)[:, 0]


class ViTClassifier(BaseModel):
    def __init__(self, depth: int, width: int) -> None:
        super().__init__()
        self.backbone = Backbone(depth, width)
        self.head = nn.Linear(width, CLASSES)

    def forward(self, inputs, labels=None, mode='loss'):
        logits = self.head(self.backbone(inputs))
        return dict(loss=F.cross_entropy(logits, labels)) if mode == 'loss' else logits


@OPTIM_WRAPPER_CONSTRUCTORS.register_module(force=True)
class BenchTwoGroups(DefaultOptimWrapperConstructor):
    """The usual two groups: weight decay for matrices, none for 1-D parameters and biases
    (original shapes and names, so it works under FSDP too)."""

    def add_params(self, params: List[dict], module: nn.Module, **kwargs) -> None:
        decay, no_decay = [], []
        for info in collect_params(module, getattr(self, '_outer', None)).trainable:
            one_d = len(info.shape) == 1 or info.name.endswith('.bias')
            (no_decay if one_d else decay).append(info.param)
        params += [dict(params=decay, weight_decay=self.base_wd),
                   dict(params=no_decay, weight_decay=0.0)]

    def __call__(self, model: nn.Module):
        self._outer = model
        return super().__call__(model)


def optim_cfg(engine: str, ours: bool) -> dict:
    cfg = dict(type='DeepSpeedOptimWrapper' if engine.startswith('zero') else 'OptimWrapper',
               optimizer=dict(type='AdamW', lr=BASE_LR, weight_decay=WEIGHT_DECAY))
    if ours:
        cfg.update(constructor='CustomLayerDecayOptimizerConstructor',
                   paramwise_cfg=dict(layer_decay_rate=RATE))
    else:
        cfg.update(constructor='BenchTwoGroups', paramwise_cfg=dict(two_groups=True))
    return cfg


def fsdp_wrapper() -> dict:
    wrapper = dict(auto_wrap_policy=dict(type='wrap_modules_by_class_name',
                                         class_names=['Block']))
    if not torch.cuda.is_available():
        wrapper['device_id'] = 'cpu'  # MMEngine passes LOCAL_RANK as a GPU index otherwise
    return wrapper


def strategy(engine: str, work_dir: str, batch: int):
    kwargs = dict(work_dir=work_dir, env_kwargs=dict(launcher='pytorch'),
                  log_kwargs=dict(log_level='WARNING'))
    if engine == 'fsdp':
        from mmengine._strategy import FSDPStrategy
        return FSDPStrategy(model_wrapper=fsdp_wrapper(), **kwargs)
    from mmengine._strategy import DeepSpeedStrategy
    stage = int(engine[-1])
    return DeepSpeedStrategy(zero_optimization=dict(stage=stage),
                             train_micro_batch_size_per_gpu=batch,
                             config=dict(zero_allow_untested_optimizer=True), **kwargs)


def prepared(runner_strategy, engine: str, ours: bool, size: dict):
    """A fresh model prepared by ``runner_strategy`` (one strategy prepares both setups:
    MMEngine 0.10.7's DeepSpeedStrategy registers DeepSpeed's optimizers in its ``__init__``,
    and a second instance raises KeyError)."""
    torch.manual_seed(0)
    model = ViTClassifier(size['depth'], size['width'])
    runner_strategy._prepared = False
    if engine == 'fsdp':  # MMEngine's wrapper pops keys from this dict while it builds
        runner_strategy.model_wrapper = fsdp_wrapper()
    wrapped, optim_wrapper, *_ = runner_strategy.prepare(
        model, optim_wrapper=optim_cfg(engine, ours), dispatch_kwargs=dict(max_iters=1))
    groups = len(optim_wrapper.optimizer.param_groups)
    return wrapped, optim_wrapper, groups


def batch(size: dict, step: int) -> dict:
    generator = torch.Generator().manual_seed(step * 2 + dist.get_rank())
    return dict(inputs=torch.randn(size['batch'], 3, IMAGE, IMAGE, generator=generator),
                labels=torch.randint(0, CLASSES, (size['batch'],), generator=generator))


def timed_step(wrapped, optim_wrapper, data: dict) -> float:
    dist.barrier()
    start = time.perf_counter()
    wrapped.train_step(data, optim_wrapper)
    dist.barrier()
    return (time.perf_counter() - start) * 1000


def median(values: List[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def bench_engine(engine: str, size: dict, rounds: int, warmup: int, work_dir: str) -> dict:
    runner_strategy = strategy(engine, osp.join(work_dir, engine), size['batch'])
    setups = {name: prepared(runner_strategy, engine, name == 'ours', size)
              for name in ('ours', 'two_groups')}
    times: Dict[str, List[float]] = {name: [] for name in setups}
    for step in range(warmup + rounds):
        data = batch(size, step)
        order = list(setups) if step % 2 == 0 else list(reversed(list(setups)))
        for name in order:
            wrapped, optim_wrapper, _ = setups[name]
            elapsed = timed_step(wrapped, optim_wrapper, copy.deepcopy(data))
            if step >= warmup:
                times[name].append(elapsed)
    ratios = [a / b for a, b in zip(times['ours'], times['two_groups'])]
    return dict(groups_ours=setups['ours'][2], groups_two=setups['two_groups'][2],
                ours_ms=median(times['ours']), two_groups_ms=median(times['two_groups']),
                ratio=median(ratios), ours_times_ms=[round(t, 3) for t in times['ours']],
                two_groups_times_ms=[round(t, 3) for t in times['two_groups']])


def markdown(results: dict) -> str:
    lines = ['| engine | groups (ours / usual) | ours ms | two groups ms | ratio |',
             '|---|---|---|---|---|']
    for engine, row in results['engines'].items():
        lines.append(f"| {engine} | {row['groups_ours']} / {row['groups_two']} | "
                     f"{row['ours_ms']:.1f} | {row['two_groups_ms']:.1f} | "
                     f"{row['ratio']:.2f}x |")
    size = results['size']
    return (f"Step time on {results['world_size']} processes ({results['device']}), ViT depth "
            f"{size['depth']} width {size['width']}, batch {size['batch']} per process, median "
            f"of {results['rounds']} alternating rounds:\n\n" + '\n'.join(lines) + '\n')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--out', default='work_dirs/bench/engines.json')
    parser.add_argument('--markdown')
    parser.add_argument('--engines', default='fsdp,zero3',
                        help='comma-separated: fsdp, zero2, zero3')
    parser.add_argument('--quick', action='store_true', help='a tiny model and 2 rounds')
    parser.add_argument('--rounds', type=int, default=None)
    parser.add_argument('--warmup', type=int, default=None)
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(1)
    backend = 'nccl' if torch.cuda.is_available() else 'gloo'
    if torch.cuda.is_available():
        torch.cuda.set_device(int(os.environ['LOCAL_RANK']))
    dist.init_process_group(backend)
    size = SIZES['quick' if args.quick else 'full']
    rounds = args.rounds or (2 if args.quick else 20)
    warmup = args.warmup if args.warmup is not None else (1 if args.quick else 3)
    started = time.time()
    work_dir = osp.join(osp.dirname(osp.abspath(args.out)), 'engines_work')
    engines = {engine: bench_engine(engine, size, rounds, warmup, work_dir)
               for engine in args.engines.split(',')}
    results = dict(quick=args.quick, size=size, rounds=rounds, warmup=warmup,
                   world_size=dist.get_world_size(),
                   device='GPUs' if torch.cuda.is_available() else 'CPU, gloo',
                   torch=torch.__version__, engines=engines,
                   elapsed_s=round(time.time() - started, 1))
    if dist.get_rank() == 0:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as file:
            json.dump(results, file, indent=1)
        if args.markdown:
            with open(args.markdown, 'w') as file:
                file.write(markdown(results))
        print(markdown(results))
    dist.barrier()
    dist.destroy_process_group()
    return 0


if __name__ == '__main__':
    sys.exit(main())
