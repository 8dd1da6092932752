"""Inspection tools for layer-decay configs (imported explicitly, never by ``import mmcv_custom``).

``mmcv_custom.analysis.param_groups`` builds a config's model and optimizer, summarises the
parameter groups and simulates the config's learning-rate schedule; matplotlib is imported only
when a figure is drawn.
"""
from .param_groups import (DEFAULT_ITERS_PER_EPOCH, Inspection, LrSchedule, MetaAllocation,
                           build_model, build_optim_wrapper_for_inspection, inspect_config,
                           load_config, plot_lr_by_layer, plot_lr_schedule,
                           representative_groups, resolve_iters_per_epoch, simulate_lr_schedule)

__all__ = [
    'DEFAULT_ITERS_PER_EPOCH', 'Inspection', 'LrSchedule', 'MetaAllocation', 'build_model',
    'build_optim_wrapper_for_inspection', 'inspect_config', 'load_config',
    'plot_lr_by_layer', 'plot_lr_schedule', 'representative_groups', 'resolve_iters_per_epoch',
    'simulate_lr_schedule',
]
