"""What the layer-decay constructors share: one pass, in one direction::

    settings = schema.parse(paramwise_cfg)                        # __init__, before the model
    params   = collect_params(model)                              # canonical names, shapes
    plan     = make_plan(candidates, settings, optimizer, params, model)
    groups   = group_params(params, plan)                         # plan.assign(param)

A subclass is a docstring, its :class:`~mmcv_custom.config._schema.ParamwiseSchema` (its rate
key(s) among them; the keys are appended to its docstring) and :meth:`candidates`.
"""
from dataclasses import replace
from textwrap import indent
from typing import Any, ClassVar, List, Optional, Tuple

from mmengine.optim import DefaultOptimWrapperConstructor, OptimWrapper
from torch import nn

from ..compat import install_training_fixes
from ..config._optimizer import parse_optimizer
from ..config._schema import ParamwiseSchema, Settings
from ..distributed._zero_groups import keep_zero_param_names
from ..layer_decay._groups import group_params
from ..layer_decay._params import collect_params
from ..layer_decay._plan import Plan, make_plan
from ..layer_decay._report import log_param_groups, report_notes, report_title
from ..layer_decay._resume import install_resume_check
from ..recipes._match import Candidates
from ..recipes._published import RECIPE_KEYS, RECIPE_OPTION_KEYS, RECIPES
from ..registry import scope_override_note


class LayerDecayConstructorBase(DefaultOptimWrapperConstructor):
    """The shared mechanism of the layer-decay constructors (see the module docstring)."""

    schema: ClassVar[ParamwiseSchema]  # with the rate key(s)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if 'schema' in cls.__dict__ and cls.__doc__:
            cls.__doc__ = cls.__doc__.rstrip() + '\n\n' + indent(cls.schema.describe(), '    ')

    def __init__(self, optim_wrapper_cfg: dict, paramwise_cfg: Optional[dict] = None) -> None:
        self.optimizer_settings = parse_optimizer(type(self).__name__, optim_wrapper_cfg)
        self.settings: Settings = self.schema.parse(paramwise_cfg)  # parsed once
        self.recipes_for(self.settings, None)  # a recipe key no possible recipe reads: refused
        super().__init__(dict(optim_wrapper_cfg), dict(paramwise_cfg))
        self.plan: Optional[Plan] = None  # and the report's notes, of the last add_params
        self.notes: Tuple[str, ...] = ()
        #: __call__'s model, before MMEngine unwraps ``.module`` (FSDP's root unit: the shapes)
        self._called_with: Optional[nn.Module] = None

    @classmethod
    def candidates(cls, settings: Settings, model: Optional[nn.Module]) -> Candidates:
        """The recipes to try for ``model``, in order, chosen from ``settings`` (``model`` None:
        every recipe these settings can choose)."""
        raise NotImplementedError(f'{cls.__name__} must define candidates')

    @classmethod
    def recipes_for(cls, settings: Settings, model: Optional[nn.Module]) -> Candidates:
        """The recipe ``paramwise_cfg.recipe`` names, else :meth:`candidates`, keeping those that
        read every recipe key the config gives. ValueError naming a key none of them reads, and
        where it belongs when that is another constructor."""
        if settings.recipe is not None:
            candidates = Candidates((RECIPES[settings.recipe],),
                                    because=f'paramwise_cfg.recipe={settings.recipe!r}: ')
        else:
            candidates = cls.candidates(settings, model)
        given = settings.recipe_keys_given
        kept = tuple(recipe for recipe in candidates.recipes if set(given) <= recipe.key_names)
        if not kept:
            names = [recipe.name for recipe in candidates.recipes]
            key = next((key for key in given if not set(RECIPE_KEYS[key]) & set(names)), given[-1])
            home = next(k.home for k in RECIPE_OPTION_KEYS if k.name == key)
            raise ValueError(
                f'{cls.__name__}: paramwise_cfg.{key} is read only by the recipe(s) '
                f'{list(RECIPE_KEYS[key])}, and this config uses {names}, which ignore it. '
                f"{'' if f'={cls.__name__!r}' in home else home}Remove it, or name one of those "
                'recipes with paramwise_cfg.recipe if it fits the model.')
        because = candidates.because
        if len(kept) < len(candidates.recipes):  # the keys chose too: say so if none fits
            because += (f'with {list(given)}, which of {[r.name for r in candidates.recipes]} '
                        f'only {[r.name for r in kept]} read: ')
        return replace(candidates, recipes=kept, because=because)

    def __call__(self, model: nn.Module) -> OptimWrapper:
        """The optim wrapper, its optimizer guarded (``compat.install_training_fixes`` too): a
        resume with other groups is an error; ZeRO keeps true ``param_names``."""
        install_training_fixes()
        self._called_with = model
        try:
            optim_wrapper = super().__call__(model)
        finally:
            self._called_with = None
        keep_zero_param_names(optim_wrapper.optimizer)
        install_resume_check(optim_wrapper.optimizer, type(self).__name__)
        return optim_wrapper

    def _validate_cfg(self) -> None:
        """``schema`` validates (MMEngine's check would refuse the optimizer's default wd)."""

    def add_params(self, params: List[dict], module: nn.Module, **kwargs: Any) -> None:
        """Append the layer-decay groups of ``module`` to ``params`` and log them once (rank 0)."""
        collected = collect_params(module, self._called_with)
        plan = make_plan(self.recipes_for(self.settings, module), self.settings,
                         self.optimizer_settings, collected, module)
        groups = group_params(collected, plan)
        params.extend(groups)
        notes = report_notes(plan, collected, groups)
        override = scope_override_note()
        self.plan, self.notes = plan, tuple(notes + ([override] if override else []))
        log_param_groups(report_title(plan, groups), groups, self.notes, plan.warnings)
