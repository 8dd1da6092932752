"""The registered optimizer-wrapper constructors."""
from .custom_layer_decay import CustomLayerDecayOptimizerConstructor
from .layer_decay import LayerDecayOptimizerConstructor
from .lr_decay import LearningRateDecayOptimizerConstructor

__all__ = ['CustomLayerDecayOptimizerConstructor', 'LayerDecayOptimizerConstructor',
           'LearningRateDecayOptimizerConstructor']
