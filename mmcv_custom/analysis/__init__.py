"""Inspect a config's layer-decay parameter groups and simulate its learning-rate schedule.

What the inspector does, step by step (each step is a function exported here, usable on its own;
one internal module per job: ``_build``, ``_schedule``, ``_plots``, ``_inspect``):

1. ``load_config``: read the config, merge ``--cfg-options``, import its ``custom_imports``.
2. ``build_model``: build ``cfg.model`` under the config's default scope, on the ``meta`` device
   when asked (no memory, no weights; ``init_weights`` is never called). A model whose constructor
   needs real tensors (mmpretrain's ConvNeXt reads ``torch.linspace(...).item()``) is built on the
   CPU instead, with a warning.
3. ``build_optim_wrapper_for_inspection``: ``mmengine.optim.build_optim_wrapper`` with the config's
   ``optim_wrapper`` (so through its constructor). ``AmpOptimWrapper`` refuses to be built without
   an accelerator; there it is replaced by ``OptimWrapper``, which builds the same groups.
4. ``mmcv_custom.group_records``: the groups as ``param_groups.json`` holds them (the same
   schema the training hook ``LayerDecayLrHook`` writes into the work dir).
5. ``simulate_lr_schedule``: MMEngine's own schedulers, built from ``cfg.param_scheduler`` on the
   built optimizer exactly as the ``Runner`` builds them (default ``end``, ``convert_to_iter_based``
   with the epoch length), stepped as ``ParamSchedulerHook`` steps them (iteration-based ones after
   every iteration, epoch-based ones after every epoch) over the whole training, without training.
   The optimizer's groups are restored afterwards.
6. ``plot_lr_by_layer`` / ``plot_lr_schedule``: figures drawn with matplotlib's Agg canvas
   (matplotlib is imported only here).

``inspect_config`` runs all of it and writes, into one folder:

- ``param_groups.json``: ``{group_name: {param_names, lr_scale, lr, weight_decay, layer_id,
  num_tensors, num_params}}``, one entry per named group in the optimizer's order;
- ``inspection.json``: what was inspected and how (config, device, optim_wrapper type,
  constructor, paramwise_cfg, optimizer, num_groups, num_params, notes);
- ``lr_schedule.json``, ``lr_by_layer.png`` and ``lr_schedule.png``;
- with ``memory_gpus``, ``memory.json``: the per-GPU memory of weights, gradients and optimizer
  states under each engine (``mmcv_custom.analysis.memory``).

Imported explicitly, never by ``import mmcv_custom``.
"""
from ._build import (MetaAllocation, build_model, build_optim_wrapper_for_inspection,
                     load_config, optim_wrapper_cfg_for_inspection)
from ._inspect import Inspection, default_out_dir, inspect_config
from ._plots import plot_lr_by_layer, plot_lr_schedule
from ._schedule import (DEFAULT_ITERS_PER_EPOCH, LrSchedule, representative_groups,
                        resolve_iters_per_epoch, simulate_lr_schedule, train_dataloader_length)

__all__ = [
    'DEFAULT_ITERS_PER_EPOCH', 'Inspection', 'LrSchedule', 'MetaAllocation', 'build_model',
    'build_optim_wrapper_for_inspection', 'default_out_dir', 'inspect_config', 'load_config',
    'optim_wrapper_cfg_for_inspection', 'plot_lr_by_layer', 'plot_lr_schedule',
    'representative_groups', 'resolve_iters_per_epoch', 'simulate_lr_schedule',
    'train_dataloader_length',
]
