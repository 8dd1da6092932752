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
    assert (entry.source or entry.message) in joined, (
        f'{entry.module} no longer says {entry.message!r}: remove the entry from KNOWN')
    assert ('warnings.warn' if entry.via == 'warnings' else 'print_log') in source


@pytest.mark.parametrize('scope', ['mmseg', 'mmdet', 'mmpretrain'])
def test_the_function_registry_notice_is_harmless_because_the_scope_has_no_such_registry(scope):
    # MMEngine falls back to its own FUNCTIONS, where the FSDP wrap / checkpointing functions are
    assert not hasattr(importlib.import_module(f'{scope}.registry'), 'FUNCTIONS')
    assert any(entry.message.startswith(f'Failed to search registry with scope "{scope}" in the '
                                        '"function" registry tree') for entry in KNOWN)


def test_mmengines_function_registry_notice_under_mmseg_is_dropped_exactly(no_default_scope):
    from mmengine.logging import MMLogger
    from mmengine.registry import FUNCTIONS, DefaultScope
    logger = MMLogger.get_instance('test_known_function_notice')
    seen = []

    class Collect(logging.Handler):
        def emit(self, record):
            seen.append(record.getMessage())

    handler = Collect(logging.WARNING)
    logger.addHandler(handler)
    try:
        DefaultScope.get_instance('test_known_function_scope', scope_name='mmseg')
        with FUNCTIONS.switch_scope_and_registry(None):
            pass
        printed = list(seen)
        logger.addFilter(KnownLogFilter())
        with FUNCTIONS.switch_scope_and_registry(None):
            pass
    finally:
        logger.removeHandler(handler)
    assert printed and printed[0] in {entry.message for entry in KNOWN}
    assert seen == printed  # the second time, nothing more reached the handler


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
    file_client, hard_disk = (entry.message for entry in KNOWN
                              if entry.module == 'mmengine.fileio.file_client')
    seen = _records(logger, [
        (logging.WARNING, file_client),
        (logging.WARNING, hard_disk),
        (logging.WARNING, 'The prefix is not set in metric class IoUMetric.'),
        (logging.WARNING, '"Petrel" will be deprecated in future'),
        (logging.WARNING, file_client + ' (and more, from a hook of ours)'),
        (logging.ERROR, file_client),
        (logging.INFO, 'Checkpoints will be saved to work_dirs/x.'),
    ])
    assert seen == ['The prefix is not set in metric class IoUMetric.',
                    '"Petrel" will be deprecated in future',
                    file_client + ' (and more, from a hook of ours)',
                    file_client,
                    'Checkpoints will be saved to work_dirs/x.']


def _warn_from(module: str, message: str, category: type = UserWarning) -> None:
    exec(compile('import warnings\nwarnings.warn(MESSAGE, CATEGORY)', module, 'exec'),
         {'__name__': module, 'MESSAGE': message, 'CATEGORY': category})


def test_the_warnings_filter_drops_mmsegs_build_loss_notice_only():
    from mmseg.models.builder import build_loss
    notice = '``build_loss`` would be deprecated soon, please use ...'
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        known_warnings.ignore_known()
        build_loss(dict(type='CrossEntropyLoss', loss_weight=1.0, avg_non_ignore=False))
        warnings.warn('``build_loss`` would be deprecated soon (raised here)', UserWarning)
        _warn_from('mmseg.models.builder_ext', notice)  # a module whose name only starts alike
        _warn_from('mmseg.models.builder.sub', notice)
        _warn_from('mmseg.models.builder', notice, RuntimeWarning)  # another category
    messages = [(str(w.message), w.category.__name__) for w in caught]
    mmsegs_own = ('``build_loss`` would be deprecated soon, please use '
                  '``mmseg.registry.MODELS.build()`` ')
    assert (mmsegs_own, 'UserWarning') not in messages  # dropped
    assert any('avg_non_ignore' in m for m, _ in messages)  # a real choice: kept
    assert ('``build_loss`` would be deprecated soon (raised here)', 'UserWarning') in messages
    assert messages.count((notice, 'UserWarning')) == 2  # the two other modules: kept
    assert (notice, 'RuntimeWarning') in messages


def test_ignore_known_adds_one_filter_to_a_logger():
    logger = logging.getLogger('test_compat_known_warnings_once')
    known_warnings.ignore_known(logger)
    known_warnings.ignore_known(logger)
    assert sum(isinstance(f, KnownLogFilter) for f in logger.filters) == 1
