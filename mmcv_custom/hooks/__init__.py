"""Training-time helpers for layer-decay runs: the lr hook and the log processor that prints it."""
from .layer_decay_lr_hook import LayerDecayLrHook
from .lr_log_processor import LayerDecayLogProcessor

__all__ = ['LayerDecayLrHook', 'LayerDecayLogProcessor']
