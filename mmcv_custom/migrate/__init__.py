"""Convert the optimization part of an mmcv 1.x config to OpenMMLab 2.x.

The library behind ``tools/migrate_config.py``.

One job per (internal) module: ``_optim`` (optimizer, optimizer_config, fp16 -> optim_wrapper),
``_schedule`` (lr_config -> param_scheduler), ``_runtime`` (runner, evaluation,
checkpoint_config -> train_cfg, loops, default_hooks), ``_convert`` (the entry point and the list
of what is not converted), ``_render`` (the new config file's text). The public API is
``__all__``; judging an absolute ``min_lr`` asks mmcv_custom's constructors and recipes.
"""
from ._convert import as_config, load_old_config, migrate_config
from ._render import render_migration
from ._result import Migration, MigrationError

__all__ = ['migrate_config', 'render_migration', 'load_old_config', 'as_config', 'Migration',
           'MigrationError']
