"""Where mmcv_custom's models are registered, and why a bare ``type='InternViT'`` builds in every
scope.

A bare name in a config is looked up in the registry of the current default scope, then in its
parents up to MMEngine's root ``MODELS`` (``mmengine/registry/registry.py``, ``Registry.get``).
mmseg's, mmdet's and mmpretrain's ``MODELS`` are children of the root, so a class registered in
the root is found under ``default_scope`` ``'mmseg'``, ``'mmdet'`` and ``'mmpretrain'`` (and with
none) as long as that scope registers no class of the same name; :func:`register_model` refuses a
name a scope already holds when it registers (and ``tests/test_internvit.py`` checks the three
scopes after they import their models). ``'mmcv_custom.<Name>'`` goes to :data:`MODELS`, our child
registry of the root.
"""
from typing import Type

from mmengine.registry import MODELS as ROOT_MODELS
from mmengine.registry import Registry

__all__ = ['MODELS', 'register_model']

#: mmcv_custom's own model registry (scope ``mmcv_custom``), a child of MMEngine's root ``MODELS``.
MODELS = Registry('model', parent=ROOT_MODELS, scope='mmcv_custom',
                  locations=['mmcv_custom.models'])


def _path(cls: Type) -> str:
    return f'{cls.__module__}.{cls.__qualname__}'


def register_model(cls: Type) -> Type:
    """Register ``cls`` under its class name in MMEngine's root ``MODELS`` and in :data:`MODELS`.

    Raises KeyError when the root already holds another class of that name (a second class would
    silently replace it for every scope)."""
    for registry in (ROOT_MODELS, MODELS):
        existing = registry.module_dict.get(cls.__name__)
        if existing is not None and _path(existing) != _path(cls):
            raise KeyError(
                f'{cls.__name__!r} is already registered in the {registry.scope!r} MODELS registry '
                f'by {_path(existing)}; mmcv_custom will not replace '
                'it (rename one of the two classes)')
        registry.register_module(module=cls, force=True)
    return cls
