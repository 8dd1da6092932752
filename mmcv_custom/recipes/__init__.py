"""Published layer-decay recipes as data (``_published``, described by ``_schema``), the one
mechanism that applies a recipe to a name (``_rule``), how a recipe is chosen and bound to a
model (``_match``) and what is read from the model itself (``_model``). Internal; ``RECIPES``
and ``LayerDecayRecipe`` are public in ``mmcv_custom``."""
