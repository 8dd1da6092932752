"""Training-time helpers for layer-decay runs (public in ``mmcv_custom``): the hook that logs the
head and embedding learning rates and writes ``param_groups.json``, and the log processor that
prints them."""
from ._log_processor import LayerDecayLogProcessor
from ._lr_hook import LayerDecayLrHook

__all__ = ['LayerDecayLrHook', 'LayerDecayLogProcessor']
