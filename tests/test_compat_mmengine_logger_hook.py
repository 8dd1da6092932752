"""``mmcv_custom.compat.mmengine_logger_hook``: each file of the log folder is written by one rank.

MMEngine 0.10.7 writes ``<work_dir>/<timestamp>/<timestamp>.json`` from every rank, which left a
corrupted file (``JSONDecodeError: Extra data``) after ``tools/dist_test.sh CFG CKPT 2``, and with
``out_dir`` set every rank copies (and with ``keep_local=False`` deletes) the whole log folder,
which left a copied log without its final metrics line. The ``mmengine_still_...`` tests fail once
MMEngine stops writing from other ranks, so the fix is removed then; the 2-process runs it protects
are ``test_test_tool.py::test_dist_test_sh_on_two_cpu_processes_gets_the_same_miou`` and
``test_test_tool.py::test_dist_test_sh_copies_the_complete_log_to_out_dir``.
"""
import contextlib
import json
import logging
from unittest import mock

import pytest
from mmengine.fileio import LocalBackend
from mmengine.hooks import LoggerHook

from mmcv_custom.compat import mmengine_logger_hook


class _Runner:
    """What ``LoggerHook.after_test_epoch`` reads of a runner."""

    def __init__(self, log_dir: str) -> None:
        self.log_dir = log_dir
        self.test_dataloader = [0, 1, 2]
        self.logged = []
        self.logger = mock.Mock(info=self.logged.append)
        self.log_processor = mock.Mock(get_log_after_epoch=mock.Mock(
            return_value=({'mIoU': 88.5, 'aAcc': 97.25}, 'Iter(test) [3/3]  mIoU: 88.5')))


def _hook() -> LoggerHook:
    hook = LoggerHook()
    hook.json_log_path = '20261202_000000.json'
    return hook


@contextlib.contextmanager
def _as_rank(rank: int):
    with mock.patch('mmengine.dist.utils.get_rank', return_value=rank), \
            mock.patch('mmengine.dist.get_rank', return_value=rank):
        yield


def test_mmengine_still_writes_the_test_metrics_on_every_rank(tmp_path):
    upstream = mmengine_logger_hook.upstream('after_test_epoch')
    with _as_rank(1):
        upstream(_hook(), _Runner(str(tmp_path)))
    assert (tmp_path / '20261202_000000.json').exists(), (
        'MMEngine no longer writes the test metrics from ranks other than 0: remove '
        'mmcv_custom.compat.mmengine_logger_hook')


@pytest.fixture
def installed():
    before = {name: LoggerHook.__dict__[name] for name in ('after_test_epoch', 'after_run')}
    mmengine_logger_hook.install()
    yield
    for name, method in before.items():
        setattr(LoggerHook, name, method)


@pytest.mark.parametrize('rank', [1, 3])
def test_other_ranks_log_the_summary_and_write_no_file(tmp_path, installed, rank):
    runner = _Runner(str(tmp_path))
    with _as_rank(rank):
        _hook().after_test_epoch(runner)
    assert runner.logged == ['Iter(test) [3/3]  mIoU: 88.5']
    assert list(tmp_path.iterdir()) == []


def test_rank_0_writes_the_metrics_as_mmengine_does(tmp_path, installed):
    runner = _Runner(str(tmp_path))
    with _as_rank(0):
        _hook().after_test_epoch(runner)
    assert runner.logged == ['Iter(test) [3/3]  mIoU: 88.5']
    assert json.loads((tmp_path / '20261202_000000.json').read_text()) == \
        {'mIoU': 88.5, 'aAcc': 97.25}


def test_install_is_idempotent_and_keeps_mmengines_methods(installed):
    assert LoggerHook.after_test_epoch is mmengine_logger_hook.after_test_epoch
    assert LoggerHook.after_run is mmengine_logger_hook.after_run
    assert mmengine_logger_hook.install() is False
    assert mmengine_logger_hook.upstream('after_test_epoch') is not \
        mmengine_logger_hook.after_test_epoch
    assert mmengine_logger_hook.upstream('after_run') is not mmengine_logger_hook.after_run


# ----- after_run: the log folder copied to out_dir -----

def _log_folder(log_dir, per_rank_logs: bool = False):
    """A finished run's log folder: rank 0's log (``per_rank_logs``: one log per rank, as MMLogger
    writes them with ``log_cfg=dict(distributed=True)``), its scalars and its config."""
    (log_dir / 'vis_data').mkdir(parents=True)
    for name in ('vis_data/scalars.json', 'vis_data/config.py'):
        (log_dir / name).write_text(name)
    for rank in ((0, 1) if per_rank_logs else (0,)):
        (log_dir / _log_name(rank, per_rank_logs)).write_text(f'log of rank {rank}\n')
    return log_dir


def _log_name(rank: int, per_rank_logs: bool) -> str:
    return f'run_device0_rank{rank}.log' if per_rank_logs else 'run.log'


class _FinishedRunner:
    """What ``LoggerHook.after_run`` reads of a runner, on ``rank``: its log folder and the file
    handler of its own log (none on ranks other than 0 unless ``per_rank_logs``)."""

    def __init__(self, log_dir, rank: int, per_rank_logs: bool = False) -> None:
        self.log_dir = self._log_dir = str(log_dir)
        handlers = [logging.FileHandler(log_dir / _log_name(rank, per_rank_logs), delay=True)
                    ] if rank == 0 or per_rank_logs else []
        self.logged = []
        self.logger = mock.Mock(info=self.logged.append, handlers=handlers)
        self.visualizer = mock.Mock()


def _out_hook(out_dir, keep_local: bool = True) -> LoggerHook:
    hook = LoggerHook(out_dir=str(out_dir), keep_local=keep_local)
    hook.file_backend = LocalBackend()  # what before_run sets for a local out_dir
    return hook


def _files(root) -> list:
    return sorted(str(path.relative_to(root)) for path in root.rglob('*') if path.is_file())


def _gathered(*per_rank):
    return mock.patch('mmengine.dist.all_gather_object', return_value=list(per_rank))


def test_mmengine_still_copies_the_log_folder_on_every_rank(tmp_path):
    runner = _FinishedRunner(_log_folder(tmp_path / 'log'), rank=1)
    with _as_rank(1):
        mmengine_logger_hook.upstream('after_run')(_out_hook(tmp_path / 'out'), runner)
    assert _files(tmp_path / 'out'), (
        'MMEngine no longer copies the log folder from ranks other than 0: remove '
        'after_run from mmcv_custom.compat.mmengine_logger_hook')


def test_rank_0_copies_the_folder_as_mmengine_does(tmp_path, installed):
    runner = _FinishedRunner(_log_folder(tmp_path / 'log'), rank=0)
    with _as_rank(0), _gathered(['run.log'], []):
        _out_hook(tmp_path / 'out').after_run(runner)
    assert _files(tmp_path / 'out') == ['run.log', 'vis_data/config.py', 'vis_data/scalars.json']
    assert (tmp_path / 'out' / 'run.log').read_text() == 'log of rank 0\n'
    assert _files(tmp_path / 'log') == _files(tmp_path / 'out')
    assert sorted(runner.logged) == [
        f"The file {tmp_path / 'log' / name} has been uploaded to {tmp_path / 'out' / name}."
        for name in _files(tmp_path / 'out')]
    runner.visualizer.close.assert_called_once()


@pytest.mark.parametrize('keep_local', [True, False])
def test_other_ranks_copy_and_delete_nothing_of_rank_0(tmp_path, installed, keep_local):
    runner = _FinishedRunner(_log_folder(tmp_path / 'log'), rank=1)
    with _as_rank(1), _gathered(['run.log'], []):
        _out_hook(tmp_path / 'out', keep_local).after_run(runner)
    assert not (tmp_path / 'out').exists()
    assert _files(tmp_path / 'log') == ['run.log', 'vis_data/config.py', 'vis_data/scalars.json']
    assert runner.logged == []
    runner.visualizer.close.assert_called_once()


def test_per_rank_logs_are_copied_and_deleted_by_their_own_rank(tmp_path, installed):
    log, out = _log_folder(tmp_path / 'log', per_rank_logs=True), tmp_path / 'out'
    gathered = _gathered(['run_device0_rank0.log'], ['run_device0_rank1.log'])
    with _as_rank(1), gathered:
        _out_hook(out, keep_local=False).after_run(_FinishedRunner(log, rank=1, per_rank_logs=True))
    assert _files(out) == ['run_device0_rank1.log']
    assert _files(log) == ['run_device0_rank0.log', 'vis_data/config.py', 'vis_data/scalars.json']
    with _as_rank(0), gathered:
        _out_hook(out, keep_local=False).after_run(_FinishedRunner(log, rank=0, per_rank_logs=True))
    assert _files(out) == ['run_device0_rank0.log', 'run_device0_rank1.log',
                           'vis_data/config.py', 'vis_data/scalars.json']
    assert (out / 'run_device0_rank1.log').read_text() == 'log of rank 1\n'
    assert _files(log) == []


def test_a_log_file_several_ranks_write_is_copied_and_deleted_by_the_lowest_of_them(
        tmp_path, installed):
    """``log_cfg=dict(distributed=True, file_handler_cfg=dict(filename=...))`` gives every rank
    the same file: rank 1 of 3 copies it once; rank 2 leaves it."""
    log, out = _log_folder(tmp_path / 'log', per_rank_logs=True), tmp_path / 'out'
    shared = ['run_device0_rank1.log']
    for rank in (2, 1):
        with _as_rank(rank), _gathered([], shared, shared):
            _out_hook(out, keep_local=False).after_run(_FinishedRunner(log, rank, True))
    assert _files(out) == shared
    assert 'run_device0_rank1.log' not in _files(log)


def test_a_log_file_on_another_drive_is_outside_the_folder():
    import ntpath
    with mock.patch.object(mmengine_logger_hook, 'osp', ntpath):
        assert not mmengine_logger_hook._inside('C:\\work\\log', 'D:\\x.log')
        assert mmengine_logger_hook._inside('C:\\work\\log', 'C:\\work\\log\\run.log')
