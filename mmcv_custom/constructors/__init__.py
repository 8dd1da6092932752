"""The two registered optimizer-wrapper constructors."""
from .custom_layer_decay import CustomLayerDecayOptimizerConstructor
from .lr_decay import LearningRateDecayOptimizerConstructor

__all__ = ['CustomLayerDecayOptimizerConstructor', 'LearningRateDecayOptimizerConstructor']
