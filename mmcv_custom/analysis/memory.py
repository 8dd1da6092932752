"""Per-GPU memory of a model's weights, gradients and optimizer states under each training engine,
computed from its parameter counts (no GPU, no allocation: the model may live on ``meta``).

With ``P`` parameters in the model, ``T`` of them trainable, ``N`` GPUs and ``S`` bytes of optimizer
state per trainable parameter in fp32 (AdamW / Adam: ``exp_avg`` and ``exp_avg_sq``, S = 8; SGD
with momentum: 4; SGD without: 0), the bytes each GPU holds are:

=========  ===================================  =================  ====================  =========
engine     weights                              gradients          optimizer states      buffers
=========  ===================================  =================  ====================  =========
ddp_amp    4P (fp32; bf16 autocast in compute)  4T (fp32)          S*T                   4T
zero1      2P (bf16)                            2T (bf16)          (4 + S)*T / N         0
zero2      2P (bf16)                            2T / N             (4 + S)*T / N         0
zero3      2P / N (bf16)                        2T / N             (4 + S)*T / N         0
fsdp       4P / N (fp32 shards)                 4T / N (fp32)      S*T / N               0
=========  ===================================  =================  ====================  =========

- ``ddp_amp``: MMEngine's ``AmpOptimWrapper`` under DDP (every GPU holds everything); ``buffers`` is
  DDP's gradient buckets, a second copy of the gradients unless ``gradient_as_bucket_view=True``
  (``torch/nn/parallel/distributed.py``).
- ``zero1`` / ``zero2`` / ``zero3``: DeepSpeed with ``bf16`` (the model is cast to bf16) and ZeRO
  stage 1 / 2 / 3: fp32 master weights (4 B) and the optimizer states partitioned over the ranks
  (stage 1), also the gradients (stage 2), also the weights (stage 3). This is the model-state
  arithmetic of the ZeRO paper (Rajbhandari et al., 2020, "ZeRO: Memory Optimizations Toward
  Training Trillion Parameter Models", section 5.1: 2 + 2 + K bytes per parameter, K = 12 for
  mixed-precision Adam), with frozen parameters holding only their bf16 weights.
- ``fsdp``: torch FSDP ``FULL_SHARD`` with ``use_orig_params=True`` and
  ``MixedPrecision(param_dtype=bf16, reduce_dtype=fp32)``: fp32 parameter shards, fp32 gradient
  shards, optimizer states of the shards.

Not included (they need a GPU run to measure): activations (set by the images per GPU, the crop and
activation checkpointing), the gathered parameters of the FSDP unit or ZeRO-3 layer being computed,
communication buckets, autocast's weight copies, the CUDA context and the allocator's overhead.
"""
from dataclasses import asdict, dataclass
from typing import Any, Dict, Optional, Sequence

from torch import nn

__all__ = ['ENGINES', 'ENGINE_DESCRIPTIONS', 'MemoryEstimate', 'optimizer_state_bytes',
           'estimate_memory', 'count_parameters', 'engine_of_config', 'memory_report',
           'format_memory']

ENGINES = ('ddp_amp', 'zero1', 'zero2', 'zero3', 'fsdp')
ENGINE_DESCRIPTIONS = {
    'ddp_amp': 'DDP + AmpOptimWrapper (fp32 weights, bf16 autocast)',
    'zero1': 'DeepSpeed ZeRO-1, bf16',
    'zero2': 'DeepSpeed ZeRO-2, bf16',
    'zero3': 'DeepSpeed ZeRO-3, bf16',
    'fsdp': 'FSDP FULL_SHARD, bf16 mixed precision',
}
#: fp32 optimizer-state bytes per trainable parameter, by optimizer type.
STATE_BYTES = {'AdamW': 8, 'Adam': 8}
GIB = 1024 ** 3


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes per GPU of one engine (see the module docstring for the formulas)."""

    engine: str
    gpus: int
    params: int
    trainable: int
    state_bytes: int
    weights: float
    gradients: float
    optimizer_states: float
    buffers: float

    @property
    def total(self) -> float:
        return self.weights + self.gradients + self.optimizer_states + self.buffers

    def as_dict(self) -> Dict[str, Any]:
        values = asdict(self)
        values['total'] = self.total
        values['description'] = ENGINE_DESCRIPTIONS[self.engine]
        return values


def optimizer_state_bytes(optimizer_cfg: Dict[str, Any]) -> int:
    """fp32 state bytes per trainable parameter of ``optimizer_cfg`` (AdamW / Adam 8, SGD 4 with
    momentum else 0). Raises ValueError for another optimizer type."""
    kind = optimizer_cfg.get('type')
    if kind in STATE_BYTES:
        return STATE_BYTES[kind]
    if kind == 'SGD':
        return 4 if optimizer_cfg.get('momentum', 0) else 0
    raise ValueError(f'the memory estimate knows the optimizer states of {sorted(STATE_BYTES)} '
                     f'and SGD, not {kind!r}')


def estimate_memory(engine: str, params: int, trainable: int, gpus: int,
                    state_bytes: int = 8) -> MemoryEstimate:
    """Per-GPU bytes of ``engine`` for ``params`` parameters (``trainable`` of them trainable) on
    ``gpus`` GPUs. Raises ValueError for an unknown engine or counts out of range."""
    if engine not in ENGINES:
        raise ValueError(f'engine must be one of {ENGINES}, got {engine!r}')
    if not (isinstance(gpus, int) and gpus >= 1):
        raise ValueError(f'gpus must be a positive int, got {gpus!r}')
    if not 0 <= trainable <= params:
        raise ValueError(f'trainable ({trainable}) must be between 0 and params ({params})')
    p, t, n, s = params, trainable, gpus, state_bytes
    weights, gradients, states, buffers = {
        'ddp_amp': (4 * p, 4 * t, s * t, 4 * t),
        'zero1': (2 * p, 2 * t, (4 + s) * t / n, 0),
        'zero2': (2 * p, 2 * t / n, (4 + s) * t / n, 0),
        'zero3': (2 * p / n, 2 * t / n, (4 + s) * t / n, 0),
        'fsdp': (4 * p / n, 4 * t / n, s * t / n, 0),
    }[engine]
    return MemoryEstimate(engine, n, p, t, s, float(weights), float(gradients), float(states),
                          float(buffers))


def count_parameters(model: nn.Module) -> Dict[str, int]:
    """``{'params': P, 'trainable': T}`` of ``model`` (works on ``meta``), and P per top-level
    child (``'backbone'``, ``'neck'``, ...)."""
    counts = {'params': 0, 'trainable': 0}
    for param in model.parameters():
        counts['params'] += param.numel()
        counts['trainable'] += param.numel() if param.requires_grad else 0
    for name, child in model.named_children():
        size = sum(param.numel() for param in child.parameters())
        if size:
            counts[f'params.{name}'] = size
    return counts


def engine_of_config(cfg: Any) -> Optional[str]:
    """The engine a config trains with: ``strategy`` ``DeepSpeedStrategy`` (its ZeRO stage) or
    ``FSDPStrategy``, else ``ddp_amp`` for an ``AmpOptimWrapper``; None for plain fp32 training."""
    strategy = cfg.get('strategy') or {}
    kind = strategy.get('type')
    if kind == 'DeepSpeedStrategy':
        stage = (strategy.get('zero_optimization') or {}).get('stage', 0)
        return f'zero{stage}' if f'zero{stage}' in ENGINES else None
    if kind == 'FSDPStrategy':
        return 'fsdp'
    if (cfg.get('optim_wrapper') or {}).get('type') == 'AmpOptimWrapper':
        return 'ddp_amp'
    return None


def memory_report(model: nn.Module, cfg: Any, gpus: int = 8,
                  images_per_gpu: Optional[int] = None,
                  engines: Sequence[str] = ENGINES) -> Dict[str, Any]:
    """The parameter counts of ``model`` and :func:`estimate_memory` for each engine, with the
    config's own engine marked. ``images_per_gpu`` defaults to the config's
    ``train_dataloader.batch_size`` (reported: activations are not computed)."""
    counts = count_parameters(model)
    optimizer_cfg = (cfg.get('optim_wrapper') or {}).get('optimizer') or {}
    state = optimizer_state_bytes(optimizer_cfg)
    if images_per_gpu is None:
        images_per_gpu = (cfg.get('train_dataloader') or {}).get('batch_size')
    return dict(
        counts=counts, gpus=gpus, images_per_gpu=images_per_gpu,
        optimizer=optimizer_cfg.get('type'), state_bytes=state,
        config_engine=engine_of_config(cfg),
        estimates=[estimate_memory(engine, counts['params'], counts['trainable'], gpus,
                                   state).as_dict() for engine in engines],
        not_included='activations, gathered FSDP / ZeRO-3 parameters of the layer being '
                     'computed, communication buckets, autocast copies, CUDA context')


def format_memory(report: Dict[str, Any]) -> str:
    """A text table of :func:`memory_report` (GiB per GPU)."""
    counts = report['counts']
    lines = [f"parameters: {counts['params']:,} ({counts['trainable']:,} trainable); "
             + ', '.join(f'{key[7:]} {value:,}' for key, value in counts.items()
                         if key.startswith('params.')),
             f"per-GPU memory of weights, gradients and {report['optimizer']} states on "
             f"{report['gpus']} GPUs ({report['images_per_gpu']} images per GPU; activations "
             'not included), GiB:',
             f"  {'engine':<52} {'weights':>8} {'grads':>8} {'optim':>8} {'buffers':>8} "
             f"{'total':>8}"]
    for row in report['estimates']:
        mark = ' <- this config' if row['engine'] == report['config_engine'] else ''
        lines.append(f"  {row['description']:<52} {row['weights'] / GIB:8.2f} "
                     f"{row['gradients'] / GIB:8.2f} {row['optimizer_states'] / GIB:8.2f} "
                     f"{row['buffers'] / GIB:8.2f} {row['total'] / GIB:8.2f}{mark}")
    lines.append(f"  not included: {report['not_included']}")
    return '\n'.join(lines)
