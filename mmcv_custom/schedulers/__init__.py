"""Learning-rate schedulers for layer-decay runs (public in ``mmcv_custom``): ``PolyLRRatio``
(a poly floor per group) and ``LrUpdaterLR`` (mmcv 1.x's ``lr_config`` rule in closed form)."""
from ._lr_updater import LrUpdaterLR
from ._poly_ratio import PolyLRRatio

__all__ = ['PolyLRRatio', 'LrUpdaterLR']
