"""``mmcv_custom.compat.known_warnings``: exactly the named upstream notices are silenced.

The first test fails when an upstream file no longer raises an entry's notice, so the entry is
removed then; the others check that the filters drop those notices and nothing else."""
import importlib
import inspect
import logging
import warnings

import pytest

from mmcv_custom.compat import known_warnings
from mmcv_custom.compat.known_warnings import KNOWN, KnownLogFilter


@pytest.mark.parametrize('entry', KNOWN, ids=lambda entry: entry.message[:30])
def test_upstream_still_raises_each_known_notice(entry):
    source = inspect.getsource(importlib.import_module(entry.module))
    # the text may be split over string literals; compare with the quotes and breaks removed
    joined = ''.join(part.strip().strip("'") for part in source.splitlines())
    assert entry.message in joined, (
        f'{entry.module} no longer says {entry.message!r}: remove the entry from KNOWN')
    assert ('warnings.warn' if entry.via == 'warnings' else 'print_log') in source


def _records(logger: logging.Logger, messages):
    seen = []

    class Collect(logging.Handler):
        def emit(self, record):
            seen.append(record.getMessage())

    handler = Collect()
    logger.addHandler(handler)
    try:
        for level, message in messages:
            logger.log(level, message)
    finally:
        logger.removeHandler(handler)
    return seen


def test_the_log_filter_drops_the_known_notices_and_keeps_everything_else():
    logger = logging.getLogger('test_compat_known_warnings')
    logger.setLevel(logging.DEBUG)
    logger.addFilter(KnownLogFilter())
    seen = _records(logger, [
        (logging.WARNING, '"FileClient" will be deprecated in future. Please use io functions'),
        (logging.WARNING, '"HardDiskBackend" is the alias of "LocalBackend" and the former ...'),
        (logging.WARNING, 'The prefix is not set in metric class IoUMetric.'),
        (logging.WARNING, '"Petrel" will be deprecated in future'),
        (logging.ERROR, '"FileClient" will be deprecated in future (as an error)'),
        (logging.INFO, 'Checkpoints will be saved to work_dirs/x.'),
    ])
    assert seen == ['The prefix is not set in metric class IoUMetric.',
                    '"Petrel" will be deprecated in future',
                    '"FileClient" will be deprecated in future (as an error)',
                    'Checkpoints will be saved to work_dirs/x.']


def test_the_warnings_filter_drops_mmsegs_build_loss_notice_only():
    from mmseg.models.builder import build_loss
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        known_warnings.ignore_known()
        build_loss(dict(type='CrossEntropyLoss', loss_weight=1.0, avg_non_ignore=False))
        warnings.warn('``build_loss`` would be deprecated soon (raised elsewhere)', UserWarning)
    messages = [str(warning.message) for warning in caught]
    assert not any(m.startswith('``build_loss``') and 'elsewhere' not in m for m in messages)
    assert any('avg_non_ignore' in m for m in messages)  # a real choice: kept
    assert any('raised elsewhere' in m for m in messages)  # same text, other module: kept


def test_ignore_known_adds_one_filter_to_a_logger():
    logger = logging.getLogger('test_compat_known_warnings_once')
    known_warnings.ignore_known(logger)
    known_warnings.ignore_known(logger)
    assert sum(isinstance(f, KnownLogFilter) for f in logger.filters) == 1
