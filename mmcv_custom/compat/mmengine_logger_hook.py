"""Write the test metrics file from rank 0 only (MMEngine 0.10.7's ``LoggerHook.after_test_epoch``).

MMEngine 0.10.7's ``LoggerHook.after_test_epoch`` dumps the test metrics to
``<work_dir>/<timestamp>/<timestamp>.json`` on **every** rank, and every rank has the same
timestamp (rank 0 broadcasts it), so 2+ processes write one file at once. When a shorter write
lands over a longer one, the file keeps the longer one's tail (seen: ``{...}}``, a
``JSONDecodeError: Extra data``), so ``tools/dist_test.sh CFG CKPT 2`` can leave a corrupted
metrics file. The fix keeps everything the hook does on every rank (the epoch summary is formed
and logged as before) and calls MMEngine's own method, which also writes the file, on rank 0 only.

``tests/test_compat_mmengine_logger_hook.py`` fails when MMEngine stops writing from ranks other
than 0, so this module is removed once upstream is fixed. See :mod:`mmcv_custom.compat` for when
it is installed.

Source: ``mmengine/hooks/logger_hook.py`` (``LoggerHook.after_test_epoch``, 0.10.7).
"""
from typing import Any, Callable, Dict, Optional

__all__ = ['upstream_after_test_epoch', 'after_test_epoch', 'install']

_UPSTREAM: Dict[str, Callable] = {}


def _logger_hook() -> type:
    from mmengine.hooks import LoggerHook
    return LoggerHook


def upstream_after_test_epoch() -> Callable:
    """MMEngine's own ``LoggerHook.after_test_epoch`` (also after :func:`install` replaced it)."""
    hook = _logger_hook()
    current = hook.__dict__['after_test_epoch']
    return _UPSTREAM.get('after_test_epoch', current) if current is after_test_epoch else current


def after_test_epoch(self: Any, runner: Any, metrics: Optional[Dict[str, float]] = None) -> None:
    """``LoggerHook.after_test_epoch`` whose metrics file is written by rank 0 alone; the other
    ranks form and log the epoch summary as MMEngine's method does."""
    from mmengine.dist import is_main_process
    if is_main_process():
        upstream_after_test_epoch()(self, runner, metrics)
        return
    _, log_str = runner.log_processor.get_log_after_epoch(
        runner, len(runner.test_dataloader), 'test', with_non_scalar=True)
    runner.logger.info(log_str)


def install() -> bool:
    """Make :func:`after_test_epoch` ``LoggerHook``'s method; return whether it was replaced now
    (idempotent: ``False`` when already installed)."""
    hook = _logger_hook()
    current = hook.__dict__['after_test_epoch']
    if current is after_test_epoch:
        return False
    _UPSTREAM['after_test_epoch'] = current
    hook.after_test_epoch = after_test_epoch
    return True
