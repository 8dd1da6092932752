import logging
import os

from mmcv_custom.compat import deepspeed_env

# Before anything imports DeepSpeed, here and in every process the tests start: its op cache in
# .venv, its CPU accelerator named (tools/train.py and tools/test.py do the same).
deepspeed_env.configure()

import pytest  # noqa: E402
from mmengine.logging import MMLogger  # noqa: E402
from mmengine.registry import DefaultScope  # noqa: E402

import mmcv_custom  # noqa: E402,F401  (registers the constructors)


@pytest.fixture
def no_default_scope():
    """Run with no current MMEngine default scope, restoring the global scope state after."""
    saved = dict(DefaultScope._instance_dict)
    DefaultScope._instance_dict.clear()
    try:
        yield
    finally:
        DefaultScope._instance_dict.clear()
        DefaultScope._instance_dict.update(saved)


class RecordCollector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records = []

    def emit(self, record: logging.LogRecord) -> None:
        if f'{os.sep}mmcv_custom{os.sep}' in record.pathname:
            self.records.append(record)

    def messages(self, level: int) -> list:
        return [r.getMessage() for r in self.records if r.levelno == level]


@pytest.fixture
def log_records():
    """Records that mmcv_custom emits through the current MMLogger while the test runs (every
    level; MMEngine's own DEBUG chatter is left out)."""
    logger = MMLogger.get_current_instance()
    collector = RecordCollector()
    old_level = logger.level
    logger.addHandler(collector)
    logger.setLevel(logging.DEBUG)
    try:
        yield collector
    finally:
        logger.removeHandler(collector)
        logger.setLevel(old_level)
