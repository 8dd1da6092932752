"""The layer-decay plan of one model: made once from the settings and the model, then asked, for
each parameter, for its learning rate and weight decay (:meth:`Plan.assign`).

The formula, written once (:func:`lr_scale`). With ``L = num_layers``, a parameter with layer id
``k`` (the embeddings ``0``, block ``i`` ``i + 1``, everything above the blocks the head id
``L + 1``) gets::

    lr_scale = rate ** (L + 1 - k) [* below_base_factor] * recipe_mult * lr_mult
    lr       = base_lr * lr_scale

so the embeddings get ``base_lr * rate ** (L + 1)``, the last block ``base_lr * rate`` and the
heads ``base_lr``. ``below_base_factor`` multiplies every scale below 1 when the recipe's key
enables it (InternImage's ``backbone_small_lr``: 0.1); ``recipe_mult`` is the first of the
recipe's own multipliers that applies (InternImage's ``offset_lr_scale``, ``vit_wise``'s
``head_decay_rate``; 1 for most parameters) and tags the group; ``lr_mult`` is MMEngine's.

Weight decay, the first that applies (as in MMEngine's ``DefaultOptimWrapperConstructor``):

1. ``custom_keys``: the longest key contained in the name (ties: alphabetical); ``decay_mult``
   sets ``weight_decay = base * decay_mult`` (without it, rule 3 decides); its ``lr_mult``
   multiplies the lr and its other options go into the group;
2. MMEngine's multipliers (``_mmengine_keys``): the first of ``norm_decay_mult``,
   ``bias_decay_mult``, ``dwconv_decay_mult``, ``flat_decay_mult`` that matches sets
   ``weight_decay = base * mult``; ``bias_lr_mult`` and ``dcn_offset_lr_mult`` multiply the lr;
3. the recipe's weight-decay rule (``recipes._schema.WeightDecayRule``; most: 0 for 1-D
   parameters and biases, by the original shape), the names the model's ``no_weight_decay()``
   lists and, with ``exclude_tokens_from_decay``, tokens and position embeddings: 0; else the
   base weight decay.

(A recipe whose source keys its groups by layer id only, OmniDrive's, gives a group the lr of its
first member: ``_groups``.)
"""
from dataclasses import dataclass
from typing import Any, FrozenSet, List, Mapping, Optional, Tuple

from torch import nn

from ..config._optimizer import OptimizerSettings
from ..config._schema import Settings
from ..recipes._layout import LayerIdError, NameIndex, recognizes
from ..recipes._match import Candidates, select_rule
from ..recipes._model import model_rule, tokens_and_listed_names
from ..recipes._rule import RecipeRule
from ..recipes._schema import head_layer_id
from ._mmengine_keys import MMEngineMultipliers
from ._params import ModelParams, ParamInfo, check_params


def lr_scale(rate: float, layer_id: int, num_layers: int, below_base_factor: float = 1.0,
             recipe_mult: float = 1.0, lr_mult: float = 1.0) -> float:
    """``lr / base_lr`` of a parameter with layer id ``layer_id`` (the module's formula)."""
    scale = rate ** (head_layer_id(num_layers) - layer_id)
    if scale < 1:
        scale *= below_base_factor
    return scale * recipe_mult * lr_mult


class Assignment:
    """What the plan decides for one parameter. Parameters with equal ``key`` share a group;
    ``extras`` (options copied from ``custom_keys``) compare by ``repr``, since values from a
    config may be lists."""

    __slots__ = ('layer_id', 'lr_scale', 'decays', 'weight_decay', 'lr_mult', 'tag', 'extras',
                 'key')

    def __init__(self, layer_id: int, lr_scale: float, decays: bool, weight_decay: float,
                 lr_mult: float = 1.0, tag: str = '',
                 extras: Tuple[Tuple[str, Any], ...] = ()) -> None:
        self.layer_id, self.lr_scale, self.decays = layer_id, lr_scale, decays
        self.weight_decay, self.lr_mult, self.tag, self.extras = weight_decay, lr_mult, tag, extras
        self.key = (layer_id, decays, weight_decay, lr_mult, repr(extras) if extras else '',
                    lr_scale, tag)


@dataclass(frozen=True)
class NumLayers:
    """The ``num_layers`` in use and where it came from."""

    value: int
    inferred: Optional[int]
    given: bool


@dataclass(frozen=True)
class Plan:
    """How every parameter of one model gets its lr and weight decay: the settings, the
    recipe rule bound to the model, ``num_layers`` and every trainable parameter's layer id
    (``layer_ids[i]`` is that of ``params.trainable[i]``). Made by :func:`make_plan`."""

    owner: str
    settings: Settings
    optimizer: OptimizerSettings
    rule: RecipeRule
    num_layers: NumLayers
    layer_ids: Tuple[int, ...]
    #: Full names that get weight decay 0 whatever the rule (``exclude_tokens_from_decay``).
    no_decay_names: FrozenSet[str]
    #: ``custom_keys`` longest first (ties: alphabetical): the first contained in a name wins.
    custom_key_order: Tuple[str, ...]
    #: MMEngine's multiplier keys (None when the config sets none).
    mmengine: Optional[MMEngineMultipliers]
    #: The recipe's factor on scales below 1 (1.0 unless its key enables it).
    below_base_factor: float
    #: Without MMEngine keys and recipe multipliers a parameter's assignment depends only on its
    #: layer id and whether it is decayed: ``{layer_id: (decayed, not decayed)}``, made once.
    by_layer: Optional[Mapping[int, Tuple[Assignment, Assignment]]]
    warnings: Tuple[str, ...]
    #: What the report says besides the groups (the note on another recipe's reading).
    notes: Tuple[str, ...]

    def assign(self, param: ParamInfo, layer_id: int) -> Assignment:
        """The lr scale, weight decay and group tag of ``param`` (layer id ``layer_id``), by the
        formula and the weight-decay precedence of the module docstring."""
        if self.by_layer is not None:
            return self.by_layer[layer_id][self._no_decay(param)]
        settings, base_wd = self.settings, self.optimizer.base_wd
        decays, weight_decay, lr_mult, extras = True, base_wd, 1.0, ()
        key = next((k for k in self.custom_key_order if k in param.name), None)
        decay_mult = None
        if key is not None:
            options = dict(settings.custom_keys[key])
            lr_mult = options.pop('lr_mult', 1.0)
            decay_mult = options.pop('decay_mult', None)
            extras = tuple(sorted(options.items()))
        elif self.mmengine is not None:
            lr_mult, decay_mult = self.mmengine(param)
        if decay_mult is not None:
            decays, weight_decay = decay_mult > 0, base_wd * decay_mult
        elif self._no_decay(param):
            decays, weight_decay = False, 0.0
        recipe_mult, tag = self.rule.multiplier(param.name, layer_id, self.num_layers.value)
        scale = lr_scale(settings.rate, layer_id, self.num_layers.value, self.below_base_factor,
                         recipe_mult, lr_mult)
        return Assignment(layer_id, scale, decays, weight_decay, lr_mult, tag, extras)

    def _no_decay(self, param: ParamInfo) -> bool:
        return (self.rule.no_decay(param.name, len(param.shape))
                or param.name in self.no_decay_names)


def _num_layers(rule: RecipeRule, params: ModelParams, given: Optional[int],
                owner: str) -> Tuple[NumLayers, Tuple[int, ...]]:
    """``num_layers`` from the config or the model, and the layer id of every trainable name.
    ValueError when it is missing and cannot be inferred, or so small that some layer id lies
    above the head (its lr would exceed the base lr)."""
    inferred = rule.layers_in_names
    if given is None and inferred is None:
        raise ValueError(
            f'{owner}: paramwise_cfg.num_layers is not set and cannot be inferred: no parameter '
            f'name shows the block layout of the {rule.family} family. Set num_layers.')
    value = given if given is not None else inferred
    names = params.trainable_names
    layer_ids = tuple(rule.layer_id(name, value) for name in names)
    too_deep = next(((name, layer_id) for name, layer_id in zip(names, layer_ids)
                     if layer_id > head_layer_id(value)), None)
    if too_deep is not None:
        minimum = next(n for n in range(value + 1, value + 100_000)
                       if all(rule.layer_id(name, n) <= head_layer_id(n) for name in names))
        depth = f' (the model has {inferred} layers)' if inferred is not None else ''
        raise ValueError(
            f'{owner}: paramwise_cfg.num_layers={value} is too small for this model{depth}: '
            f'parameter {too_deep[0]!r} gets layer id {too_deep[1]} > num_layers + 1 = '
            f'{head_layer_id(value)}, so its lr would exceed the base lr. num_layers must be at '
            f'least {minimum}: set paramwise_cfg.num_layers={minimum} (or more).')
    return NumLayers(value, inferred, given is not None), layer_ids


def make_plan(candidates: Candidates, settings: Settings, optimizer: OptimizerSettings,
              params: ModelParams, model: nn.Module,
              no_decay_names: Optional[FrozenSet[str]] = None) -> Plan:
    """The plan for ``model``, whose parameters ``params`` are (``_params.collect_params``):
    the first of ``candidates`` that recognises the names (or the model's ``get_layer_depth``
    with ``layer_ids_from_model``), ``num_layers``, every layer id.

    ``no_decay_names``: full names with weight decay 0 (default: with
    ``exclude_tokens_from_decay``, tokens, position embeddings and what the model's and its
    backbone's ``no_weight_decay()`` list). ValueError naming the key or parameter for a model
    that cannot be planned (no trainable parameter, a shared one, an unrecognised layout,
    ``num_layers`` too small, ...).
    """
    owner = settings.owner
    check_params(params, settings.bypass_duplicate, owner)
    warnings: List[str] = []
    names = NameIndex(params.all_names)
    rule = (model_rule(model, settings.backbone_prefix, names, owner)
            if settings.layer_ids_from_model else
            select_rule(candidates, names, owner=owner, model=type(model).__name__,
                        prefix=settings.backbone_prefix, options=settings.recipe_options,
                        head_embeddings_at_layer_0=settings.head_embeddings_at_layer_0,
                        head_embeddings_given='head_embeddings_at_layer_0' in settings.given))
    try:
        num_layers, layer_ids = _num_layers(rule, params, settings.num_layers, owner)
    except LayerIdError as error:
        raise ValueError(f'{owner}: {error}') from None
    rule.check_layer_ids(params.all_names, num_layers.value, owner)
    if num_layers.given and num_layers.inferred not in (None, num_layers.value):
        warnings.append(
            f'{owner}: paramwise_cfg.num_layers={num_layers.value} differs from the depth of the '
            f'model ({num_layers.inferred} layers of the {rule.family} family); the layer-decay '
            'scales follow num_layers' + ('' if num_layers.value > num_layers.inferred else
                                          ', and the deepest blocks share the head id and lr'))
    if no_decay_names is None:
        no_decay_names = (tokens_and_listed_names(model, rule.prefix, params.trainable_names)
                          if settings.exclude_tokens_from_decay else frozenset())
    notes = ()
    if candidates.alternative is not None and not settings.layer_ids_from_model:
        other, note = candidates.alternative
        if rule.recipe is not other and recognizes(other, rule.prefix, names):
            notes = (note,)
    below = rule.recipe.below_base_factor
    below_base_factor = below[1] if below and settings.recipe_options[below[0]] else 1.0
    mmengine = (MMEngineMultipliers.of(settings, params.modules)
                if settings.mmengine_multipliers_given else None)
    by_layer = None
    if not settings.custom_keys and mmengine is None and not rule.recipe.multipliers:
        scales = {k: lr_scale(settings.rate, k, num_layers.value, below_base_factor)
                  for k in set(layer_ids)}
        by_layer = {k: (Assignment(k, scale, True, optimizer.base_wd),
                        Assignment(k, scale, False, 0.0)) for k, scale in scales.items()}
    return Plan(owner, settings, optimizer, rule, num_layers, layer_ids, no_decay_names,
                tuple(sorted(sorted(settings.custom_keys), key=len, reverse=True)), mmengine,
                below_base_factor, by_layer, tuple(warnings), notes)
