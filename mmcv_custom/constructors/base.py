"""What both layer-decay constructors share: config checks, the call into the engine, the report."""
import difflib
import inspect
import math
import numbers
from typing import Any, ClassVar, Dict, List, Mapping, Optional, Sequence, Tuple

import torch
from mmengine.optim import DefaultOptimWrapperConstructor, OptimWrapper
from mmengine.registry import OPTIMIZERS
from torch import nn

from ..engine import LayerDecayResult, ParamwiseSchema, build_layer_decay_groups, log_param_groups
from ..engine.config import MissingKeyError, UnknownKeyError
from ..engine.params import ModelParams
from ..engine.resume_check import install_resume_check
from ..engine.zero_groups import keep_zero_param_names
from ..layer_ids import (RECIPE_KEYS, RECIPES, LayerDecayRecipe, LayerIdRule, ModelLayerDepth,
                         compile_recipe, head_layer_id, find_layer_depth_fn, no_weight_decay_names, select_rule)
from ..layer_ids.select import UnrecognisedLayoutError
from ..layer_ids.model_facts import backbone_module, model_backbone_prefix
from ..registry import scope_override_note


def check_optimizer_cfg(owner: str, optim_wrapper_cfg: Any) -> dict:
    """The ``optimizer`` dict of ``optim_wrapper_cfg``, with ``type`` and a positive ``lr``."""
    if not isinstance(optim_wrapper_cfg, dict):
        raise TypeError(f'{owner}: optim_wrapper_cfg must be a dict, got '
                        f'{type(optim_wrapper_cfg).__name__}')
    if 'optimizer' not in optim_wrapper_cfg:
        raise MissingKeyError(f'{owner}: optim_wrapper.optimizer is required, e.g. '
                              "dict(type='AdamW', lr=1e-4, weight_decay=0.05)")
    optimizer = optim_wrapper_cfg['optimizer']
    if not isinstance(optimizer, dict):
        raise TypeError(f'{owner}: optim_wrapper.optimizer must be a dict, got '
                        f'{type(optimizer).__name__}')
    if 'type' not in optimizer:
        raise MissingKeyError(f"{owner}: optim_wrapper.optimizer.type is required, e.g. 'AdamW'")
    if 'lr' not in optimizer:
        raise MissingKeyError(f'{owner}: optim_wrapper.optimizer.lr is required: every group\'s '
                              'lr is the base lr times its layer-decay scale')
    for key, low_ok in (('lr', False), ('weight_decay', True)):
        if key == 'weight_decay' and key not in optimizer:
            continue
        value = optimizer[key]
        if not isinstance(value, numbers.Real) or isinstance(value, bool):
            omit = (' (omit it to use the optimizer\'s default)' if key == 'weight_decay' else '')
            raise TypeError(f'{owner}: optim_wrapper.optimizer.{key} must be a number{omit}, '
                            f'got {value!r}')
        if not math.isfinite(value):
            raise ValueError(f'{owner}: optim_wrapper.optimizer.{key} must be a finite number, '
                             f'got {value!r}')
        if value < 0 or (value == 0 and not low_ok):
            expected = '>= 0' if low_ok else '> 0'
            raise ValueError(f'{owner}: optim_wrapper.optimizer.{key} must be {expected}, '
                             f'got {value!r}')
    return optimizer


def optimizer_default_weight_decay(optimizer_cfg: dict) -> float:
    """The weight decay the optimizer applies when the config gives none (AdamW: 0.01, SGD: 0).

    ``ZeroRedundancyOptimizer`` configs name the wrapped optimizer in ``optimizer_type``.
    """
    if 'optimizer_type' in optimizer_cfg:
        optimizer_cls = getattr(torch.optim, str(optimizer_cfg['optimizer_type']), None)
    elif isinstance(optimizer_cfg['type'], str):
        with OPTIMIZERS.switch_scope_and_registry(None) as registry:
            optimizer_cls = registry.get(optimizer_cfg['type'])
    else:
        optimizer_cls = optimizer_cfg['type']
    if optimizer_cls is None:
        raise KeyError(f"optim_wrapper.optimizer.type={optimizer_cfg['type']!r} is not a "
                       'registered optimizer')
    parameter = inspect.signature(optimizer_cls).parameters.get('weight_decay')
    default = None if parameter is None else parameter.default
    if isinstance(default, numbers.Real) and not isinstance(default, bool):
        return float(default)
    return 0.0


#: Where a recipe key belongs, said when it reaches a constructor that ignores it.
RECIPE_KEY_HOMES: Dict[str, str] = {
    key: ("InternImage's configs use constructor='CustomLayerDecayOptimizerConstructor'. "
          if key in ('depths', 'offset_lr_scale', 'backbone_small_lr', 'dino_head') else
          "It belongs to constructor='LearningRateDecayOptimizerConstructor' with "
          "decay_type='vit_wise'. ")
    for key in RECIPE_KEYS}


def lowest_lr_scale(cls: Optional[type], paramwise_cfg: Mapping[str, Any]) -> Optional[float]:
    """The lowest ``lr / base_lr`` a parameter can get from constructor class ``cls`` with
    ``paramwise_cfg`` (MMEngine's own multipliers alone when ``cls`` is None): the embeddings'
    scale under each recipe the config can choose, times the smallest recipe and MMEngine lr
    multiplier. None when ``num_layers`` is left to the model. KeyError / TypeError / ValueError
    when ``cls`` refuses ``paramwise_cfg``."""
    multipliers = [options['lr_mult'] for options in
                   (paramwise_cfg.get('custom_keys') or {}).values()
                   if isinstance(options, Mapping) and 'lr_mult' in options]
    multipliers += [paramwise_cfg[key] for key in ('bias_lr_mult', 'dcn_offset_lr_mult')
                    if paramwise_cfg.get(key) is not None]
    smallest = min([1.0] + [float(m) for m in multipliers])
    if cls is None:
        return smallest
    constructor = cls(dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=1.0)),
                      dict(paramwise_cfg))
    settings = constructor.settings
    layers = settings['num_layers']
    if layers is None:
        return None
    if settings['layer_ids_from_model']:
        return constructor.rate ** head_layer_id(layers) * smallest
    options = {key: settings[key] for key in RECIPE_KEYS}
    lowest = []
    for name in constructor.recipe_names_possible():
        rule = compile_recipe(RECIPES[name], options=options)
        factors = [1.0] + [
            options[m.factor_key] if m.factor_key and options.get(m.factor_key) is not None
            else m.factor for m in rule.recipe.multipliers
            if m.enabled_by is None or options.get(m.enabled_by)]
        lowest.append(rule.layer_scale(constructor.rate, 0, layers) * min(factors))
    return min(lowest) * smallest


class LayerDecayConstructorBase(DefaultOptimWrapperConstructor):
    """Shared mechanism; subclasses name their schema, their rate key and the recipes they may
    choose (``auto_recipes``, and :meth:`candidate_recipes` for a given model)."""

    schema: ClassVar[ParamwiseSchema]
    rate_key: str
    #: The recipes this constructor chooses from by itself (any recipe can be named explicitly
    #: with ``paramwise_cfg.recipe``).
    auto_recipes: ClassVar[Tuple[str, ...]]

    def __init__(self, optim_wrapper_cfg: dict, paramwise_cfg: Optional[dict] = None) -> None:
        owner = type(self).__name__
        check_optimizer_cfg(owner, optim_wrapper_cfg)
        self.settings = self.schema.parse(paramwise_cfg)
        self.rate_key = self.rate_key_for(self.settings, paramwise_cfg)
        super().__init__(dict(optim_wrapper_cfg), dict(paramwise_cfg))
        if self.settings['recipe'] is not None and 'decay_type' in self.paramwise_cfg:
            raise ValueError(
                f"{owner}: paramwise_cfg sets both recipe={self.settings['recipe']!r} and "
                f"decay_type={self.paramwise_cfg['decay_type']!r}, which both choose the rule; "
                'give one of them')
        self._check_recipe_keys(self.given_recipe_keys(), self.recipe_names_possible())
        self.rate: float = self.settings[self.rate_key]
        #: What the last ``add_params`` built (groups, rule, num_layers, notes).
        self.result: Optional[LayerDecayResult] = None
        #: The model ``__call__`` got, before MMEngine unwraps ``.module`` (FSDP's root unit
        #: records the original shapes; see ``engine.shapes``).
        self._called_with: Optional[nn.Module] = None

    def __call__(self, model: nn.Module) -> OptimWrapper:
        """Build the optim wrapper, then guard its optimizer: a resume whose param groups differ
        from the checkpoint's raises a ValueError naming them (``engine.resume_check``), and a
        ``ZeroRedundancyOptimizer`` keeps true ``param_names`` on every rank
        (``engine.zero_groups``). An optimizer type no registry knows is a KeyError naming it."""
        optimizer_type = self.optimizer_cfg['type']
        if isinstance(optimizer_type, str):
            with OPTIMIZERS.switch_scope_and_registry(None) as registry:
                if registry.get(optimizer_type) is None:
                    known = sorted(set(registry.module_dict) | set(OPTIMIZERS.module_dict))
                    close = difflib.get_close_matches(optimizer_type, known, n=1)
                    hint = f' Did you mean {close[0]!r}?' if close else ''
                    raise UnknownKeyError(
                        f'{type(self).__name__}: optim_wrapper.optimizer.type='
                        f'{optimizer_type!r} is not a registered optimizer.{hint} Known: {known}')
        self._called_with = model
        try:
            optim_wrapper = super().__call__(model)
        finally:
            self._called_with = None
        optimizer = optim_wrapper.optimizer
        keep_zero_param_names(optimizer)
        install_resume_check(optimizer, type(self).__name__)
        return optim_wrapper

    def _validate_cfg(self) -> None:
        """Everything is validated by ``schema``; MMEngine's own check would refuse decay
        multipliers without an explicit weight_decay, which is resolved from the optimizer."""

    def rate_key_for(self, settings: Mapping[str, Any],
                     paramwise_cfg: Optional[Mapping[str, Any]]) -> str:
        """The ``paramwise_cfg`` key holding the decay rate (the class's ``rate_key``)."""
        return type(self).rate_key

    # -- which recipe --------------------------------------------------------------------------
    def given_recipe_keys(self) -> List[str]:
        """The recipe-specific keys (``depths``, ``offset_lr_scale``, ...) the config sets."""
        return [key for key in RECIPE_KEYS
                if self.paramwise_cfg.get(key) is not None and self.paramwise_cfg[key] is not False]

    def recipe_names_possible(self) -> Tuple[str, ...]:
        """The recipes this config can end up with: the named one, else the automatic ones."""
        named = self.settings['recipe']
        return (named,) if named is not None else self.auto_recipes

    def _check_recipe_keys(self, keys: Sequence[str], recipes: Sequence[str]) -> None:
        for key in keys:
            readers = RECIPE_KEYS[key]
            if not set(readers) & set(recipes):
                raise ValueError(
                    f'{type(self).__name__}: paramwise_cfg.{key} is read only by the recipe(s) '
                    f'{list(readers)}, and this config uses {list(recipes)}, which ignore it. '
                    f'{RECIPE_KEY_HOMES.get(key, "")}Remove it, or name a recipe that reads it '
                    'with paramwise_cfg.recipe.')

    def candidate_recipes(self, model: nn.Module,
                          model_params: ModelParams) -> Sequence[LayerDecayRecipe]:
        """The recipes to try, in order, for ``model`` (subclasses decide)."""
        raise NotImplementedError(f'{type(self).__name__} must implement candidate_recipes')

    def choose_rule(self, model: nn.Module, model_params: ModelParams) -> LayerIdRule:
        """The named recipe, or the first candidate that recognises the model, bound to the
        backbone prefix and depths; an error when the recipe in use ignores a key the config
        sets."""
        settings = self.settings
        named = settings['recipe']
        candidates = ([RECIPES[named]] if named is not None
                      else self.candidate_recipes(model, model_params))
        options = {key: settings[key] for key in RECIPE_KEYS}
        try:
            rule = select_rule(candidates, model_params.all_names, owner=type(self).__name__,
                               context=self.layout_context(), prefix=settings['backbone_prefix'],
                               depths=settings['depths'], options=options,
                               head_embeddings_at_layer_0=settings['head_embeddings_at_layer_0'])
        except UnrecognisedLayoutError as error:
            raise ValueError(self.unrecognised_layout_message(model, error)) from None
        self._check_recipe_keys(self.given_recipe_keys(), (rule.recipe.name,))
        if 'head_embeddings_at_layer_0' in self.paramwise_cfg and not rule.recipe.head_embeddings:
            raise ValueError(
                f'{type(self).__name__}: paramwise_cfg.head_embeddings_at_layer_0 is set, but '
                f'recipe {rule.recipe.name!r} places no decode-head embeddings at layer 0 (its '
                f'source, {rule.recipe.source}, gives them the head id); remove the key')
        return rule

    def unrecognised_layout_message(self, model: nn.Module,
                                    error: UnrecognisedLayoutError) -> str:
        """What a user reads when no candidate recipe recognises the model."""
        return str(error)

    def layout_context(self) -> str:
        """What the 'cannot recognise' message starts with: the key that chose the recipes."""
        named = self.settings['recipe']
        return f'paramwise_cfg.recipe={named!r}: ' if named is not None else ''

    def _model_rule(self, model: nn.Module) -> LayerIdRule:
        prefix = model_backbone_prefix(model, self.settings['backbone_prefix'])
        if backbone_module(model, prefix) is None:
            raise ValueError(
                f'{type(self).__name__}: paramwise_cfg.backbone_prefix={prefix[:-1]!r} names no '
                f'submodule of {type(model).__name__} (its top-level modules: '
                f'{[name for name, _ in model.named_children()]})')
        get_layer_depth = find_layer_depth_fn(model, prefix)
        if get_layer_depth is None:
            backbone = getattr(model, 'backbone', None)
            raise ValueError(
                f'{type(self).__name__}: paramwise_cfg.layer_ids_from_model=True needs the model '
                'or its backbone to implement get_layer_depth(param_name, prefix) (the mmpretrain '
                f'protocol); neither {type(model).__name__} nor its backbone '
                f'{type(backbone).__name__} does')
        return ModelLayerDepth(get_layer_depth, prefix)

    def add_params(self, params: List[dict], module: nn.Module, **kwargs: Any) -> None:
        """Append the layer-decay groups of ``module`` to ``params`` and log them once (rank 0)."""
        owner = type(self).__name__
        base_wd = (self.base_wd if self.base_wd is not None
                   else optimizer_default_weight_decay(self.optimizer_cfg))

        def choose_rule(model_params: ModelParams) -> LayerIdRule:
            if self.settings['layer_ids_from_model']:
                return self._model_rule(module)
            return self.choose_rule(module, model_params)

        def no_decay_names(rule: LayerIdRule) -> frozenset:
            if not self.settings['exclude_tokens_from_decay']:
                return frozenset()
            return no_weight_decay_names(module, getattr(rule, 'prefix', 'backbone.'))

        self.result = build_layer_decay_groups(
            module, choose_rule=choose_rule, settings=self.settings, rate=self.rate,
            base_lr=self.base_lr, base_wd=base_wd, owner=owner, no_decay_names=no_decay_names,
            wrapped=self._called_with)
        params.extend(self.result.groups)
        self._report(base_wd)

    def _report(self, base_wd: float) -> None:
        result = self.result
        layers = result.num_layers
        wd_source = '' if self.base_wd is not None else ' (the optimizer\'s default)'
        recipe = getattr(result.rule, 'recipe', None)
        multiplied = (' [* ' + ' | '.join(m.factor_key or m.tag for m in recipe.multipliers) + ']'
                      if recipe is not None and recipe.multipliers else '')
        title = (f'{type(self).__name__}: {len(result.groups)} param groups; layer ids: '
                 f'{result.rule.family}; num_layers={layers.value} '
                 f"({'from paramwise_cfg' if layers.given else 'inferred from the model'}); "
                 f'{self.rate_key}={self.rate}; lr = {self.base_lr:g} * {self.rate} ** '
                 f'({layers.value} + 1 - layer_id){multiplied} [* lr_mult]; '
                 f'weight_decay={base_wd:g}{wd_source}')
        if recipe is not None:
            depths = result.rule.depths
            title += (f'\nrecipe {recipe.name} ({recipe.source}); backbone prefix '
                      f"{result.rule.prefix!r}{f'; depths={list(depths)}' if depths else ''}")
        notes = list(result.notes)
        if recipe is not None and recipe.name == 'internvl':
            names = [name for group in result.groups for name in group['param_names']]
            if compile_recipe(RECIPES['internimage_seg'], result.rule.prefix).recognizes(names):
                notes.append(
                    "the names show InternImage's levels.S.blocks.B, which InternVL's reading "
                    "(recipe internvl) reads as layers.S, one id per level; InternImage's per-block "
                    "reading needs one of its keys (depths, offset_lr_scale, backbone_small_lr, "
                    'dino_head)')
        override = scope_override_note()
        if override:
            notes.append(override)
        log_param_groups(title, result.groups, notes, result.warnings)
