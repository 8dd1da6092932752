"""Files of the log folder written by one process each (MMEngine 0.10.7's ``LoggerHook``).

Two methods of MMEngine 0.10.7's ``LoggerHook`` write the same file from every rank (every rank
has the same log folder: rank 0 broadcasts the timestamp):

- ``after_test_epoch`` dumps the test metrics to ``<work_dir>/<timestamp>/<timestamp>.json``.
  When a shorter write lands over a longer one the file keeps the longer one's tail (seen:
  ``{...}}``, a ``JSONDecodeError: Extra data``), so ``tools/dist_test.sh CFG CKPT 2`` could leave
  a corrupted metrics file. Fixed: MMEngine's own method runs on rank 0; the other ranks form and
  log the epoch summary as it does, and write nothing.
- ``after_run`` with ``out_dir`` set copies every file of the log folder to ``out_dir`` and, with
  ``keep_local=False``, deletes it, on every rank. Each rank reads rank 0's log at its own moment
  and the last writer wins: on 2 CPU processes (``tools/dist_test.sh``, ``keep_local=False``) the
  copied log lacked the final ``Iter(test)`` metrics line, or rank 0 failed deleting a file rank
  1 had already deleted, in 5 runs of 7. Fixed: each file is copied and deleted by one rank: a log
  file by the lowest rank that writes it (MMEngine writes one per rank when ``log_cfg`` sets
  ``distributed=True`` or the level is ``DEBUG``), every other file of the folder by rank 0.
  Everything else is MMEngine's: the visualizer is closed on every rank, the same files
  (``out_suffix``) go to the same paths with the same log lines, and file handlers are closed
  before deleting.

``tests/test_compat_mmengine_logger_hook.py`` fails when MMEngine stops writing from ranks other
than 0, so this module is removed once upstream is fixed. See :mod:`mmcv_custom.compat` for when
it is installed.

Source: ``mmengine/hooks/logger_hook.py`` (``LoggerHook.after_test_epoch`` and
``LoggerHook.after_run``, 0.10.7).
"""
import logging
import os
import os.path as osp
from typing import Any, Callable, Dict, List, Optional

__all__ = ['upstream', 'after_test_epoch', 'after_run', 'install']

_UPSTREAM: Dict[str, Callable] = {}


def _logger_hook() -> type:
    from mmengine.hooks import LoggerHook
    return LoggerHook


def upstream(name: str) -> Callable:
    """MMEngine's own ``LoggerHook.<name>`` (``'after_test_epoch'`` or ``'after_run'``), also
    after :func:`install` replaced it."""
    current = _logger_hook().__dict__[name]
    return _UPSTREAM.get(name, current) if current is _OURS[name] else current


def after_test_epoch(self: Any, runner: Any, metrics: Optional[Dict[str, float]] = None) -> None:
    """``LoggerHook.after_test_epoch`` whose metrics file is written by rank 0 alone; the other
    ranks form and log the epoch summary as MMEngine's method does."""
    from mmengine.dist import is_main_process
    if is_main_process():
        upstream('after_test_epoch')(self, runner, metrics)
        return
    _, log_str = runner.log_processor.get_log_after_epoch(
        runner, len(runner.test_dataloader), 'test', with_non_scalar=True)
    runner.logger.info(log_str)


def _inside(root: str, path: str) -> bool:
    try:
        return osp.commonpath([root, path]) == root
    except ValueError:  # another drive (Windows): outside the folder
        return False


def _own_log_files(runner: Any) -> List[str]:
    """This rank's log files inside the log folder, relative to it."""
    root = osp.abspath(runner.log_dir)
    files = [osp.abspath(handler.baseFilename) for handler in runner.logger.handlers
             if isinstance(handler, logging.FileHandler)]
    return sorted(osp.relpath(path, root) for path in files if _inside(root, path))


def _files_of_rank(rank: int, claimed: List[List[str]], found: List[str]) -> List[str]:
    """The files ``rank`` copies: those it is the lowest rank to write (``claimed[r]`` is rank
    r's own log files); rank 0 also every other file ``found`` in the log folder."""
    owner: Dict[str, int] = {}
    for other, names in enumerate(claimed):
        for name in names:
            owner.setdefault(name, other)
    return [name for name in found if owner.get(name, 0) == rank]


def after_run(self: Any, runner: Any) -> None:
    """``LoggerHook.after_run`` in which each file of the log folder is copied to ``out_dir``
    (and deleted with ``keep_local=False``) by one rank only: a log file by the lowest rank that
    writes it, every other file by rank 0. With ``out_dir`` set all ranks first take part in one
    ``all_gather_object`` (MMEngine calls ``after_run`` on every rank)."""
    if self.out_dir is None:
        upstream('after_run')(self, runner)
        return
    from mmengine.dist import all_gather_object, get_rank
    from mmengine.utils import scandir
    claimed = all_gather_object(_own_log_files(runner))
    runner.visualizer.close()
    rank = get_rank()
    found = list(scandir(runner.log_dir, self.out_suffix, True)) if rank == 0 else [
        name for name in claimed[rank] if name.endswith(self.out_suffix)]
    names = _files_of_rank(rank, claimed, found)
    for name in names:
        local_path = osp.join(runner.log_dir, name)
        out_path = self.file_backend.join_path(self.out_dir, name)
        with open(local_path) as file:
            self.file_backend.put_text(file.read(), out_path)
        runner.logger.info(f'The file {local_path} has been uploaded to {out_path}.')
        if not self.keep_local:
            runner.logger.info(f'{local_path} was removed due to the `self.keep_local=False`. '
                               f'You can check the running logs in {out_path}')
    if not self.keep_local:
        for handler in runner.logger.handlers:
            if isinstance(handler, logging.FileHandler):
                handler.close()
        for name in names:
            os.remove(osp.join(runner.log_dir, name))


_OURS: Dict[str, Callable] = {'after_test_epoch': after_test_epoch, 'after_run': after_run}


def install() -> bool:
    """Make :func:`after_test_epoch` and :func:`after_run` ``LoggerHook``'s methods; return
    whether anything was replaced now (idempotent: ``False`` when already installed)."""
    hook = _logger_hook()
    replaced = False
    for name, ours in _OURS.items():
        current = hook.__dict__[name]
        if current is not ours:
            _UPSTREAM[name] = current
            setattr(hook, name, ours)
            replaced = True
    return replaced
