"""Train a model from an OpenMMLab 2.x config (mmseg, mmdet or mmpretrain; ``default_scope`` picks).

The arguments are those of mmseg's ``tools/train.py``::

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CHECKPOINT]] [--amp]
                          [--cfg-options KEY=VALUE ...] [--launcher {none,pytorch,slurm,mpi}]

What this adds to a plain ``Runner.from_cfg``:

- ``mmcv_custom`` is imported, so its constructors and hooks resolve under every scope.
- When ``optim_wrapper.constructor`` is one of mmcv_custom's layer-decay constructors, the
  ``LayerDecayLrHook`` is appended to ``custom_hooks`` (unless listed) and a plain
  ``LogProcessor`` becomes ``LayerDecayLogProcessor``: the log shows ``lr_head`` / ``lr_embed``
  and the work dir gets ``param_groups.json`` (the groups as built, in the schema of
  ``mmcv_custom.engine.group_records``, as the inspector writes it too).
- With a launcher and no CUDA device, the processes use the gloo backend on the CPU
  (``tools/dist_train.sh`` on a machine without GPUs).
"""
import argparse
import logging
import os
import os.path as osp
import sys

import torch
from mmengine.config import Config, DictAction
from mmengine.logging import print_log
from mmengine.runner import Runner

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # a checkout, not installed
import mmcv_custom  # noqa: E402,F401  (registers constructors, hook and log processor)

LAYER_DECAY_CONSTRUCTORS = ('CustomLayerDecayOptimizerConstructor',
                            'LearningRateDecayOptimizerConstructor')
HOOK_TYPE = 'LayerDecayLrHook'


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a model (OpenMMLab 2.x config)')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models '
                        '(default: work_dirs/<config stem>)')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume training: alone, from the latest checkpoint in the work dir; with a path, '
        'from that checkpoint')
    parser.add_argument('--amp', action='store_true', default=False,
                        help='enable automatic mixed-precision training')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings of the config, key=value pairs (xxx=yyy); a list is given as '
        'key="[a,b]" or key=a,b, nested lists/tuples as key="[(a,b),(c,d)]" (quotes needed, no '
        'spaces)')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    # torch.distributed.launch passes --local-rank (torch >= 2.0) or --local_rank;
    # torchrun sets LOCAL_RANK instead.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def constructor_name(cfg: Config) -> str:
    """The bare class name of ``optim_wrapper.constructor`` ('' when there is none)."""
    constructor = cfg.get('optim_wrapper', {}).get('constructor')
    if constructor is None:
        return ''
    if not isinstance(constructor, str):
        return getattr(constructor, '__name__', '')
    return constructor.rsplit('.', 1)[-1]


def add_layer_decay_logging(cfg: Config) -> bool:
    """Add ``LayerDecayLrHook`` and ``LayerDecayLogProcessor`` when a layer-decay constructor is
    configured; returns whether it did anything."""
    if constructor_name(cfg) not in LAYER_DECAY_CONSTRUCTORS:
        return False
    hooks = list(cfg.get('custom_hooks') or [])
    listed = any(isinstance(hook, dict) and str(hook.get('type', '')).rsplit('.', 1)[-1]
                 == HOOK_TYPE for hook in hooks)
    if not listed:
        hooks.append(dict(type=HOOK_TYPE))
    cfg.custom_hooks = hooks
    log_processor = cfg.get('log_processor') or {}
    if log_processor.get('type', 'LogProcessor') == 'LogProcessor':
        cfg.log_processor = dict(log_processor, type='LayerDecayLogProcessor')
    return True


def use_cpu_distributed(cfg: Config, launcher: str) -> None:
    """Let ``--launcher pytorch`` run CPU processes: gloo backend, DDP without device ids.

    MMEngine's ``init_dist`` calls ``torch.cuda.set_device`` and its default DDP wrapper passes
    ``device_ids=[LOCAL_RANK]``; both fail without CUDA, so the process group is created here
    (MMEngine then skips its own) and the wrapper is given ``device_ids=None``.
    """
    if launcher != 'pytorch':
        raise SystemExit(f'--launcher {launcher} needs CUDA devices; on a machine without GPUs '
                         'use --launcher pytorch (tools/dist_train.sh)')
    env_cfg = cfg.setdefault('env_cfg', {})
    dist_cfg = dict(env_cfg.get('dist_cfg') or {})
    dist_cfg['backend'] = 'gloo'
    env_cfg['dist_cfg'] = dist_cfg
    wrapper = dict(cfg.get('model_wrapper_cfg') or {})
    wrapper.setdefault('type', 'MMDistributedDataParallel')
    wrapper['device_ids'] = None
    wrapper.setdefault('broadcast_buffers', False)
    wrapper.setdefault('find_unused_parameters', cfg.get('find_unused_parameters', False))
    cfg.model_wrapper_cfg = wrapper
    if not torch.distributed.is_initialized():
        options = {key: value for key, value in dist_cfg.items() if key != 'backend'}
        if isinstance(options.get('timeout'), (int, float)):
            from datetime import timedelta
            options['timeout'] = timedelta(seconds=options['timeout'])
        torch.distributed.init_process_group(backend='gloo', **options)


def amp_device_available() -> bool:
    """Whether MMEngine's ``AmpOptimWrapper`` accepts this machine (it asserts a GPU, NPU, MLU or
    MUSA device and refuses the CPU)."""
    from mmengine.device import (is_cuda_available, is_mlu_available, is_musa_available,
                                 is_npu_available)
    return (is_cuda_available() or is_npu_available() or is_mlu_available()
            or is_musa_available())


def enable_amp(cfg: Config) -> None:
    if not amp_device_available():
        raise SystemExit('--amp: MMEngine\'s AmpOptimWrapper trains on a GPU, NPU, MLU or MUSA '
                         'device only, and this machine has none; train without --amp on the '
                         'CPU')
    optim_wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
    if optim_wrapper == 'AmpOptimWrapper':
        print_log('AMP training is already enabled in the config.', logger='current',
                  level=logging.WARNING)
        return
    if optim_wrapper != 'OptimWrapper':
        raise SystemExit(f'--amp is only supported with optim_wrapper.type OptimWrapper, got '
                         f'{optim_wrapper!r}')
    cfg.optim_wrapper.type = 'AmpOptimWrapper'
    cfg.optim_wrapper.loss_scale = 'dynamic'


def build_config(args: argparse.Namespace) -> Config:
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    if args.amp:
        enable_amp(cfg)
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume
    add_layer_decay_logging(cfg)
    if args.launcher != 'none' and not torch.cuda.is_available():
        use_cpu_distributed(cfg, args.launcher)
    return cfg


def main(argv=None) -> None:
    args = parse_args(argv)
    cfg = build_config(args)
    if 'runner_type' in cfg:
        from mmengine.registry import RUNNERS
        runner = RUNNERS.build(cfg)
    else:
        runner = Runner.from_cfg(cfg)
    runner.train()


if __name__ == '__main__':
    main()
