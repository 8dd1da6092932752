"""mmcv 1.x ``optimizer`` / ``optimizer_config`` / ``fp16`` -> MMEngine ``optim_wrapper``.

mmcv 1.x kept the constructor and its ``paramwise_cfg`` inside ``optimizer`` and did gradient
clipping, accumulation and fp16 loss scaling in an optimizer *hook* (``optimizer_config``). MMEngine
passes every key of ``optim_wrapper.optimizer`` to the torch optimizer (so a ``constructor`` left
there fails: ``AdamW.__init__() got an unexpected keyword argument 'constructor'``) and does the
rest in the wrapper. The mapping:

============================================  ===============================================
mmcv 1.x                                      MMEngine
============================================  ===============================================
``optimizer.constructor``                     ``optim_wrapper.constructor`` (name unchanged)
``optimizer.paramwise_cfg``                   ``optim_wrapper.paramwise_cfg`` (unchanged, every
                                              key kept)
other ``optimizer`` keys                      ``optim_wrapper.optimizer``
``optimizer_config.grad_clip``                ``optim_wrapper.clip_grad``
``cumulative_iters`` (Gradient-               ``optim_wrapper.accumulative_counts``
Cumulative*OptimizerHook), ``update_interval``
(the BEiT / ConvNeXt ``DistOptimizerHook``)
``Fp16OptimizerHook``, ``fp16=dict(...)``,    ``AmpOptimWrapper`` with ``loss_scale`` (mmcv's
``use_fp16=True`` (apex, ``DistOptimizer-     default 512.0; apex's dynamic scaling ->
Hook``)                                       ``'dynamic'``)
``detect_anomalous_params=True``              ``model_wrapper_cfg.detect_anomalous_params``
============================================  ===============================================

Anything else in ``optimizer_config`` / ``fp16`` is named in a note, never dropped silently.
Source: mmcv 1.x ``mmcv/runner/hooks/optimizer.py`` (hook arguments and defaults), MMEngine 0.10
``mmengine/optim/optimizer/optimizer_wrapper.py`` and ``amp_optimizer_wrapper.py``.
"""
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional

from ._result import MigrationError, plain_copy

#: mmcv 1.x optimizer hooks (and the apex ``DistOptimizerHook`` of the BEiT, ConvNeXt, Swin and
#: EVA repositories) and the arguments each takes.
OPTIMIZER_HOOKS: Dict[str, tuple] = {
    'OptimizerHook': ('grad_clip', 'detect_anomalous_params'),
    'GradientCumulativeOptimizerHook': ('grad_clip', 'detect_anomalous_params',
                                        'cumulative_iters'),
    'Fp16OptimizerHook': ('grad_clip', 'coalesce', 'bucket_size_mb', 'loss_scale',
                          'distributed'),
    'GradientCumulativeFp16OptimizerHook': ('grad_clip', 'coalesce', 'bucket_size_mb',
                                            'loss_scale', 'distributed', 'cumulative_iters'),
    'DistOptimizerHook': ('grad_clip', 'coalesce', 'bucket_size_mb', 'update_interval',
                          'use_fp16'),
}
#: ``Fp16OptimizerHook``'s default ``loss_scale`` in mmcv 1.x.
MMCV_FP16_LOSS_SCALE = 512.0
#: Hook arguments about DDP's gradient all-reduce, which MMEngine's DDP wrapper does itself.
DDP_ONLY_KEYS = ('coalesce', 'bucket_size_mb', 'distributed')


@dataclass
class OptimConversion:
    """``optim_wrapper`` (and ``model_wrapper_cfg`` when needed) plus the notes."""

    optim_wrapper: Dict[str, Any]
    model_wrapper_cfg: Optional[Dict[str, Any]] = None
    notes: List[str] = field(default_factory=list)


def convert_optimizer(optimizer: Optional[Mapping], optimizer_config: Optional[Mapping] = None,
                      fp16: Optional[Mapping] = None) -> OptimConversion:
    """The ``optim_wrapper`` equivalent of mmcv 1.x's three settings.

    Raises:
        MigrationError: no ``optimizer``; several optimizers (a dict of dicts); an unknown
            optimizer hook type.
    """
    if not optimizer:
        raise MigrationError('the config has no optimizer to convert')
    if 'type' not in optimizer:
        if optimizer and all(isinstance(value, Mapping) for value in optimizer.values()):
            raise MigrationError(
                f'optimizer holds several optimizers ({sorted(optimizer)}); convert them by hand '
                'to an OptimWrapperDict (MMEngine: optim_wrapper=dict(constructor=..., '
                '<name>=dict(type="OptimWrapper", optimizer=...)))')
        raise MigrationError(f'optimizer has no type: {dict(optimizer)!r}')
    settings = plain_copy(optimizer)
    settings.pop('_delete_', None)
    constructor = settings.pop('constructor', None)
    paramwise_cfg = settings.pop('paramwise_cfg', None)
    wrapper: Dict[str, Any] = {'type': 'OptimWrapper', 'optimizer': settings}
    if constructor is not None:
        wrapper['constructor'] = constructor
    if paramwise_cfg is not None:
        wrapper['paramwise_cfg'] = paramwise_cfg
    result = OptimConversion(optim_wrapper=wrapper)

    hook = plain_copy(optimizer_config or {})
    hook.pop('_delete_', None)
    hook_type = hook.pop('type', 'OptimizerHook')
    if hook_type not in OPTIMIZER_HOOKS:
        raise MigrationError(f'optimizer_config type {hook_type!r} is not one this tool knows '
                             f'({sorted(OPTIMIZER_HOOKS)}); convert it by hand')
    known = OPTIMIZER_HOOKS[hook_type]
    unknown = sorted(key for key in hook if key not in known)
    if unknown:
        result.notes.append(f'optimizer_config ({hook_type}): {unknown} are not arguments of '
                            'that hook in mmcv 1.x; not converted')
    if 'grad_clip' in hook:
        wrapper['clip_grad'] = hook['grad_clip']
    counts = hook.get('cumulative_iters', hook.get('update_interval', 1))
    if counts != 1:
        wrapper['accumulative_counts'] = counts
    if hook.get('detect_anomalous_params'):
        result.model_wrapper_cfg = {'type': 'MMDistributedDataParallel',
                                    'detect_anomalous_params': True}
        result.notes.append('optimizer_config.detect_anomalous_params=True -> '
                            'model_wrapper_cfg.detect_anomalous_params=True (MMEngine checks '
                            'in its DDP wrapper)')
    dropped = [key for key in DDP_ONLY_KEYS if key in hook]
    if dropped:
        values = ', '.join(f'{key}={hook[key]!r}' for key in dropped)
        result.notes.append(f'optimizer_config {values}: not converted (how mmcv 1.x\'s hook '
                            'all-reduced gradients; MMEngine\'s DDP wrapper buckets gradients '
                            'itself, tune it with model_wrapper_cfg.bucket_cap_mb)')
    _convert_fp16(hook_type, hook, fp16, wrapper, result.notes)
    return result


def _convert_fp16(hook_type: str, hook: Mapping, fp16: Optional[Mapping],
                  wrapper: Dict[str, Any], notes: List[str]) -> None:
    fp16 = plain_copy(fp16 or {})
    loss_scale: Any = None
    source = ''
    if 'Fp16' in hook_type:
        loss_scale, source = hook.get('loss_scale', MMCV_FP16_LOSS_SCALE), hook_type
    if fp16:
        unknown = sorted(key for key in fp16 if key != 'loss_scale')
        if unknown:
            notes.append(f'fp16: {unknown} not converted (mmcv 1.x\'s fp16 dict is passed to '
                         'Fp16OptimizerHook, which takes only loss_scale among them)')
        loss_scale = fp16.get('loss_scale', MMCV_FP16_LOSS_SCALE if loss_scale is None
                              else loss_scale)
        source = 'fp16'
    if hook.get('use_fp16'):
        if loss_scale is None:
            loss_scale = 'dynamic'
            notes.append('optimizer_config.use_fp16=True (apex amp, dynamic loss scaling) -> '
                         "AmpOptimWrapper(loss_scale='dynamic') (torch autocast, fp16)")
        source = source or 'use_fp16'
    if loss_scale is None:
        return
    wrapper['type'] = 'AmpOptimWrapper'
    wrapper['loss_scale'] = loss_scale
    notes.append(f'AmpOptimWrapper(loss_scale={loss_scale!r}) from {source}: MMEngine\'s '
                 'AmpOptimWrapper trains on a GPU, NPU, MLU or MUSA device only (on the CPU use '
                 "type='OptimWrapper' and drop loss_scale)")
