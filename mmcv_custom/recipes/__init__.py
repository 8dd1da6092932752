"""Published layer-decay recipes as data (``_published``, described by ``_schema``), the one
mechanism that applies a recipe to a name (``_rule``), how a recipe is chosen and bound to a
model (``_match``, asking the model's joined names in ``_layout``) and what is read from the
model itself (``_model``). Internal; ``RECIPES`` and ``LayerDecayRecipe`` (with
``BlockPattern``, ``LrMultiplier``, ``WeightDecayRule``) are public in ``mmcv_custom``."""
