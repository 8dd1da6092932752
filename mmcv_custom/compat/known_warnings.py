"""Upstream deprecation notices that every run prints and that no user can act on, by name.

A run through ``tools/train.py`` or ``tools/test.py`` prints, among its real warnings, notices
that upstream packages raise about their *own* calls into their *own* deprecated functions.
A user reads them as problems with their config, and there is nothing in the config to change.
:data:`KNOWN` lists each one: where it is raised, its text, and why it is harmless.
:func:`ignore_known` silences exactly those: a ``warnings`` filter on the category, the start of
the message and the exact module that raises it, and a ``logging`` filter, on the logger MMEngine
logs through, that drops a WARNING record only when its whole text is the notice's. Any other
warning, including other deprecations and mmseg's ``avg_non_ignore`` notice (about how the loss is
averaged: a real choice), still shows.

``tests/test_compat_known_warnings.py`` fails when an upstream file no longer holds the text, so
an entry is removed once upstream stops raising it. Only our tools call :func:`ignore_known`;
``import mmcv_custom`` does not.
"""
import logging
import re
import warnings
from dataclasses import dataclass
from typing import Optional, Tuple

__all__ = ['KnownWarning', 'KNOWN', 'KnownLogFilter', 'ignore_known']


@dataclass(frozen=True)
class KnownWarning:
    """One upstream notice: raised by ``module`` (a dotted name; its file holds ``message``) either
    through ``warnings.warn`` as a ``UserWarning`` (``via='warnings'``; ``message`` is the start of
    its text) or MMEngine's ``print_log`` at WARNING (``via='logging'``; ``message`` is its whole
    text)."""

    module: str
    via: str
    message: str
    why: str
    #: What the upstream file holds, where the message is formed there (default: ``message``).
    source: str = ''

    def pattern(self) -> str:
        return re.escape(self.message)


def _no_function_registry(scope: str) -> KnownWarning:
    return KnownWarning(
        module='mmengine.registry.registry', via='logging',
        message=(f'Failed to search registry with scope "{scope}" in the "function" registry '
                 'tree. As a workaround, the current "function" registry in "mmengine" is used '
                 'to build instance. This may cause unexpected failure when running the built '
                 f'modules. Please check whether "{scope}" is a correct scope, or whether the '
                 'registry is initialized.'),
        why=f'{scope} defines no FUNCTIONS registry, so MMEngine\'s FSDPStrategy finds the wrap '
            "and checkpointing functions (mmcv_custom's among them) in MMEngine's own, the only "
            'place they can be',
        source='Failed to search registry with scope')


KNOWN: Tuple[KnownWarning, ...] = (
    KnownWarning(
        module='mmseg.models.builder', via='warnings',
        message='``build_loss`` would be deprecated soon',
        why="mmseg 1.2.2's own decode heads build their losses with its deprecated build_loss"),
    KnownWarning(
        module='mmengine.fileio.file_client', via='logging',
        message=('"FileClient" will be deprecated in future. Please use io functions in '
                 'https://mmengine.readthedocs.io/en/latest/api/fileio.html#file-io'),
        why="MMEngine 0.10.7's own CheckpointHook.before_train calls FileClient.infer_client on "
            'every run, whatever the config says'),
    KnownWarning(
        module='mmengine.fileio.file_client', via='logging',
        message=('"HardDiskBackend" is the alias of "LocalBackend" and the former will be '
                 'deprecated in future.'),
        why='raised by the same FileClient call of MMEngine\'s CheckpointHook'),
    _no_function_registry('mmseg'),
    _no_function_registry('mmdet'),
    _no_function_registry('mmpretrain'),
)


class KnownLogFilter(logging.Filter):
    """Drops the WARNING records whose whole text is a notice of :data:`KNOWN`
    (``via='logging'``), keeps every other record."""

    def __init__(self) -> None:
        super().__init__()
        self._texts = frozenset(entry.message for entry in KNOWN if entry.via == 'logging')

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.levelno == logging.WARNING and record.getMessage() in self._texts)


def ignore_known(logger: Optional[logging.Logger] = None) -> None:
    """Silence the :data:`KNOWN` notices: their ``warnings`` in this process, and their log
    records on ``logger`` (a runner's ``runner.logger``; none when ``None``). Idempotent."""
    for entry in KNOWN:
        if entry.via == 'warnings':
            warnings.filterwarnings('ignore', message=entry.pattern(), category=UserWarning,
                                    module=re.escape(entry.module) + r'\Z')
    if logger is not None and not any(isinstance(f, KnownLogFilter) for f in logger.filters):
        logger.addFilter(KnownLogFilter())
