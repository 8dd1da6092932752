"""``mmcv_custom.compat.mmengine_logger_hook``: the test metrics file is written by rank 0 only.

MMEngine 0.10.7 writes ``<work_dir>/<timestamp>/<timestamp>.json`` from every rank, which left a
corrupted file (``JSONDecodeError: Extra data``) after ``tools/dist_test.sh CFG CKPT 2``. The first
test fails once MMEngine stops writing from other ranks, so the fix is removed then; the 2-process
run it protects is ``test_test_tool.py::test_dist_test_sh_on_two_cpu_processes_gets_the_same_miou``.
"""
import json
from unittest import mock

import pytest
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


def _as_rank(rank: int):
    return mock.patch('mmengine.dist.utils.get_rank', return_value=rank)


def test_mmengine_still_writes_the_test_metrics_on_every_rank(tmp_path):
    upstream = mmengine_logger_hook.upstream_after_test_epoch()
    with _as_rank(1):
        upstream(_hook(), _Runner(str(tmp_path)))
    assert (tmp_path / '20261202_000000.json').exists(), (
        'MMEngine no longer writes the test metrics from ranks other than 0: remove '
        'mmcv_custom.compat.mmengine_logger_hook')


@pytest.fixture
def installed():
    before = LoggerHook.__dict__['after_test_epoch']
    mmengine_logger_hook.install()
    yield
    LoggerHook.after_test_epoch = before


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


def test_install_is_idempotent_and_keeps_mmengines_method(installed):
    assert LoggerHook.after_test_epoch is mmengine_logger_hook.after_test_epoch
    assert mmengine_logger_hook.install() is False
    assert mmengine_logger_hook.upstream_after_test_epoch() is not \
        mmengine_logger_hook.after_test_epoch
