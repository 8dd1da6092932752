"""The registered optimizer-wrapper constructors (public in ``mmcv_custom``)."""
from ._custom_layer_decay import CustomLayerDecayOptimizerConstructor
from ._layer_decay import LayerDecayOptimizerConstructor
from ._learning_rate_decay import LearningRateDecayOptimizerConstructor

__all__ = ['CustomLayerDecayOptimizerConstructor', 'LayerDecayOptimizerConstructor',
           'LearningRateDecayOptimizerConstructor']
