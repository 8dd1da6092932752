"""Inspect the layer-decay parameter groups of a config and simulate its learning-rate schedule.

    python tools/analysis_tools/param_groups.py CONFIG [--out-dir DIR] [--meta]
        [--memory [--gpus N]] [--iters-per-epoch N] [--cfg-options KEY=VALUE ...]

Builds the config's model (on the ``meta`` device with ``--meta``: no memory, no weights) and its
optimizer through the config's constructor, prints the per-group table and writes, to
``work_dirs/<config stem>/param_groups/`` unless ``--out-dir`` is given:

- ``param_groups.json``: ``{group_name: {param_names, lr_scale, lr, weight_decay, layer_id,
  num_tensors, num_params}}``, the same schema a training run's ``WORK_DIR/param_groups.json``
  (written by ``LayerDecayLrHook``) has;
- ``inspection.json``: the run's metadata (config, device, optim_wrapper type, constructor,
  paramwise_cfg, optimizer, num_groups, num_params, notes);
- ``lr_by_layer.png``: lr (log scale) and weight decay against layer id, one point per group;
- ``lr_schedule.png`` / ``lr_schedule.json``: the lr of the embedding group, a middle block and the
  head over the whole training, from the config's own ``param_scheduler`` (simulated, no training).
  Epoch-based schedules use the train dataloader's length when its dataset can be built here,
  else ``--iters-per-epoch`` (default 1000).
- with ``--memory``: ``memory.json`` and a printed table of the model's parameter count and the
  per-GPU memory of weights, gradients and optimizer states under DDP + AmpOptimWrapper,
  DeepSpeed ZeRO-1/2/3 and FSDP on ``--gpus`` GPUs (default 8), computed, not measured
  (``mmcv_custom/analysis/memory.py`` states the formulas).
"""
import argparse
import logging
import resource
import sys

from mmcv_custom.compat import deepspeed_env

deepspeed_env.configure()  # the models' packages import MMEngine's runner, which imports DeepSpeed

from mmengine.config import DictAction  # noqa: E402
from mmengine.logging import MMLogger  # noqa: E402

from mmcv_custom.analysis import DEFAULT_ITERS_PER_EPOCH, inspect_config  # noqa: E402
from mmcv_custom.compat import known_warnings  # noqa: E402


def positive_int(text: str) -> int:
    """An argparse type: an int >= 1 (checked before the model is built)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'{text!r} is not an int') from None
    if value < 1:
        raise argparse.ArgumentTypeError(f'must be a positive int, got {value}')
    return value


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Print and plot the parameter groups and lr schedule of a config')
    parser.add_argument('config', help='config file')
    parser.add_argument('--out-dir', help='output folder (default: '
                        'work_dirs/<config stem>/param_groups)')
    parser.add_argument('--meta', action='store_true',
                        help='build the model on the meta device (no memory, no weights)')
    parser.add_argument('--iters-per-epoch', type=positive_int, default=None,
                        help='epoch length for epoch-based schedules (default: the train '
                        'dataloader length if its dataset exists, else '
                        f'{DEFAULT_ITERS_PER_EPOCH})')
    parser.add_argument('--no-figures', action='store_true', help='write the JSON files only')
    parser.add_argument('--memory', action='store_true',
                        help='also compute the per-GPU memory of weights, gradients and '
                        'optimizer states for each engine (memory.json)')
    parser.add_argument('--gpus', type=positive_int, default=8,
                        help='number of GPUs for --memory (default 8, as InternVL trains)')
    parser.add_argument('--verbose', action='store_true',
                        help="also show the constructor's own INFO report")
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, e.g. optim_wrapper.optimizer.lr=1e-4')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    logger = MMLogger.get_current_instance()
    known_warnings.ignore_known(logger)  # upstream notices no config can act on, by name
    level = logger.level
    if not args.verbose:
        logger.setLevel(logging.WARNING)
    try:
        result = inspect_config(args.config, out_dir=args.out_dir, meta=args.meta,
                                cfg_options=args.cfg_options,
                                iters_per_epoch=args.iters_per_epoch, draw=not args.no_figures,
                                memory_gpus=args.gpus if args.memory else None)
    finally:
        logger.setLevel(level)
    print(result.table)
    for note in result.notes:
        print(f'note: {note}')
    if result.memory is not None:
        from mmcv_custom.analysis.memory import format_memory
        print(format_memory(result.memory))
    schedule = result.schedule
    print(f'{len(result.groups)} groups, {result.num_params:,} parameters on {result.device}; '
          f'schedule simulated over {schedule.total_iters} iterations'
          + (f' ({schedule.iters_per_epoch} iters/epoch, {schedule.iters_per_epoch_source})'
             if schedule.by_epoch else ''))
    for label, values in zip(schedule.labels, schedule.lr):
        print(f'  {label}: lr first {values[0]:.4g}, max {max(values):.4g}, last {values[-1]:.4g}')
    timing = ', '.join(f'{key} {value:.2f}s' for key, value in result.seconds.items())
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f'time: {timing}; peak RSS {peak_mib:.0f} MiB')
    for name, path in result.files.items():
        print(f'wrote {path}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
