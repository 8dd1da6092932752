"""Fixes for upstream incompatibilities, each in one small module with a test that fails when
upstream changes (so the fix is removed when it is no longer needed).

- :mod:`~mmcv_custom.compat.checkpoint_loading`: MMEngine's checkpoints load with torch's
  ``weights_only=True`` (resume under torch >= 2.6);
- :mod:`~mmcv_custom.compat.mmengine_fsdp`: MMEngine 0.10.7's FSDP resume under torch >= 2.1;
- :mod:`~mmcv_custom.compat.mmengine_logger_hook`: the test metrics file, and the copy of the log
  folder to ``out_dir``, are written by one rank each (MMEngine 0.10.7 writes them from every
  rank).

``import mmcv_custom`` installs none of them. They are installed where they are needed:

- by ``tools/train.py`` and ``tools/test.py`` (all of them, before the runner is built);
- by the layer-decay constructors when they build an optimizer inside a training run (the two
  fixes resume needs: checkpoint loading and FSDP resume, each once the MMEngine module it fixes
  has been imported, as a runner does), so a run started by mmseg's or mmdet's own
  ``tools/train.py`` resumes too, while building an optimizer outside a runner (the inspector, a
  test) imports nothing more;
- by :func:`install` (all of them), for scripts of one's own;
- by listing ``'mmcv_custom.compat.install_all'`` in a config's ``custom_imports`` (all of them),
  for upstream tools that build no layer-decay optimizer (mmseg's ``tools/test.py``, say).
"""
import sys
from typing import Dict, Iterable, List

__all__ = ['FIXES', 'TRAINING_FIXES', 'install', 'install_training_fixes']

#: Every fix, by module name, in the order :func:`install` applies them.
FIXES = ('checkpoint_loading', 'mmengine_fsdp', 'mmengine_logger_hook')
#: The fixes a training run needs once its optimizer is built (resume), each with the MMEngine
#: module it fixes.
TRAINING_FIXES: Dict[str, str] = {'checkpoint_loading': 'mmengine.runner.checkpoint',
                                  'mmengine_fsdp': 'mmengine._strategy.fsdp'}


def _install(names: Iterable[str]) -> List[str]:
    import importlib
    installed = []
    for name in names:
        module = importlib.import_module(f'{__name__}.{name}')
        if module.install() is not False:
            installed.append(name)
    return installed


def install() -> List[str]:
    """Install every fix (idempotent); return the names of those that changed something now
    (:data:`FIXES` order; ``checkpoint_loading`` re-registers its loader every time)."""
    return _install(FIXES)


def install_training_fixes() -> List[str]:
    """Install the fixes of :data:`TRAINING_FIXES` whose MMEngine module is imported (so a
    runner is in use; see :func:`install`)."""
    return _install([name for name, upstream in TRAINING_FIXES.items()
                     if upstream in sys.modules])
