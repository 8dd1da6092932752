"""Training-time helpers for layer-decay runs (public in ``mmcv_custom``): the hook that logs the
head and embedding learning rates and writes ``param_groups.json``, and the log processor that
prints them.

``LayerDecayLogProcessor`` subclasses MMEngine's ``LogProcessor``, whose package
(``mmengine.runner``) imports DeepSpeed where it is installed (seconds, and a line on stdout), so
its module is imported on first use: MMEngine's ``LOG_PROCESSORS`` holds
:func:`build_layer_decay_log_processor` under the class's name (a config's
``log_processor=dict(type='LayerDecayLogProcessor', ...)`` builds the class through it), and
``mmcv_custom.hooks.LayerDecayLogProcessor`` imports the class when it is first read.
"""
from typing import Any

from mmengine.registry import LOG_PROCESSORS

from ._lr_hook import LayerDecayLrHook

__all__ = ['LayerDecayLrHook', 'LayerDecayLogProcessor', 'build_layer_decay_log_processor']


def build_layer_decay_log_processor(**kwargs: Any) -> Any:
    """A ``LayerDecayLogProcessor`` built with ``kwargs`` (``LogProcessor``'s arguments)."""
    from ._log_processor import LayerDecayLogProcessor
    return LayerDecayLogProcessor(**kwargs)


LOG_PROCESSORS.register_module(name='LayerDecayLogProcessor',
                               module=build_layer_decay_log_processor, force=True)


def __getattr__(name: str) -> Any:
    if name == 'LayerDecayLogProcessor':
        from ._log_processor import LayerDecayLogProcessor
        return LayerDecayLogProcessor
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
