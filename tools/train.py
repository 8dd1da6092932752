"""Train a model from an OpenMMLab 2.x config (mmseg, mmdet or mmpretrain; ``default_scope`` picks).

The arguments are those of mmseg's ``tools/train.py``::

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CHECKPOINT]] [--amp]
                          [--cfg-options KEY=VALUE ...] [--launcher {none,pytorch,slurm,mpi}]

What this adds to a plain ``Runner.from_cfg``:

- ``mmcv_custom`` is imported, so its constructors and hooks resolve under every scope, and its
  fixes for upstream incompatibilities are installed (``mmcv_custom.compat.install``: safe
  checkpoint loading, FSDP resume, the test metrics file written by rank 0 only), and the
  upstream deprecation notices no config can act on are silenced, by name
  (``mmcv_custom.compat.known_warnings``); every other warning shows.
- When ``optim_wrapper.constructor`` is one of mmcv_custom's layer-decay constructors, the
  ``LayerDecayLrHook`` is appended to ``custom_hooks`` (unless listed) and a plain
  ``LogProcessor`` becomes ``LayerDecayLogProcessor``: the log shows ``lr_head`` / ``lr_embed``
  and the work dir gets ``param_groups.json`` (the groups as built, in the schema of
  ``mmcv_custom.group_records``, as the inspector writes it too).
- With a launcher and no CUDA device, the processes use the gloo backend on the CPU
  (``tools/dist_train.sh`` on a machine without GPUs).
- ``runner_type='FlexibleRunner'`` with ``strategy=dict(type='FSDPStrategy', ...)`` or
  ``dict(type='DeepSpeedStrategy', ...)`` trains as MMEngine does on GPUs; on CPU processes the
  gloo process group is created before the runner, FSDP gets ``model_wrapper.device_id='cpu'``
  (and ``state_dict_cfg='full'`` is saved without ``offload_to_cpu``, which crashes rank 0 on the
  CPU), and the log says so once.
"""
import argparse
import logging
import os
import os.path as osp
import sys
from typing import List

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # a checkout, not installed
from mmcv_custom.compat import deepspeed_env  # noqa: E402

deepspeed_env.configure()  # before mmengine.runner imports DeepSpeed: op cache, CPU accelerator

import torch  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.logging import print_log  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

import mmcv_custom  # noqa: E402  (registers constructors, hook and log processor)
import mmcv_custom.compat  # noqa: E402
from mmcv_custom.compat import known_warnings  # noqa: E402
from mmcv_custom.registry import OPTIM_WRAPPER_CONSTRUCTORS  # noqa: E402  (ours only)

#: The layer-decay constructors: every class registered in mmcv_custom's own registry.
LAYER_DECAY_CONSTRUCTORS = tuple(OPTIM_WRAPPER_CONSTRUCTORS.module_dict)
HOOK_TYPE = 'LayerDecayLrHook'
#: The large-model strategies of MMEngine's FlexibleRunner this script prepares for the CPU.
CPU_STRATEGIES = ('FSDPStrategy', 'DeepSpeedStrategy', 'DDPStrategy')


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


def _type_name(value) -> str:
    if value is None:
        return ''
    if not isinstance(value, str):
        return getattr(value, '__name__', type(value).__name__)
    return value.rsplit('.', 1)[-1]


def is_flexible(cfg: Config) -> bool:
    """Whether the config trains with MMEngine's ``FlexibleRunner`` (strategies)."""
    return _type_name(cfg.get('runner_type')) == 'FlexibleRunner'


def init_gloo_process_group(dist_cfg: dict) -> None:
    """Create the gloo process group MMEngine would otherwise create with CUDA calls."""
    if torch.distributed.is_initialized():
        return
    options = {key: value for key, value in dist_cfg.items() if key != 'backend'}
    if isinstance(options.get('timeout'), (int, float)):
        from datetime import timedelta
        options['timeout'] = timedelta(seconds=options['timeout'])
    torch.distributed.init_process_group(backend='gloo', **options)


def _gloo_dist_cfg(cfg: Config) -> dict:
    env_cfg = cfg.setdefault('env_cfg', {})
    dist_cfg = dict(env_cfg.get('dist_cfg') or {})
    dist_cfg['backend'] = 'gloo'
    env_cfg['dist_cfg'] = dist_cfg
    return dist_cfg


def use_cpu_strategy(cfg: Config) -> List[str]:
    """Prepare a FlexibleRunner strategy for CPU processes; return what was changed (one line
    each, for the log).

    - ``FSDPStrategy``: ``model_wrapper.device_id='cpu'`` (MMEngine passes the GPU index
      otherwise: ``Found no NVIDIA driver``); ``state_dict_cfg='full'`` becomes the same full
      state dict without ``offload_to_cpu`` (which crashes rank 0 on the CPU).
    - ``DeepSpeedStrategy``: DeepSpeed's CPU accelerator and the gloo group; nothing to change.
    - ``DDPStrategy`` (also when no strategy is given): ``model_wrapper.device_ids=None``.

    Raises SystemExit for another strategy or an FSDP ``device_id`` other than ``'cpu'``.
    """
    strategy = dict(cfg.get('strategy') or {})
    strategy.setdefault('type', 'DDPStrategy')  # FlexibleRunner's default with a launcher
    kind = _type_name(strategy['type'])
    if kind not in CPU_STRATEGIES:
        raise SystemExit(f'tools/train.py: strategy type {kind!r} is not prepared for CPU '
                         f'processes; use one of {list(CPU_STRATEGIES)} or train on GPUs')
    notes = ['the gloo process group was created before the runner (no CUDA device)']
    if kind == 'DDPStrategy':
        wrapper = dict(strategy.get('model_wrapper') or {})
        wrapper['device_ids'] = None
        strategy['model_wrapper'] = wrapper
        notes.append('DDPStrategy: model_wrapper.device_ids=None')
    if kind == 'FSDPStrategy':
        wrapper = dict(strategy.get('model_wrapper') or {})
        device_id = wrapper.get('device_id', 'cpu')
        if str(device_id) != 'cpu':
            raise SystemExit(f'tools/train.py: strategy.model_wrapper.device_id={device_id!r} '
                             "needs a GPU; this machine has none (use 'cpu' or leave it unset)")
        if 'device_id' not in wrapper:
            notes.append("FSDPStrategy: model_wrapper.device_id='cpu'")
        wrapper['device_id'] = 'cpu'
        strategy['model_wrapper'] = wrapper
        if strategy.get('state_dict_cfg') == 'full':
            strategy['state_dict_cfg'] = dict(
                state_dict_type='FULL_STATE_DICT',
                state_dict_config=dict(type='FullStateDictConfig', rank0_only=True,
                                       offload_to_cpu=False),
                optim_state_dict_config=dict(type='FullOptimStateDictConfig', rank0_only=True,
                                             offload_to_cpu=False))
            notes.append("FSDPStrategy: state_dict_cfg='full' without offload_to_cpu "
                         '(it crashes rank 0 on the CPU)')
    cfg.strategy = strategy
    return notes


def use_cpu_distributed(cfg: Config, launcher: str) -> List[str]:
    """Let ``--launcher pytorch`` run CPU processes: gloo backend; with the plain Runner, DDP
    without device ids; with FlexibleRunner, :func:`use_cpu_strategy`. Returns the notes to log.

    MMEngine's ``init_dist`` calls ``torch.cuda.set_device`` and its default DDP wrapper passes
    ``device_ids=[LOCAL_RANK]``; both fail without CUDA, so the process group is created here
    (MMEngine then skips its own) and the wrapper is given ``device_ids=None``.
    """
    if launcher != 'pytorch':
        raise SystemExit(f'--launcher {launcher} needs CUDA devices; on a machine without GPUs '
                         'use --launcher pytorch (tools/dist_train.sh)')
    dist_cfg = _gloo_dist_cfg(cfg)
    if is_flexible(cfg):
        notes = use_cpu_strategy(cfg)
    else:
        notes = []
        wrapper = dict(cfg.get('model_wrapper_cfg') or {})
        wrapper.setdefault('type', 'MMDistributedDataParallel')
        wrapper['device_ids'] = None
        wrapper.setdefault('broadcast_buffers', False)
        wrapper.setdefault('find_unused_parameters', cfg.get('find_unused_parameters', False))
        cfg.model_wrapper_cfg = wrapper
    init_gloo_process_group(dist_cfg)
    return notes


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
    """The config with the command line applied (:func:`build_config_and_notes` without the
    notes)."""
    return build_config_and_notes(args)[0]


def build_config_and_notes(args: argparse.Namespace):
    """The config with the command line applied, and what was changed for CPU processes."""
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
    notes: List[str] = []
    if args.launcher != 'none' and not torch.cuda.is_available():
        notes = use_cpu_distributed(cfg, args.launcher)
    return cfg, notes


def log_notes(runner, tool: str, notes: List[str]) -> None:
    """Say in the log what the tool changed in the config (one line), and, on a machine without
    CUDA, what MMEngine's "GPU number" counts there (its processes: the world size)."""
    if not torch.cuda.is_available():
        notes = list(notes) + [f'"GPU number: {runner.world_size}" above is MMEngine\'s count of '
                               'processes (the world size); no CUDA device is used']
    if notes:
        runner.logger.info(f'{tool}, ' + ('CPU processes: ' if not torch.cuda.is_available()
                                          else '') + '; '.join(notes))


def main(argv=None) -> None:
    args = parse_args(argv)
    mmcv_custom.compat.install()
    known_warnings.ignore_known()
    cfg, notes = build_config_and_notes(args)
    if 'runner_type' in cfg:
        from mmengine.registry import RUNNERS
        runner = RUNNERS.build(cfg)
    else:
        runner = Runner.from_cfg(cfg)
    known_warnings.ignore_known(runner.logger)
    log_notes(runner, 'tools/train.py', notes)
    runner.train()


if __name__ == '__main__':
    main()
