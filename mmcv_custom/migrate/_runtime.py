"""mmcv 1.x ``runner`` / ``checkpoint_config`` / ``evaluation`` -> ``train_cfg``, loops, hooks.

==========================================  ==================================================
mmcv 1.x                                    OpenMMLab 2.x
==========================================  ==================================================
``runner=dict(type='IterBasedRunner',       ``train_cfg=dict(type='IterBasedTrainLoop',
max_iters=N)``                              max_iters=N, val_interval=...)``
``runner=dict(type='EpochBasedRunner',      ``train_cfg=dict(type='EpochBasedTrainLoop',
max_epochs=N)`` (or a bare ``total_epochs``) max_epochs=N, val_interval=...)``
``evaluation.interval`` (EvalHook's         ``train_cfg.val_interval``
default 1), ``evaluation.start``            ``train_cfg.val_begin``
``evaluation.save_best`` / ``rule``         ``default_hooks.checkpoint.save_best`` / ``rule``
``checkpoint_config``                       ``default_hooks.checkpoint`` (``CheckpointHook``;
                                            ``by_epoch`` defaults to the runner's kind, as
                                            mmcv 1.x's ``IterBasedRunner`` set it)
``load_from``, ``resume_from``              ``load_from``; ``resume=True`` with ``load_from``
``log_level``                               ``log_level``
==========================================  ==================================================

``val_cfg`` / ``test_cfg`` get MMEngine's ``ValLoop`` / ``TestLoop``. ``evaluation.metric`` and
the other evaluation options are named in a note: in 2.x the metric is ``val_evaluator`` (mmseg
``IoUMetric``, mmdet ``CocoMetric``), which belongs with the dataset settings this tool does not
convert. The ``*RunnerAmp`` runners of the BEiT / ConvNeXt / EVA repositories (apex) become the
plain loops; mixed precision is the optimizer wrapper's job in 2.x (see ``optim``).
Source: mmcv 1.x ``mmcv/runner/iter_based_runner.py``, ``hooks/checkpoint.py``,
``hooks/evaluation.py``; MMEngine 0.10 ``mmengine/runner/loops.py``, ``hooks/checkpoint_hook.py``.
"""
import copy
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional

from ._result import MigrationError
from ._schedule import RunLength

RUNNERS = {'IterBasedRunner': False, 'EpochBasedRunner': True,
           'IterBasedRunnerAmp': False, 'EpochBasedRunnerAmp': True}
#: mmcv 1.x ``CheckpointHook`` arguments that MMEngine's ``CheckpointHook`` takes unchanged.
CHECKPOINT_KEYS = ('interval', 'by_epoch', 'save_optimizer', 'out_dir', 'max_keep_ckpts',
                   'save_last', 'file_client_args')
#: ``evaluation`` keys that move to the checkpoint hook.
EVAL_TO_CHECKPOINT = ('save_best', 'rule')


@dataclass
class RuntimeConversion:
    run: RunLength
    sections: Dict[str, Any]
    notes: List[str] = field(default_factory=list)
    #: The old top-level keys this conversion used.
    used: List[str] = field(default_factory=list)


def _run_length(runner: Optional[Mapping], total_epochs: Any, notes: List[str]) -> RunLength:
    if runner is None:
        if total_epochs is None:
            raise MigrationError('the config has neither runner nor total_epochs: the length '
                                 'of training is unknown')
        notes.append(f'total_epochs={total_epochs!r} (no runner) -> EpochBasedTrainLoop')
        return RunLength(by_epoch=True, length=int(total_epochs))
    runner_type = runner.get('type', 'EpochBasedRunner')
    if runner_type not in RUNNERS:
        raise MigrationError(f'runner type {runner_type!r} is not converted by this tool '
                             f'(it converts {sorted(RUNNERS)})')
    by_epoch = RUNNERS[runner_type]
    key = 'max_epochs' if by_epoch else 'max_iters'
    other = 'max_iters' if by_epoch else 'max_epochs'
    if other in runner:
        raise MigrationError(f'runner {runner_type} with {other}: mmcv 1.x trains such a runner '
                             f'for {key}; give {key}')
    length = runner.get(key, total_epochs if by_epoch else None)
    if length is None:
        raise MigrationError(f'runner {runner_type} has no {key}')
    if runner_type.endswith('Amp'):
        notes.append(f'runner {runner_type} (apex) -> the plain loop; mixed precision is '
                     'optim_wrapper\'s (AmpOptimWrapper) in MMEngine')
    return RunLength(by_epoch=by_epoch, length=int(length))


def convert_runtime(cfg: Mapping) -> RuntimeConversion:
    """``train_cfg``, ``val_cfg``, ``test_cfg``, ``default_hooks.checkpoint`` and the checkpoint
    loading keys from the old config ``cfg`` (a mapping of its top-level keys).

    Defaults are mmcv 1.x's: ``EvalHook`` interval 1; ``CheckpointHook`` interval -1 (only the
    last checkpoint) and ``by_epoch`` of the runner's kind.

    Raises:
        MigrationError: no ``runner`` and no ``total_epochs``; a runner type other than the
            iteration / epoch based ones (and their apex ``*Amp`` variants); a runner without its
            length, or with the other kind's length.
    """
    notes: List[str] = []
    run = _run_length(cfg.get('runner'), cfg.get('total_epochs'), notes)
    used = [key for key in ('runner', 'total_epochs') if key in cfg]
    loop = 'EpochBasedTrainLoop' if run.by_epoch else 'IterBasedTrainLoop'
    train_cfg: Dict[str, Any] = {'type': loop,
                                 ('max_epochs' if run.by_epoch else 'max_iters'): run.length}
    checkpoint: Dict[str, Any] = {'type': 'CheckpointHook'}

    old_checkpoint = copy.deepcopy(dict(cfg.get('checkpoint_config') or {}))
    if 'checkpoint_config' in cfg:
        used.append('checkpoint_config')
    for key in CHECKPOINT_KEYS:
        if key in old_checkpoint:
            checkpoint[key] = old_checkpoint.pop(key)
    if 'by_epoch' not in checkpoint:
        checkpoint['by_epoch'] = run.by_epoch
    if 'interval' not in checkpoint:  # mmcv 1.x's default: -1, only the last one (save_last)
        checkpoint['interval'] = -1
    if 'checkpoint_config' not in cfg:
        notes.append('no checkpoint_config (mmcv 1.x saved no checkpoints): CheckpointHook with '
                     'interval=-1 saves only the last one')
    if old_checkpoint:
        notes.append(f'checkpoint_config {old_checkpoint!r}: not converted (no such argument in '
                     'MMEngine\'s CheckpointHook)')

    evaluation = copy.deepcopy(dict(cfg.get('evaluation') or {}))
    if 'evaluation' in cfg:
        used.append('evaluation')
        train_cfg['val_interval'] = evaluation.pop('interval', 1)
        if 'start' in evaluation and evaluation['start'] is not None:
            train_cfg['val_begin'] = evaluation.pop('start')
        evaluation.pop('start', None)
        for key in EVAL_TO_CHECKPOINT:
            if key in evaluation:
                checkpoint[key] = evaluation.pop(key)
        if evaluation:
            notes.append(f'evaluation {evaluation!r}: not converted (set val_evaluator / '
                         'test_evaluator of your framework: mmseg IoUMetric, mmdet CocoMetric, '
                         'mmpretrain Accuracy, ...)')
    else:
        train_cfg['val_interval'] = run.length
        notes.append('no evaluation in the old config: val_interval = the whole run (one '
                     'validation at the end; leave val_dataloader out to skip it)')

    sections: Dict[str, Any] = {
        'train_cfg': train_cfg,
        'val_cfg': {'type': 'ValLoop'},
        'test_cfg': {'type': 'TestLoop'},
        'default_hooks': {'checkpoint': checkpoint},
    }
    if 'load_from' in cfg:
        used.append('load_from')
        sections['load_from'] = cfg['load_from']
    if cfg.get('resume_from'):
        used.append('resume_from')
        sections['load_from'] = cfg['resume_from']
        sections['resume'] = True
        if cfg.get('load_from'):
            notes.append(f'resume_from wins over load_from={cfg["load_from"]!r}, as in mmcv 1.x')
    elif 'resume_from' in cfg:
        used.append('resume_from')
        sections['resume'] = False
    if 'log_level' in cfg:
        used.append('log_level')
        sections['log_level'] = cfg['log_level']
    return RuntimeConversion(run=run, sections=sections, notes=notes, used=used)
