"""Convert the optimization part of an mmcv 1.x config: the one entry point of the package.

mmcv 1.x config files are plain Python with ``_base_`` lists and ``_delete_`` keys, the format
MMEngine's ``Config.fromfile`` still reads (it merges the bases and applies ``_delete_``), so the
old file is loaded as is and its merged top-level keys are converted:

- ``optimizer``, ``optimizer_config``, ``fp16`` -> ``optim_wrapper`` (``migrate._optim``);
- ``lr_config`` -> ``param_scheduler`` (``migrate._schedule``);
- ``runner``, ``total_epochs``, ``evaluation``, ``checkpoint_config``, ``load_from``,
  ``resume_from``, ``log_level`` -> ``train_cfg``, ``val_cfg``, ``test_cfg``,
  ``default_hooks.checkpoint`` and the loading keys (``migrate._runtime``);
- ``custom_imports`` = ``mmcv_custom`` (which registers the constructors and ``LrUpdaterLR`` /
  ``PolyLRRatio``).

Every other top-level key (model, data, pipelines, ``log_config``, ``custom_hooks``, ...) is
returned in ``Migration.not_converted`` with the reason, and the rendered config lists them at
the top. ``momentum_config`` is refused: its schedule would be lost.
"""
from pathlib import Path
from typing import Any, Dict, Union

from mmengine.config import Config

from ._optim import convert_optimizer
from ._result import Migration, MigrationError, plain_copy
from ._runtime import convert_runtime
from ._schedule import convert_lr_config

#: Top-level keys that changed with mmdet 3 / mmseg 1 / mmpretrain 1 in ways with their own
#: migration guides.
MODEL_AND_DATA = ('model', 'data', 'dataset_type', 'data_root', 'img_norm_cfg',
                  'train_pipeline', 'test_pipeline', 'val_pipeline', 'crop_size', 'norm_cfg',
                  'pretrained', 'checkpoint_file')
MODEL_AND_DATA_REASON = ('model / data: changed in mmdet 3, mmseg 1 and mmpretrain 1 (see their '
                         'migration guides)')
#: Runtime keys with a different form in MMEngine, left to the user.
RUNTIME_REASONS = {
    'log_config': 'default_hooks.logger (LoggerHook interval) and visualizer / vis_backends',
    'dist_params': "env_cfg.dist_cfg (e.g. dict(backend='nccl'))",
    'workflow': 'train_cfg / val_cfg loops',
    'cudnn_benchmark': 'env_cfg.cudnn_benchmark',
    'custom_hooks': 'custom_hooks (hooks written for mmcv 1.x need their 2.x versions, e.g. '
                    'EMAHook)',
    'custom_imports': "custom_imports (the old modules were written for mmcv 1.x; "
                      "'mmcv_custom' is imported instead)",
    'gpu_ids': 'gone in 2.x (devices come from the launcher)',
    'opencv_num_threads': 'env_cfg.mp_cfg.opencv_num_threads',
    'mp_start_method': 'env_cfg.mp_cfg.mp_start_method',
    'auto_resume': "resume='auto'-like: resume=True with load_from=None",
    'work_dir': 'work_dir (same meaning; left to the command line)',
    'auto_scale_lr': 'auto_scale_lr (same idea; check base_batch_size)',
}
CUSTOM_IMPORTS = {'imports': ['mmcv_custom'], 'allow_failed_imports': False}


def load_old_config(source: Union[str, Path, Config]) -> Config:
    """The old config with its ``_base_`` files merged (``Config.fromfile``, no imports run)."""
    if isinstance(source, Config):
        return source
    return Config.fromfile(str(source), import_custom_modules=False)


def migrate_config(source: Union[str, Path, Config]) -> Migration:
    """Convert the optimization part of the mmcv 1.x config at ``source`` (a path or a loaded
    ``Config``).

    Raises:
        MigrationError: a setting that cannot be converted faithfully (the message names it).
    """
    old = load_old_config(source)
    cfg: Dict[str, Any] = {key: old[key] for key in old.keys()}
    migration = Migration(source='' if isinstance(source, Config) else str(source))
    if cfg.get('momentum_config'):
        raise MigrationError('momentum_config (a momentum schedule) is not converted by this '
                             'tool; convert it to MMEngine momentum schedulers by hand')

    runtime = convert_runtime(cfg)
    optimizer = cfg.get('optimizer')
    optim = convert_optimizer(optimizer, cfg.get('optimizer_config'), cfg.get('fp16'))
    paramwise_cfg = optim.optim_wrapper.get('paramwise_cfg')
    sections: Dict[str, Any] = {'custom_imports': dict(CUSTOM_IMPORTS),
                                'optim_wrapper': optim.optim_wrapper}
    if optim.model_wrapper_cfg is not None:
        sections['model_wrapper_cfg'] = optim.model_wrapper_cfg
    migration.notes += optim.notes
    if cfg.get('lr_config') is not None:
        schedulers, notes = convert_lr_config(cfg['lr_config'], runtime.run, optimizer,
                                              paramwise_cfg)
        sections['param_scheduler'] = schedulers
        migration.notes += notes
    else:
        sections['param_scheduler'] = []
        migration.notes.append('no lr_config: constant learning rate (param_scheduler = [])')
    sections.update(runtime.sections)
    migration.notes += runtime.notes
    migration.sections = sections

    used = {'optimizer', 'optimizer_config', 'fp16', 'lr_config', 'momentum_config',
            *runtime.used}
    migration.converted = [key for key in cfg if key in used]
    for key in cfg:
        if key in used:
            continue
        if key in MODEL_AND_DATA or key.endswith(('_pipeline', '_dataloader')):
            migration.not_converted[key] = MODEL_AND_DATA_REASON
        elif key in RUNTIME_REASONS:
            migration.not_converted[key] = f'runtime setting; in 2.x: {RUNTIME_REASONS[key]}'
        else:
            migration.not_converted[key] = 'not an optimization setting this tool knows'
    return migration


def as_config(migration: Migration) -> Config:
    """The converted sections as an MMEngine ``Config`` (for tests and programmatic use)."""
    return Config(plain_copy(migration.sections))


__all__ = ['migrate_config', 'load_old_config', 'as_config', 'MigrationError']
