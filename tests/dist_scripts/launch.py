"""Run a script under ``torchrun`` (2 CPU processes, gloo) or plain Python, from the tests."""
import os
import os.path as osp
import socket
import subprocess
import sys
from typing import List, Optional

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SCRIPTS = osp.dirname(osp.abspath(__file__))
PYTHON = sys.executable


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def env(extra: Optional[dict] = None) -> dict:
    """The environment of a child run; ``PYTHONPATH`` in ``extra`` is prepended with ROOT."""
    extra = dict(extra or {})
    variables = dict(os.environ, OMP_NUM_THREADS='1', PYTHONHASHSEED='0',
                     CUBLAS_WORKSPACE_CONFIG=':4096:8')
    paths = [ROOT, extra.pop('PYTHONPATH', ''), variables.get('PYTHONPATH', '')]
    variables['PYTHONPATH'] = os.pathsep.join(p for p in paths if p)
    variables.update(extra)
    return variables


def torchrun_cmd(script: str, args: List[str], nproc: int = 2) -> List[str]:
    return [PYTHON, '-m', 'torch.distributed.run', f'--nproc_per_node={nproc}',
            f'--master_port={free_port()}', script, *args]


def run(cmd: List[str], timeout: float = 120, cwd: Optional[str] = None,
        env_extra: Optional[dict] = None) -> subprocess.CompletedProcess:
    """Run ``cmd``; its output is kept for the assertion message."""
    return subprocess.run(cmd, cwd=cwd or ROOT, env=env(env_extra), capture_output=True,
                          text=True, timeout=timeout)


def tail(result: subprocess.CompletedProcess, lines: int = 40) -> str:
    return '\n'.join((result.stdout + result.stderr).splitlines()[-lines:])
