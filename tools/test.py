"""Evaluate a checkpoint on a config's test set (mmseg, mmdet, mmpretrain: ``default_scope`` picks).

The arguments are those of mmseg's and mmdet's ``tools/test.py`` (OpenMMLab 2.x)::

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out OUT] [--show] [--show-dir DIR]
                         [--wait-time S] [--cfg-options KEY=VALUE ...] [--tta]
                         [--launcher {none,pytorch,slurm,mpi}]

- ``--out``: mmseg: a directory where the predicted label maps are written (``test_evaluator``
  ``output_dir`` with ``keep_results=True``); mmdet: a ``.pkl`` file of the predictions
  (mmdet's ``DumpDetResults``); mmpretrain and others: a ``.pkl`` file of the predictions
  (MMEngine's ``DumpResults``).
- ``--show`` / ``--show-dir`` / ``--wait-time``: draw the predictions through the config's
  ``default_hooks.visualization`` (mmseg: ``visualizer.save_dir``; mmdet: the hook's
  ``test_out_dir``; mmpretrain: the hook's ``out_dir``).
- ``--tta``: test-time augmentation from the config's ``tta_model`` and ``tta_pipeline``.
- ``--launcher pytorch`` (``tools/dist_test.sh``): several processes; on a machine without GPUs they
  use the gloo backend on the CPU, as ``tools/train.py`` does.

The metrics are logged and written by MMEngine's ``LoggerHook`` to
``WORK_DIR/<timestamp>/<timestamp>.json`` (by rank 0). ``mmcv_custom`` is imported and its fixes
installed first (``mmcv_custom.compat.install``), so checkpoints written by MMEngine load with
torch's safe loading and several processes do not write that file at once; the upstream
deprecation notices no config can act on are silenced by name (``compat.known_warnings``).
"""
import argparse
import os
import os.path as osp
import sys
from typing import List, Tuple

TOOLS = osp.dirname(osp.abspath(__file__))
sys.path.insert(0, osp.dirname(TOOLS))  # a checkout, not installed
sys.path.insert(0, TOOLS)
from mmcv_custom.compat import deepspeed_env  # noqa: E402

deepspeed_env.configure()  # before mmengine.runner imports DeepSpeed: op cache, CPU accelerator

import torch  # noqa: E402
from mmengine.config import Config, ConfigDict, DictAction  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

import mmcv_custom  # noqa: E402,F401  (registers constructors and schedulers)
import mmcv_custom.compat  # noqa: E402
from mmcv_custom.compat import known_warnings  # noqa: E402
from train import is_flexible, log_notes, use_cpu_distributed  # noqa: E402  (tools/train.py)

PICKLE_SUFFIXES = ('.pkl', '.pickle')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test (and evaluate) a model (OpenMMLab 2.x)')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the dir for the logs and the metrics json '
                        '(default: work_dirs/<config stem>)')
    parser.add_argument('--out', help='mmseg: directory for the predicted label maps; mmdet, '
                        'mmpretrain: .pkl file for the predictions')
    parser.add_argument('--show', action='store_true', help='show the predictions in a window')
    parser.add_argument('--show-dir', help='directory where painted predictions are saved')
    parser.add_argument('--wait-time', type=float, default=2, help='seconds each shown image '
                        'stays (with --show)')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings of the config, key=value pairs (xxx=yyy); a list is given as '
        'key="[a,b]" or key=a,b (quotes needed, no spaces)')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    parser.add_argument('--tta', action='store_true',
                        help='test-time augmentation (the config\'s tta_model and tta_pipeline)')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def framework(cfg: Config) -> str:
    """``'mmseg'``, ``'mmdet'``, ``'mmpretrain'`` or ``'other'`` from ``default_scope``."""
    scope = cfg.get('default_scope')
    return scope if scope in ('mmseg', 'mmdet', 'mmpretrain') else 'other'


def enable_visualization(cfg: Config, args: argparse.Namespace) -> None:
    """Draw the predictions (``--show`` / ``--show-dir``) the way each framework's test.py does.

    Raises:
        SystemExit: the config has no ``default_hooks.visualization``.
    """
    hooks = cfg.get('default_hooks') or {}
    if 'visualization' not in hooks:
        raise SystemExit('--show / --show-dir need default_hooks.visualization in the config '
                         '(e.g. SegVisualizationHook, DetVisualizationHook, VisualizationHook)')
    hook = hooks['visualization']
    kind = framework(cfg)
    if kind == 'mmpretrain':
        hook['enable'] = True
    else:
        hook['draw'] = True
    if args.show:
        hook['show'] = True
        hook['wait_time'] = args.wait_time
    if args.show_dir:
        if kind == 'mmseg':
            cfg.visualizer['save_dir'] = args.show_dir
        elif kind == 'mmdet':
            hook['test_out_dir'] = args.show_dir
        else:
            hook['out_dir'] = args.show_dir


def enable_tta(cfg: Config) -> None:
    """Wrap the model in the config's ``tta_model`` and test on its ``tta_pipeline``.

    Raises:
        SystemExit: the config lacks ``tta_model`` or ``tta_pipeline``.
    """
    missing = [key for key in ('tta_model', 'tta_pipeline') if key not in cfg]
    if missing:
        raise SystemExit(f'--tta needs {missing} in the config')
    cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
    cfg.model = ConfigDict(**cfg.tta_model, module=cfg.model)


def set_seg_output_dir(cfg: Config, out: str) -> None:
    """mmseg's ``--out``: the test evaluator writes the predicted label maps into ``out``."""
    evaluators = cfg.test_evaluator
    for evaluator in (evaluators if isinstance(evaluators, list) else [evaluators]):
        evaluator['output_dir'] = out
        evaluator['keep_results'] = True


def build_config(args: argparse.Namespace) -> Config:
    """The config to test (:func:`build_config_and_notes` without the notes)."""
    return build_config_and_notes(args)[0]


def build_config_and_notes(args: argparse.Namespace) -> Tuple[Config, List[str]]:
    """The config to test: ``--cfg-options`` merged, the checkpoint as ``load_from`` (never
    resumed), the work dir (default ``work_dirs/<config stem>``), visualization, TTA, mmseg's
    ``--out``, gloo CPU processes for a launcher without CUDA, and the plain ``Runner`` for a
    ``FlexibleRunner`` config tested in one process (its FSDP / DeepSpeed strategy shards a model
    over processes; one process tests the model with the checkpoint's full weights). Returns the
    config and what was changed (one line each, for the log).

    Raises:
        SystemExit: ``--out`` not a pickle file for mmdet / mmpretrain; see
            ``enable_visualization`` and ``enable_tta``.
    """
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    cfg.load_from = args.checkpoint
    cfg.resume = False
    if args.show or args.show_dir:
        enable_visualization(cfg, args)
    if args.tta:
        enable_tta(cfg)
    if args.out is not None:
        if framework(cfg) == 'mmseg':
            set_seg_output_dir(cfg, args.out)
        elif not args.out.endswith(PICKLE_SUFFIXES):
            raise SystemExit(f'--out must be a .pkl / .pickle file for {framework(cfg)} '
                             f'configs, got {args.out!r}')
    notes: List[str] = []
    if args.launcher == 'none' and is_flexible(cfg):
        strategy = (cfg.get('strategy') or {}).get('type', 'DDPStrategy')
        cfg.runner_type = 'Runner'
        cfg.pop('strategy', None)
        notes.append(f'one process: the plain Runner tests the model instead of FlexibleRunner '
                     f'with {strategy} (the checkpoint must hold full weights: FSDP '
                     "state_dict_cfg='full', as the configs here save)")
    if args.launcher != 'none' and not torch.cuda.is_available():
        notes += use_cpu_distributed(cfg, args.launcher)
    return cfg, notes


def add_prediction_dump(runner: Runner, cfg: Config, out: str) -> None:
    """mmdet / mmpretrain ``--out``: append a metric that pickles the predictions."""
    if framework(cfg) == 'mmdet':
        from mmdet.evaluation import DumpDetResults
        runner.test_evaluator.metrics.append(DumpDetResults(out_file_path=out))
    else:
        from mmengine.evaluator import DumpResults
        runner.test_evaluator.metrics.append(DumpResults(out_file_path=out))


def main(argv=None) -> dict:
    """Build the runner from the config and run ``Runner.test()``; returns the metrics."""
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
    log_notes(runner, 'tools/test.py', notes)
    if args.out is not None and framework(cfg) != 'mmseg':
        add_prediction_dump(runner, cfg, args.out)
    return runner.test()


if __name__ == '__main__':
    main()
