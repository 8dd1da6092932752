"""paramwise_cfg is validated completely when a constructor is built, before any model."""
import copy

import pytest

from mmcv_custom import (CustomLayerDecayOptimizerConstructor,
                         LearningRateDecayOptimizerConstructor)
from helpers import build_groups
from toy_models import toy_vit_segmentor

WRAPPER = dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05))


def test_the_callers_dicts_are_never_changed():
    wrapper, paramwise = copy.deepcopy(WRAPPER), dict(
        layer_decay_rate=0.9, custom_keys={'attn': dict(lr_mult=0.1)})
    before = (copy.deepcopy(wrapper), copy.deepcopy(paramwise))
    constructor = CustomLayerDecayOptimizerConstructor(wrapper, paramwise)
    constructor(toy_vit_segmentor(depth=2))
    assert (wrapper, paramwise) == before


@pytest.mark.parametrize('cls,paramwise,unknown,hint', [
    (CustomLayerDecayOptimizerConstructor, dict(decay_rate=0.9), 'decay_rate', 'layer_decay_rate'),
    (LearningRateDecayOptimizerConstructor, dict(layer_decay_rate=0.9), 'layer_decay_rate',
     'decay_rate'),
    (LearningRateDecayOptimizerConstructor, dict(decay_rate=0.9, num_layer=6), 'num_layer',
     'num_layers'),
    (LearningRateDecayOptimizerConstructor, dict(decay_rate=0.9, decay_typ='stage_wise'),
     'decay_typ', 'decay_type'),
])
def test_unknown_keys_name_the_likely_key_and_list_the_known_ones(cls, paramwise, unknown, hint):
    with pytest.raises(KeyError, match=rf"unknown paramwise_cfg key '{unknown}'\. Did you mean "
                                       rf"'{hint}'\? Known keys: \["):
        cls(WRAPPER, paramwise)


@pytest.mark.parametrize('cls', [CustomLayerDecayOptimizerConstructor,
                                 LearningRateDecayOptimizerConstructor])
@pytest.mark.parametrize('paramwise', [None, {}])
def test_missing_rate_or_no_paramwise_cfg_is_an_error_not_silently_no_decay(cls, paramwise):
    with pytest.raises(KeyError, match=r'paramwise_cfg\.(layer_)?decay_rate is required.*without '
                                       r'it no layer decay is applied'):
        cls(WRAPPER, paramwise)


def test_validation_happens_before_the_model_is_touched():
    with pytest.raises(ValueError, match=r'paramwise_cfg.layer_decay_rate must be in \(0, 1\], '
                                         r'got 1.5'):
        CustomLayerDecayOptimizerConstructor(WRAPPER, dict(layer_decay_rate=1.5))


def test_a_rate_of_one_means_no_decay():
    groups = build_groups(toy_vit_segmentor(depth=2), 'CustomLayerDecayOptimizerConstructor',
                          dict(layer_decay_rate=1))
    assert {g['lr'] for g in groups} == {1e-3}
