"""After custom_imports=['mmcv_custom'], the three bare names resolve to our classes under every
default scope, including mmdet's and mmseg's, which register classes of the same name
themselves."""
import pytest
from mmengine.optim import build_optim_wrapper
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS, DefaultScope

import mmcv_custom
from helpers import optim_cfg
from toy_models import toy_vit_segmentor

OURS = {
    'CustomLayerDecayOptimizerConstructor': mmcv_custom.CustomLayerDecayOptimizerConstructor,
    'LearningRateDecayOptimizerConstructor': mmcv_custom.LearningRateDecayOptimizerConstructor,
    # BEiT / EVA / ViT-Adapter / ViT-CoMer / mmseg BEiT & MAE / mmdet ViTDet configs' name; mmseg
    # registers its own class of this name, mmdet's core none (its ViTDet project does).
    'LayerDecayOptimizerConstructor': mmcv_custom.LayerDecayOptimizerConstructor,
}
RATE_KEY = {'CustomLayerDecayOptimizerConstructor': 'layer_decay_rate',
            'LearningRateDecayOptimizerConstructor': 'decay_rate',
            'LayerDecayOptimizerConstructor': 'layer_decay_rate'}
SCOPES = ['mmengine', 'mmseg', 'mmdet', 'mmpretrain']


@pytest.mark.parametrize('name', sorted(OURS))
@pytest.mark.parametrize('scope', SCOPES)
def test_bare_and_scoped_names_resolve_to_our_class(scope, name):
    with OPTIM_WRAPPER_CONSTRUCTORS.switch_scope_and_registry(scope) as registry:
        assert registry.get(name) is OURS[name]
        assert registry.get(f'mmcv_custom.{name}') is OURS[name]


def _build(name: str):
    model = toy_vit_segmentor(depth=2)
    return build_optim_wrapper(model, optim_cfg(name, {RATE_KEY[name.split('.')[-1]]: 0.9}))


@pytest.mark.parametrize('name', sorted(OURS) + [f'mmcv_custom.{n}' for n in sorted(OURS)])
@pytest.mark.parametrize('scope', SCOPES)
def test_build_optim_wrapper_uses_our_groups_under_every_scope(scope, name):
    with DefaultScope.overwrite_default_scope(scope):
        groups = _build(name).optimizer.param_groups
    assert [g['group_name'] for g in groups][:2] == ['layer_0_decay', 'layer_0_no_decay']
    assert all('layer_id' in g for g in groups)


@pytest.mark.parametrize('name', sorted(OURS))
def test_build_optim_wrapper_without_a_default_scope(no_default_scope, name):
    assert DefaultScope.get_current_instance() is None
    groups = _build(name).optimizer.param_groups
    assert all('layer_id' in g for g in groups)


def test_replacing_a_peer_class_is_reported_once(log_records):
    from mmcv_custom.registry import _OVERRIDES, scope_override_note
    with OPTIM_WRAPPER_CONSTRUCTORS.switch_scope_and_registry('mmdet') as registry:
        registry.get('LearningRateDecayOptimizerConstructor')
    replaced = [entry for entry in _OVERRIDES if entry[0] == 'mmdet']
    assert replaced == [('mmdet', 'LearningRateDecayOptimizerConstructor',
                         'mmdet.engine.optimizers.layer_decay_optimizer_constructor.'
                         'LearningRateDecayOptimizerConstructor')]
    scope_override_note()  # whatever earlier tests left unreported
    assert scope_override_note() == ''


def test_mmseg_layer_decay_class_is_replaced_in_its_scope():
    from mmcv_custom.registry import _OVERRIDES
    with OPTIM_WRAPPER_CONSTRUCTORS.switch_scope_and_registry('mmseg') as registry:
        assert registry.get('LayerDecayOptimizerConstructor') is \
            mmcv_custom.LayerDecayOptimizerConstructor
    assert ('mmseg', 'LayerDecayOptimizerConstructor',
            'mmseg.engine.optimizers.layer_decay_optimizer_constructor.'
            'LayerDecayOptimizerConstructor') in _OVERRIDES


@pytest.mark.parametrize('scope', SCOPES)
def test_the_scoped_polylrratio_is_ours_in_every_scope(scope):
    """mmseg registers a PolyLRRatio of its own (no eta_min); the README names ours with the
    mmcv_custom scope, which works under every default scope."""
    from mmengine.registry import PARAM_SCHEDULERS
    with PARAM_SCHEDULERS.switch_scope_and_registry(scope) as registry:
        assert registry.get('mmcv_custom.PolyLRRatio') is mmcv_custom.PolyLRRatio
