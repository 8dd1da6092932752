"""``mmcv_custom.compat.mmpretrain_multimodal``: with transformers (>= 4.52) installed, importing
mmcv_custom first lets ``mmpretrain.models``, ``mmdet.models`` and ``mmseg.models`` import.

``test_upstream_still_fails_without_the_fix`` fails when mmpretrain or transformers change so
that the multimodal models import again: then the fix is to be removed."""
import os
import subprocess
import sys
from importlib import metadata

import pytest

from mmcv_custom.compat import mmpretrain_multimodal as fix


def test_upstream_still_fails_without_the_fix():
    code = 'import mmpretrain.models'
    done = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                          timeout=300, env=dict(os.environ, OMP_NUM_THREADS='1'))
    assert done.returncode != 0, 'mmpretrain.models imports without the fix: remove it'
    assert 'TypeError: NoneType takes no arguments' in done.stderr
    assert 'mmpretrain/models/multimodal/blip/language_model.py' in done.stderr


def test_the_pinned_versions_are_the_ones_the_fix_is_for():
    assert metadata.version('mmpretrain') == '1.2.0'
    assert tuple(int(p) for p in metadata.version('transformers').split('.')[:2]) >= (4, 52)
    assert fix.needs_fix()


def test_with_mmcv_custom_imported_first_the_whole_stack_imports():
    import mmdet.models  # noqa: F401
    import mmpretrain.datasets  # noqa: F401
    import mmpretrain.models  # noqa: F401
    import mmseg.models  # noqa: F401
    from mmpretrain.registry import DATASETS, MODELS
    from mmpretrain.utils import dependency
    assert fix.installed()
    assert fix.applied() == [(metadata.version('transformers'), '1.2.0')]
    # only the multimodal models' import saw the flag off; mmpretrain's own value is back
    assert dependency.WITH_MULTIMODAL is True
    assert 'COCOCaption' in DATASETS.module_dict  # multimodal datasets stay registered
    # what users lose: mmpretrain's placeholder, which raises ImportError when built
    with pytest.raises(ImportError, match='requires extra multi-modal dependencies'):
        MODELS.build(dict(type='BlipCaption'))


@pytest.mark.parametrize('versions, needed', [
    (dict(mmpretrain=(1, 2, 0), transformers=(4, 57, 6), pycocotools=(2, 0)), True),
    (dict(mmpretrain=(1, 2, 0), transformers=(4, 52, 0), pycocotools=(2, 0)), True),
    (dict(mmpretrain=(1, 2, 0), transformers=(5, 23, 0), pycocotools=(2, 0)), True),
    (dict(mmpretrain=(1, 2, 0), transformers=(4, 51, 3), pycocotools=(2, 0)), False),
    (dict(mmpretrain=(1, 2, 0), transformers=None, pycocotools=(2, 0)), False),
    (dict(mmpretrain=(1, 2, 0), transformers=(4, 57, 6), pycocotools=None), False),
    (dict(mmpretrain=(1, 3, 0), transformers=(4, 57, 6), pycocotools=(2, 0)), False),
    (dict(mmpretrain=None, transformers=(4, 57, 6), pycocotools=(2, 0)), False),
])
def test_the_fix_applies_only_where_mmpretrain_would_fail(monkeypatch, versions, needed):
    monkeypatch.setattr(fix, '_version', lambda name: versions[name])
    assert fix.needs_fix() is needed


def test_install_is_idempotent_and_leaves_an_imported_module_alone(monkeypatch):
    before = list(sys.meta_path)
    assert fix.install() is True
    assert sys.meta_path == before  # already installed by import mmcv_custom
    monkeypatch.setattr(sys, 'meta_path', [f for f in sys.meta_path
                                           if not isinstance(f, fix._MultimodalFinder)])
    monkeypatch.setitem(sys.modules, fix.TARGET, sys.modules.get(fix.TARGET, object()))
    assert fix.install() is False and not fix.installed()


def test_every_config_imports_mmcv_custom_before_mmpretrain_models():
    """A config read by mmseg's / mmdet's own tools imports its custom_imports in order; with
    transformers installed, mmpretrain.models first would fail before the fix is installed."""
    from pathlib import Path

    from mmengine.config import Config
    configs = sorted((Path(__file__).resolve().parents[1] / 'configs').rglob('*.py'))
    checked = 0
    for path in configs:
        if '_base_' in path.parts:
            continue
        imports = list((Config.fromfile(str(path)).get('custom_imports') or {}).get('imports', []))
        if 'mmpretrain.models' in imports:
            assert imports.index('mmcv_custom') < imports.index('mmpretrain.models'), path.name
            checked += 1
    assert checked >= 5
