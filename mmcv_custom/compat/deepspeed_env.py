"""DeepSpeed's environment for this project's processes: its op cache and build tool in the venv,
its accelerator named where there is no GPU.

- ``TORCH_EXTENSIONS_DIR``: DeepSpeed compiles its CPU communication op (``deepspeed_shm_comm``)
  with torch's extension builder, cached by default in ``~/.cache/torch_extensions``, one folder for
  every environment on the machine. The build flags hold the venv's path, so two checkouts with
  their own ``.venv`` rebuild it in turn (about 2-4 minutes on 2 cores each time). Inside a venv it
  is set to ``<venv>/torch_extensions`` (``tools/setup_env.sh`` builds the op there).
- ``PATH``: torch builds the op with the first ``ninja`` on ``PATH``, and a build directory written
  by one ninja release is rebuilt from scratch by another (measured: Debian's ninja 1.11 and the
  venv's pinned 1.13.0 rebuilt it in turn, 60-115 s each time, with identical ``build.ninja``
  files). Inside a venv its ``bin`` is put first on ``PATH``, as activating the venv does, so the
  set-up, the tools and the tests all build with the venv's ninja.
- ``DS_ACCELERATOR``: without it, DeepSpeed 0.19.6 detects its accelerator when imported (which
  ``mmengine.runner`` does) and, finding no CUDA device, prints ``[WARNING] Setting accelerator to
  CPU. If you have GPU or other accelerator, we were unable to detect it.`` to stdout on every run.
  Where ``torch.cuda.is_available()`` is False it is set to ``'cpu'``, the same accelerator named
  explicitly, so nothing is printed (DeepSpeed logs that choice at INFO, below its WARNING level).

A variable the user has set is never changed (``PATH`` is only prepended to, once).
``tools/train.py``, ``tools/test.py``, the set-up and the tests call :func:`configure` before
DeepSpeed can be imported.

Source: ``accelerator/real_accelerator.py`` (``get_accelerator``) of DeepSpeed 0.19.6.
"""
import os
import sys
from typing import Dict, MutableMapping, Optional

__all__ = ['extensions_dir', 'configure']


def extensions_dir() -> Optional[str]:
    """``<venv>/torch_extensions`` when Python runs in a virtual environment, else ``None``
    (a system Python keeps torch's default)."""
    if sys.prefix == sys.base_prefix:
        return None
    return os.path.join(sys.prefix, 'torch_extensions')


def configure(environ: Optional[MutableMapping[str, str]] = None) -> Dict[str, str]:
    """Set ``TORCH_EXTENSIONS_DIR`` and ``DS_ACCELERATOR`` in ``environ`` (default
    ``os.environ``) where they are unset, and put the venv's ``bin`` first on ``PATH``, as the
    module docstring says; return what was changed."""
    environ = os.environ if environ is None else environ
    changed: Dict[str, str] = {}
    directory = extensions_dir()
    if directory is not None and 'TORCH_EXTENSIONS_DIR' not in environ:
        changed['TORCH_EXTENSIONS_DIR'] = directory
    if directory is not None:
        bin_dir = os.path.join(sys.prefix, 'bin')
        path = environ.get('PATH') or os.defpath  # what an unset PATH means to a subprocess
        if os.path.normpath(path.split(os.pathsep)[0]) != bin_dir:
            changed['PATH'] = os.pathsep.join([bin_dir, path])
    if 'DS_ACCELERATOR' not in environ:
        import torch
        if not torch.cuda.is_available():
            changed['DS_ACCELERATOR'] = 'cpu'
    environ.update(changed)
    return changed
