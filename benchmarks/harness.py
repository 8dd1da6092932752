"""Measuring tools: interleaved timing rounds, log counting, console silencing, RSS, machine."""
import contextlib
import gc
import logging
import os
import platform
import statistics
import subprocess
import time
from typing import Callable, Dict, Iterator, List, Mapping, Sequence


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def median_ratio(numerators: Sequence[float], denominators: Sequence[float]) -> float:
    """The median over rounds of ``numerator / denominator`` taken round by round."""
    return statistics.median(a / b for a, b in zip(numerators, denominators))


def _timed_call(fn: Callable[[], object]) -> float:
    """Seconds one call of ``fn`` takes, with the garbage collector collected before and paused
    during the call (as ``timeit`` does), so no candidate pays for another's garbage."""
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        fn()
        return time.perf_counter() - start
    finally:
        gc.enable()


def interleaved_ms(candidates: Mapping[str, Callable[[], object]], rounds: int,
                   warmup: int) -> Dict[str, List[float]]:
    """Milliseconds per call of each candidate over ``rounds`` rounds (after ``warmup`` untimed
    ones). Every round runs every candidate once, starting one further along each round, so the
    candidates see the same machine load and no one always runs first."""
    names = list(candidates)
    times: Dict[str, List[float]] = {name: [] for name in names}
    gc.collect()
    gc.freeze()  # what exists now is never garbage: the per-call collections skip it
    try:
        for round_index in range(warmup + rounds):
            shift = round_index % len(names)
            for name in names[shift:] + names[:shift]:
                seconds = _timed_call(candidates[name])
                if round_index >= warmup:
                    times[name].append(seconds * 1e3)
    finally:
        gc.unfreeze()
    return times


class LogCounter(logging.Handler):
    """Counts the records (and their lines and UTF-8 bytes) that reach a logger at INFO or above."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records = 0
        self.lines = 0
        self.bytes = 0

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        self.records += 1
        self.lines += message.count('\n') + 1
        self.bytes += len(message.encode('utf-8'))

    def as_dict(self) -> Dict[str, int]:
        return dict(records=self.records, lines=self.lines, bytes=self.bytes)


@contextlib.contextmanager
def counting_logs(logger: logging.Logger) -> Iterator[LogCounter]:
    counter = LogCounter()
    logger.addHandler(counter)
    try:
        yield counter
    finally:
        logger.removeHandler(counter)


class PrintCounter:
    """A stand-in for ``sys.stdout`` that counts the lines and UTF-8 bytes written to it.

    mmseg's constructor reports through ``print_log(msg)`` without a logger, which is ``print``.
    """

    def __init__(self) -> None:
        self.lines = 0
        self.bytes = 0

    def write(self, text: str) -> int:
        self.lines += text.count('\n')
        self.bytes += len(text.encode('utf-8'))
        return len(text)

    def flush(self) -> None:
        pass


@contextlib.contextmanager
def counting_prints() -> Iterator[PrintCounter]:
    counter = PrintCounter()
    with contextlib.redirect_stdout(counter):
        yield counter


@contextlib.contextmanager
def silenced_console(logger: logging.Logger) -> Iterator[None]:
    """Point the logger's console handlers and ``sys.stdout`` at ``os.devnull``: messages are
    still formatted and written (the peers pay for their logging), but nothing reaches the
    terminal."""
    handlers = [handler for handler in logger.handlers
                if isinstance(handler, logging.StreamHandler)
                and not isinstance(handler, logging.FileHandler)]
    with open(os.devnull, 'w') as devnull, contextlib.redirect_stdout(devnull):
        old_streams = [handler.setStream(devnull) for handler in handlers]
        try:
            yield
        finally:
            for handler, stream in zip(handlers, old_streams):
                handler.setStream(stream)


def _status_kib(field: str) -> int:
    with open('/proc/self/status') as status:
        for line in status:
            if line.startswith(field + ':'):
                return int(line.split()[1])
    raise RuntimeError(f'/proc/self/status has no {field}')


def rss_mib() -> float:
    """The resident set size now, in MiB."""
    return _status_kib('VmRSS') / 1024


def peak_rss_mib() -> float:
    """The resident set size's high-water mark (since the last ``reset_peak_rss``), in MiB."""
    return _status_kib('VmHWM') / 1024


def reset_peak_rss() -> None:
    """Reset the high-water mark to the current RSS (Linux >= 4.0: ``/proc/self/clear_refs``)."""
    with open('/proc/self/clear_refs', 'w') as clear_refs:
        clear_refs.write('5')


def _cpu_model() -> str:
    try:
        output = subprocess.run(['lscpu'], capture_output=True, text=True, check=True).stdout
        for line in output.splitlines():
            if line.startswith('Model name:'):
                return line.split(':', 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    with open('/proc/cpuinfo') as cpuinfo:
        for line in cpuinfo:
            if line.startswith('model name'):
                return line.split(':', 1)[1].strip()
    return 'unknown'


def machine_facts() -> Dict[str, object]:
    """What the numbers depend on: CPU, cores, thread count, load, versions."""
    import mmdet
    import mmengine
    import mmpretrain
    import mmseg
    import torch
    import mmcv_custom
    return {
        'cpu_model': _cpu_model(),
        'nproc': len(os.sched_getaffinity(0)),
        'cpu_count': os.cpu_count(),
        'torch_threads': torch.get_num_threads(),
        'load_average': [round(load, 2) for load in os.getloadavg()],
        'platform': platform.platform(),
        'python': platform.python_version(),
        'versions': {'torch': torch.__version__, 'mmengine': mmengine.__version__,
                     'mmdet': mmdet.__version__, 'mmseg': mmseg.__version__,
                     'mmpretrain': mmpretrain.__version__,
                     'mmcv_custom': mmcv_custom.__version__},
    }
