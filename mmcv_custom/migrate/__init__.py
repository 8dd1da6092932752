"""Convert the optimization part of an mmcv 1.x config to OpenMMLab 2.x.

The library behind ``tools/migrate_config.py``.

One job per module: ``optim`` (optimizer, optimizer_config, fp16 -> optim_wrapper), ``schedule``
(lr_config -> param_scheduler), ``runtime`` (runner, evaluation, checkpoint_config -> train_cfg,
loops, default_hooks), ``convert`` (the entry point and the list of what is not converted),
``render`` (the new config file's text). Imports only MMEngine.
"""
from .convert import as_config, load_old_config, migrate_config
from .render import render_migration
from .result import Migration, MigrationError

__all__ = ['migrate_config', 'render_migration', 'load_old_config', 'as_config', 'Migration',
           'MigrationError']
