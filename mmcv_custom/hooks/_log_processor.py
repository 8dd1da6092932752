"""``LayerDecayLogProcessor``: print ``lr_head`` / ``lr_embed`` in the format of ``lr``.

This module imports ``mmengine.runner`` (and with it DeepSpeed where installed), so it is imported
only when the class is used: ``mmcv_custom.hooks`` registers a builder under the class's name in
MMEngine's ``LOG_PROCESSORS`` and hands out the class on attribute access.
"""
from typing import Any, Tuple

from mmengine.runner import LogProcessor

LR_KEYS = ('lr_head', 'lr_embed')


class LayerDecayLogProcessor(LogProcessor):
    """MMEngine's ``LogProcessor``, except that ``lr_head`` and ``lr_embed`` (written by
    :class:`~mmcv_custom.LayerDecayLrHook`) are printed in scientific notation like ``lr``.

    ``LogProcessor`` prints a scalar whose name does not end in ``lr`` with ``num_digits`` fixed
    decimals, which shows a small learning rate as ``0.0000``. The recorded values (``tag``, hence
    ``vis_data/scalars.json``) are unchanged; only the text line differs. Takes the arguments of
    ``LogProcessor``::

        log_processor = dict(type='LayerDecayLogProcessor', window_size=10, by_epoch=False)
    """

    def get_log_after_iter(self, runner: Any, batch_idx: int, mode: str) -> Tuple[dict, str]:
        tag, log_str = super().get_log_after_iter(runner, batch_idx, mode)
        for key in LR_KEYS:
            value = tag.get(key, tag.get(f'{mode}/{key}'))
            if value is None:
                continue
            fixed = f'{key}: {float(value):.{self.num_digits}f}'
            log_str = log_str.replace(fixed, f'{key}: {float(value):.{self.num_digits}e}', 1)
        return tag, log_str
