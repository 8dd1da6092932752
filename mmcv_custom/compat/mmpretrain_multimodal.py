"""Let ``mmpretrain.models`` (and with it ``mmdet.models`` and ``mmseg.models``) import when a
transformers release with InternVL (>= 4.52) is installed.

mmpretrain 1.2.0 turns its multimodal models (BLIP, BLIP-2, Chinese-CLIP, CLIP, Flamingo, LLaVA,
MiniGPT-4, OFA, Otter, RAM) on whenever ``pycocotools`` and ``transformers>=4.28.0`` are installed
(``mmpretrain/utils/dependency.py``, ``WITH_MULTIMODAL``; pycocotools comes with mmdet). Those
modules import names that transformers has since removed from ``transformers.modeling_utils``
(``apply_chunking_to_forward``, ``find_pruneable_heads_and_indices``, ``prune_linear_layer``,
``GenerationMixin``), so with transformers 4.52.4, 4.57.6 and 5.23.0 (measured)
``import mmpretrain.models`` fails (``TypeError: NoneType takes no arguments`` in
``mmpretrain/models/multimodal/blip/language_model.py``; 4.52 also on ``GenerationMixin`` in
``ofa/ofa_modules.py``), and every mmdet / mmseg model import with it. No transformers release has
both ``InternVLVisionModel`` (added in 4.52) and those names.

The fix, the smallest that works: while ``mmpretrain/models/multimodal/__init__.py`` executes,
``WITH_MULTIMODAL`` reads False, so that file takes its own other branch and registers mmpretrain's
placeholders (``register_multimodal_placeholder``: building ``BlipCaption`` & co. raises an
ImportError that says what is missing). Nothing else changes: the flag is restored right after,
mmpretrain's multimodal datasets and tokenizers (which do import) stay as they are, and no module
of mmpretrain or transformers is imported by the fix itself. **What users lose**: mmpretrain's
multimodal models, which cannot be imported with these transformers releases anyway.

It applies only when all hold (read from package metadata, no import): mmpretrain <= 1.2.0 (the
newest release), transformers >= 4.52 and pycocotools installed. With an older transformers,
mmpretrain's own choice stands. :func:`install` (called on ``import mmcv_custom``) puts a finder
on ``sys.meta_path`` that acts only when ``mmpretrain.models.multimodal`` is first imported;
``tests/test_compat_mmpretrain_multimodal.py`` fails when upstream changes (mmpretrain fixed, or
the multimodal modules importing again), so this module is removed once it is not needed.
"""
import importlib.abc
import importlib.machinery
import sys
from importlib import metadata
from types import ModuleType
from typing import Any, List, Optional, Sequence, Tuple

__all__ = ['TARGET', 'FIRST_TRANSFORMERS_WITH_INTERNVL', 'LAST_AFFECTED_MMPRETRAIN',
           'needs_fix', 'install', 'uninstall', 'installed', 'applied']

#: The module whose import the fix changes.
TARGET = 'mmpretrain.models.multimodal'
#: transformers' first release with ``InternVLVisionModel``; every one since breaks mmpretrain.
FIRST_TRANSFORMERS_WITH_INTERNVL = (4, 52)
#: The newest mmpretrain release, whose multimodal modules need the removed names.
LAST_AFFECTED_MMPRETRAIN = (1, 2, 0)

#: Set when the fix changed the import (``(transformers version, mmpretrain version)``).
_APPLIED: List[Tuple[str, str]] = []


def _version(distribution: str) -> Optional[Tuple[int, ...]]:
    try:
        text = metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None
    numbers = []
    for part in text.split('.'):
        digits = ''.join(ch for ch in part if ch.isdigit()) if part[:1].isdigit() else ''
        if not digits:
            break
        numbers.append(int(digits))
    return tuple(numbers)


def needs_fix() -> bool:
    """Whether mmpretrain would turn its multimodal models on and they would fail to import:
    mmpretrain <= 1.2.0, transformers >= 4.52 and pycocotools installed."""
    mmpretrain = _version('mmpretrain')
    transformers = _version('transformers')
    return (mmpretrain is not None and mmpretrain <= LAST_AFFECTED_MMPRETRAIN
            and transformers is not None and transformers >= FIRST_TRANSFORMERS_WITH_INTERNVL
            and _version('pycocotools') is not None)


class _MultimodalOffLoader(importlib.abc.Loader):
    """Runs the real loader of :data:`TARGET` with ``WITH_MULTIMODAL`` reading False."""

    def __init__(self, loader: importlib.abc.Loader) -> None:
        self._loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> Optional[ModuleType]:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        from mmpretrain.utils import dependency
        saved = dependency.WITH_MULTIMODAL
        turn_off = bool(saved) and needs_fix()
        if turn_off:
            dependency.WITH_MULTIMODAL = False
        try:
            self._loader.exec_module(module)
        finally:
            dependency.WITH_MULTIMODAL = saved
        if turn_off:
            _APPLIED.append((metadata.version('transformers'), metadata.version('mmpretrain')))

    def __getattr__(self, name: str) -> Any:  # get_source, get_filename, is_package, ...
        return getattr(self._loader, name)


class _MultimodalFinder(importlib.abc.MetaPathFinder):
    """Finds :data:`TARGET` with the other finders and wraps its loader."""

    def find_spec(self, fullname: str, path: Optional[Sequence[str]],
                  target: Optional[ModuleType] = None) -> Optional[importlib.machinery.ModuleSpec]:
        if fullname != TARGET:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, 'find_spec'):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None:
                    spec.loader = _MultimodalOffLoader(spec.loader)
                return spec
        return None


def installed() -> bool:
    """Whether the finder is on ``sys.meta_path``."""
    return any(isinstance(finder, _MultimodalFinder) for finder in sys.meta_path)


def applied() -> List[Tuple[str, str]]:
    """``(transformers, mmpretrain)`` versions for each time the fix changed the import."""
    return list(_APPLIED)


def install() -> bool:
    """Put the finder first on ``sys.meta_path`` (idempotent); return whether it is there. It is
    not installed when :data:`TARGET` is already imported (nothing left to change)."""
    if TARGET in sys.modules:
        return installed()
    if not installed():
        sys.meta_path.insert(0, _MultimodalFinder())
    return True


def uninstall() -> None:
    """Remove the finder (for tests)."""
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _MultimodalFinder)]
