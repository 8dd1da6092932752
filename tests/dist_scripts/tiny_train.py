"""A tiny, deterministic MMEngine training run with our layer-decay constructor.

Used by the reliability tests, single-process or under ``torchrun`` (``--launcher pytorch``, gloo on
CPU). It mirrors what ``tools/train.py`` does with a config: build a ``Runner`` from a dict, train
by iterations, checkpoint every ``--ckpt-interval`` iterations, ``--resume`` from the latest
checkpoint of ``--work-dir``. What the tests compare is written under ``--work-dir``:

- ``groups_rank{R}.json``: the digest of the param groups this rank built (names, lr, wd);
- ``lrs.jsonl`` (rank 0): one line per iteration, ``{"iter": i, "lr": [per group]}``.
"""
import argparse
import json
import os
import os.path as osp
import sys
import time

import torch
import torch.nn.functional as F
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from mmengine.registry import DATASETS, HOOKS, MODELS
from mmengine.runner import Runner
from torch import nn
from torch.utils.data import Dataset

import mmcv_custom  # noqa: F401  (constructors, scheduler, safe checkpoint loading)

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from digest_hook import group_digest  # noqa: E402,F401  (registers ReliabilityGroupDigest)

DIM, PATCH, SIZE, CLASSES = 8, 4, 16, 3


class Block(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = nn.Linear(dim, dim)
        self.ls1 = nn.Parameter(torch.full((dim,), 0.5))
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Linear(dim, dim)
        self.ls2 = nn.Parameter(torch.full((dim,), 0.5))

    def forward(self, x):
        x = x + self.ls1 * self.attn(self.norm1(x))
        return x + self.ls2 * torch.tanh(self.mlp(self.norm2(x)))


class TinyViT(nn.Module):
    def __init__(self, depth: int) -> None:
        super().__init__()
        tokens = (SIZE // PATCH) ** 2 + 1
        self.cls_token = nn.Parameter(torch.zeros(1, 1, DIM))
        self.pos_embed = nn.Parameter(torch.randn(1, tokens, DIM) * 0.02)
        self.patch_embed = nn.Module()
        self.patch_embed.proj = nn.Conv2d(3, DIM, PATCH, PATCH)
        self.blocks = nn.ModuleList(Block(DIM) for _ in range(depth))
        self.norm = nn.LayerNorm(DIM)

    def forward(self, x):
        x = self.patch_embed.proj(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(len(x), -1, -1), x], dim=1) + self.pos_embed
        for block in self.blocks:
            x = block(x)
        return self.norm(x).mean(dim=1)


class ConvNeXtBlock(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.depthwise_conv = nn.Conv2d(dim, dim, 3, padding=1, groups=dim)
        self.norm = nn.GroupNorm(1, dim)
        self.pointwise_conv = nn.Conv2d(dim, dim, 1)
        self.gamma = nn.Parameter(torch.full((dim,), 0.5))

    def forward(self, x):
        y = self.pointwise_conv(self.norm(self.depthwise_conv(x)))
        return x + self.gamma.view(1, -1, 1, 1) * torch.tanh(y)


class TinyConvNeXt(nn.Module):
    """mmpretrain's ConvNeXt name layout (``downsample_layers.S``, ``stages.S.B``), 3 blocks in
    stage 2 and ``depth`` blocks in the others; the class name has 'ConvNeXt' for mmdet."""

    def __init__(self, depth: int) -> None:
        super().__init__()
        self.downsample_layers = nn.ModuleList(
            nn.Sequential(nn.Conv2d(3 if stage == 0 else DIM, DIM, 2, 2)) for stage in range(4))
        self.stages = nn.ModuleList(
            nn.Sequential(*(ConvNeXtBlock(DIM) for _ in range(3 if stage == 2 else depth)))
            for stage in range(4))
        self.norm = nn.GroupNorm(1, DIM)

    def forward(self, x):
        for down, stage in zip(self.downsample_layers, self.stages):
            x = stage(down(x))
        return self.norm(x).mean(dim=(2, 3))


@MODELS.register_module(name='ReliabilityTinyClassifier', force=True)
class TinyClassifier(BaseModel):
    """``init_seed``: ``init_weights()`` (which every runner and strategy calls) sets the weights
    of a model built right after ``torch.manual_seed(init_seed)``, whatever the runner drew from
    the random generator before: runs with different runners start from the same weights."""

    def __init__(self, depth: int = 3, arch: str = 'vit', init_seed=None) -> None:
        super().__init__()
        self.depth, self.arch, self.init_seed = depth, arch, init_seed
        self.backbone = TinyViT(depth) if arch == 'vit' else TinyConvNeXt(depth)
        self.decode_head = nn.Linear(DIM, CLASSES)

    def init_weights(self) -> None:
        if self.init_seed is None:
            return super().init_weights()
        with torch.random.fork_rng():
            torch.manual_seed(self.init_seed)
            reference = TinyClassifier(self.depth, self.arch)
        self.load_state_dict(reference.state_dict())

    def forward(self, inputs, label=None, mode='tensor'):
        logits = self.decode_head(self.backbone(inputs))
        if mode == 'loss':
            return dict(loss=F.cross_entropy(logits, label))
        return logits


@DATASETS.register_module(name='ReliabilityTinyData', force=True)
class TinyData(Dataset):
    """Images and labels that depend only on the index."""

    def __init__(self, length: int = 64) -> None:
        self.length = length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict:
        generator = torch.Generator().manual_seed(index)
        return dict(inputs=torch.randn(3, SIZE, SIZE, generator=generator),
                    label=torch.tensor(index % CLASSES))


@HOOKS.register_module(name='ReliabilityLrRecorder', force=True)
class LrRecorder(Hook):
    """Rank 0 appends each iteration's per-group lrs to ``lrs.jsonl``; optionally sleeps."""

    priority = 'LOWEST'

    def __init__(self, sleep: float = 0.0, stop_after: int = 0) -> None:
        self.sleep = sleep
        self.stop_after = stop_after

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        # after CheckpointHook (this hook is LOWEST): the crash comes right after a checkpoint
        if self.stop_after and runner.iter == self.stop_after:
            os._exit(3)

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        if get_rank() == 0:
            groups = runner.optim_wrapper.optimizer.param_groups
            with open(osp.join(runner.work_dir, 'lrs.jsonl'), 'a') as f:
                f.write(json.dumps(dict(iter=runner.iter, lr=[g['lr'] for g in groups])) + '\n')
        if self.sleep:
            time.sleep(self.sleep)


def build_cfg(args) -> dict:
    paramwise = dict(decay_rate=0.75, decay_type=args.decay_type)
    if args.num_layers is not None:
        paramwise['num_layers'] = args.num_layers
    optimizer = dict(type='AdamW', lr=1e-2, weight_decay=0.05)
    optim_wrapper = dict(type='OptimWrapper', optimizer=optimizer,
                         constructor='LearningRateDecayOptimizerConstructor',
                         paramwise_cfg=paramwise)
    if args.constructor == 'mmdet':
        optim_wrapper['constructor'] = 'ReliabilityMMDetLayerDecay'
    if args.wrapper == 'amp':
        optim_wrapper.update(type='AmpOptimWrapper', dtype='bfloat16')
    elif args.wrapper == 'accum':
        optim_wrapper.update(accumulative_counts=2)
    elif args.wrapper == 'clip':
        optim_wrapper.update(clip_grad=dict(max_norm=0.05, norm_type=2))
    return dict(
        model=dict(type='ReliabilityTinyClassifier', depth=args.depth, arch=args.arch),
        work_dir=args.work_dir,
        train_dataloader=dict(
            batch_size=4, num_workers=0,
            dataset=dict(type='ReliabilityTinyData', length=64),
            sampler=dict(type='DefaultSampler', shuffle=True),
            collate_fn=dict(type='default_collate')),
        train_cfg=dict(by_epoch=False, max_iters=args.iters),
        optim_wrapper=optim_wrapper,
        param_scheduler=[
            dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=3),
            dict(type='PolyLRRatio', eta_min_ratio=0.01, power=1.0, by_epoch=False, begin=3,
                 end=args.iters)],
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', interval=args.ckpt_interval, by_epoch=False),
            logger=dict(type='LoggerHook', interval=1)),
        custom_hooks=[dict(type='ReliabilityLrRecorder', sleep=args.sleep,
                           stop_after=args.stop_after),
                      dict(type='ReliabilityGroupDigest')] + (
                          [dict(type='EMAHook', momentum=0.1)] if args.ema else []),
        randomness=dict(seed=0, deterministic=True),
        env_cfg=dict(dist_cfg=dict(backend='gloo')),
        model_wrapper_cfg=dict(type='MMDistributedDataParallel', device_ids=None),
        launcher=args.launcher,
        resume=args.resume,
        log_level='INFO',
    )


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--work-dir', required=True)
    parser.add_argument('--iters', type=int, default=8)
    parser.add_argument('--ckpt-interval', type=int, default=4)
    parser.add_argument('--depth', type=int, default=3)
    parser.add_argument('--arch', choices=['vit', 'convnext'], default='vit')
    parser.add_argument('--num-layers', type=int, default=None)
    parser.add_argument('--decay-type', default='layer_wise')
    parser.add_argument('--freeze', default='', help='comma-separated parameter-name prefixes')
    parser.add_argument('--constructor', choices=['ours', 'mmdet'], default='ours')
    parser.add_argument('--sleep', type=float, default=0.0)
    parser.add_argument('--stop-after', type=int, default=0,
                        help='exit abruptly right after this iteration (and its checkpoint)')
    parser.add_argument('--wrapper', choices=['plain', 'amp', 'accum', 'clip'], default='plain')
    parser.add_argument('--ema', action='store_true')
    parser.add_argument('--resume', action='store_true')
    parser.add_argument('--launcher', choices=['none', 'pytorch'], default='none')
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.wrapper == 'amp':
        # MMEngine's AmpOptimWrapper asserts a CUDA/NPU/MLU/MUSA device although its autocast
        # supports the CPU (bf16); its GradScaler disables itself without CUDA.
        from mmengine.optim.optimizer import amp_optimizer_wrapper
        amp_optimizer_wrapper.is_cuda_available = lambda: True
    if args.constructor == 'mmdet':
        # mmcv_custom replaces mmdet's class in mmdet's registry; reach the original by a name
        # of its own to write a checkpoint with mmdet's groups.
        from mmdet.engine.optimizers import layer_decay_optimizer_constructor as mmdet_lrd
        from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS
        OPTIM_WRAPPER_CONSTRUCTORS.register_module(
            name='ReliabilityMMDetLayerDecay', force=True,
            module=mmdet_lrd.LearningRateDecayOptimizerConstructor)
    runner = Runner.from_cfg(build_cfg(args))
    prefixes = [p for p in args.freeze.split(',') if p]
    model = runner.model.module if hasattr(runner.model, 'module') else runner.model
    for name, param in model.named_parameters():
        if any(name.startswith(prefix) for prefix in prefixes):
            param.requires_grad_(False)
    runner.train()


if __name__ == '__main__':
    sys.exit(main())
