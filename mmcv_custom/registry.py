"""mmcv_custom's place in MMEngine's registry tree, and how its names win in every scope.

(Named ``registry`` rather than private: MMEngine imports ``<scope>.registry`` when a config
names ``'mmcv_custom.<Name>'``, as it does for every OpenMMLab package.)

A bare constructor name in a config is looked up in the registry of the current default scope
first, then in its parents up to MMEngine's root. mmdet and mmseg register their own
``LearningRateDecayOptimizerConstructor`` in their child registries, so a registration in the root
alone would be shadowed under ``default_scope='mmdet'`` or ``'mmseg'``.

So ``register_constructors`` registers our classes

1. in MMEngine's root registry (found from the ``mmengine`` and ``mmpretrain`` scopes, or none);
2. in our own child registry, scope ``mmcv_custom`` (so ``'mmcv_custom.<Name>'`` works);
3. in every other scope's registry that has a class of the same name, *after* that registry has
   imported its own modules: each child registry of the root, present or created later, is told to
   re-claim our names right after its lazy ``import_from_location``. Their own classes are never
   imported by us; the replacement is recorded and reported once per process.
"""
from typing import Dict, List, Tuple, Type

from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS as ROOT_OPTIM_WRAPPER_CONSTRUCTORS
from mmengine.registry import PARAM_SCHEDULERS as ROOT_PARAM_SCHEDULERS
from mmengine.registry import Registry

#: ``mmcv_custom``'s constructor registry: exactly the layer-decay constructors.
OPTIM_WRAPPER_CONSTRUCTORS = Registry('optimizer wrapper constructor',
                                      parent=ROOT_OPTIM_WRAPPER_CONSTRUCTORS, scope='mmcv_custom',
                                      locations=['mmcv_custom.constructors'])
#: ``mmcv_custom``'s param-scheduler registry (``'mmcv_custom.PolyLRRatio'`` in configs).
PARAM_SCHEDULERS = Registry('parameter scheduler', parent=ROOT_PARAM_SCHEDULERS,
                            scope='mmcv_custom', locations=['mmcv_custom.schedulers'])

_OURS: Dict[str, Type] = {}
#: ``(scope, name, replaced class path)`` for every replacement made in another scope.
_OVERRIDES: List[Tuple[str, str, str]] = []
_REPORTED: set = set()


def _claim(registry: Registry) -> None:
    """Point our names in ``registry`` at our classes where it registered its own."""
    for name, ours in _OURS.items():
        theirs = registry.module_dict.get(name)
        if theirs is not None and theirs is not ours:
            registry.register_module(name=name, module=ours, force=True)
            _OVERRIDES.append((registry.scope, name, f'{theirs.__module__}.{theirs.__qualname__}'))


def _claim_after_import(registry: Registry) -> None:
    if registry is OPTIM_WRAPPER_CONSTRUCTORS or getattr(registry, '_mmcv_custom_claims', False):
        return
    import_from_location = registry.import_from_location

    def import_then_claim() -> None:
        import_from_location()
        _claim(registry)

    registry.import_from_location = import_then_claim
    registry._mmcv_custom_claims = True
    if registry._imported:
        _claim(registry)


class _ClaimingChildren(dict):
    """The root registry's children: a child added later is claimed like the present ones."""

    def __setitem__(self, scope: str, registry: Registry) -> None:
        super().__setitem__(scope, registry)
        _claim_after_import(registry)


def register_constructors(*classes: Type) -> None:
    """Register ``classes`` under their names in the root, in ``mmcv_custom``, and over every
    other scope's class of the same name."""
    for cls in classes:
        _OURS[cls.__name__] = cls
        ROOT_OPTIM_WRAPPER_CONSTRUCTORS.register_module(module=cls, force=True)
        OPTIM_WRAPPER_CONSTRUCTORS.register_module(module=cls, force=True)
    root = ROOT_OPTIM_WRAPPER_CONSTRUCTORS
    if not isinstance(root._children, _ClaimingChildren):
        root._children = _ClaimingChildren(root._children)
    for registry in list(root._children.values()):
        _claim_after_import(registry)


def scope_override_note() -> str:
    """A line for the report on replacements not yet reported in this process ('' if none)."""
    new = [entry for entry in _OVERRIDES if entry not in _REPORTED]
    _REPORTED.update(new)
    return '; '.join(
        f'in scope {scope!r}, {name!r} resolves to mmcv_custom.{name} (replacing {replaced}, '
        'so the same config gives the same groups under every default scope)'
        for scope, name, replaced in new)
