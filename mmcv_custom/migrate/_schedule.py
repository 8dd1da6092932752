"""mmcv 1.x ``lr_config`` -> an MMEngine ``param_scheduler`` list with the same lr every iteration.

mmcv 1.x's rule (``mmcv/runner/hooks/lr_updater.py``), for every param group with initial lr
``base_g`` and iteration ``t`` counted from 0 over the whole run: the lr is the *regular* lr of the
policy at progress ``p`` (the epoch of ``t`` when ``by_epoch``, else ``t``), times a warm-up factor
while ``t`` is below the warm-up length ``W``; the decay starts at iteration 0, under the warm-up.
``mmcv_custom.schedulers._lr_updater`` states the policies and factors in full.

How the list is chosen:

- MMEngine's schedulers step in a chain, each rescaling the lr the previous one left. That is the
  rule exactly when every factor multiplies: linear warm-up = ``LinearLR(start_factor=ratio,
  end=W + 1)`` (MMEngine reaches ``end_factor`` at step ``end - begin - 1``, mmcv at ``W``),
  constant warm-up = ``ConstantLR(factor=ratio, end=W + 1)``, poly = ``PolyLR(end=P + 1)``
  (MMEngine's poly reaches 0 at step ``end - begin - 1``, mmcv's at ``P``), cosine =
  ``CosineAnnealingLR(T_max=P)``, step = ``MultiStepLR`` / ``StepLR``, all from ``begin=0``; and
  a floor only where no warm-up runs under it (``PolyLR(eta_min)``, ``mmcv_custom.PolyLRRatio
  (eta_min_ratio)``, ``CosineAnnealingLR(eta_min / eta_min_ratio)``).
- Everything else (a floor under a warm-up, the ``exp`` warm-up, a step decay clipped at
  ``min_lr``, a warm-up counted in epochs, an iteration-counted poly or cosine in an epoch-based
  run) is one ``mmcv_custom.LrUpdaterLR``, which computes the rule in closed form.

The floor. An absolute ``min_lr`` moves *every* group towards the same value, which raises a
layer-decayed group that starts below it. When the lowest group lr that ``paramwise_cfg`` allows
(``lowest_initial_lr``) is below ``min_lr``, or cannot be told without the model, the floor becomes
``min_lr / optimizer.lr`` of each group's own initial lr (the same floor for a group at the base
lr), and a note says so. Otherwise the absolute floor is kept: then no group starts below it and
the schedule is mmcv 1.x's.
"""
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from .._checks import RATE, check_number, check_positive_int
from ..config._schema import Settings
from ..layer_decay._plan import lr_scale
from ..recipes._model import MODEL_LAYER_DEPTH
from ..recipes._schema import EMBED_LAYER_ID, LayerDecayRecipe
from ._result import MigrationError

#: mmcv 1.x's hook name (policy, title-cased when written in lower case) -> our policy name.
POLICIES = {'Poly': 'poly', 'Step': 'step', 'CosineAnnealing': 'CosineAnnealing',
            'Cosine': 'CosineAnnealing', 'Fixed': 'fixed'}
#: The arguments of each policy's hook, with mmcv 1.x's defaults.
POLICY_ARGS: Dict[str, Dict[str, Any]] = {
    'Poly': {'power': 1.0, 'min_lr': 0.0},
    'Step': {'step': None, 'gamma': 0.1, 'min_lr': None},
    'CosineAnnealing': {'min_lr': None, 'min_lr_ratio': None},
    'Cosine': {'target_lr': 0.0},  # mmcv 0.x's CosineLrUpdaterHook
    'Fixed': {},
}
#: ``LrUpdaterHook``'s own arguments and defaults.
COMMON_ARGS = {'by_epoch': True, 'warmup': None, 'warmup_iters': 0, 'warmup_ratio': 0.1,
               'warmup_by_epoch': False}
WARMUPS = ('linear', 'exp', 'constant')
#: Our schedulers, by scope so that mmseg's own ``PolyLRRatio`` is never picked instead.
POLY_RATIO = 'mmcv_custom.PolyLRRatio'
LR_UPDATER = 'mmcv_custom.LrUpdaterLR'


@dataclass
class RunLength:
    """How long the converted run trains: ``max_iters`` (iteration-based) or ``max_epochs``."""

    by_epoch: bool
    length: int


@dataclass
class LrSetting:
    """``lr_config`` read with mmcv 1.x's defaults filled in."""

    hook: str
    policy: str
    by_epoch: bool
    warmup: Optional[str]
    warmup_iters: int
    warmup_ratio: float
    warmup_by_epoch: bool
    args: Dict[str, Any]


def read_lr_config(lr_config: Mapping, run: RunLength) -> LrSetting:
    """``lr_config`` with mmcv 1.x's defaults, checked the way mmcv 1.x checks it.

    Under an ``IterBasedRunner`` mmcv 1.x defaults ``by_epoch`` to False
    (``IterBasedRunner.register_training_hooks``); otherwise ``LrUpdaterHook``'s default, True.

    Raises:
        MigrationError: no policy; a policy other than poly, step, CosineAnnealing, cosine, fixed;
            an argument the policy's hook does not take; a bad warm-up; epochs counted in an
            iteration-based run.
    """
    settings = {key: value for key, value in dict(lr_config).items() if key != '_delete_'}
    if 'policy' not in settings:
        raise MigrationError(f'lr_config has no policy: {settings!r}')
    policy = settings.pop('policy')
    hook = policy.title() if policy == policy.lower() else policy
    if hook not in POLICIES:
        raise MigrationError(
            f'lr_config policy {policy!r} ({hook}LrUpdaterHook) is not converted by this tool; '
            f'it converts {sorted(POLICIES)} (as policy names: poly, step, CosineAnnealing, '
            'cosine, fixed)')
    unknown = sorted(set(settings) - set(COMMON_ARGS) - set(POLICY_ARGS[hook]))
    if unknown:
        raise MigrationError(f'lr_config: {unknown} are not arguments of {hook}LrUpdaterHook '
                             f'(it takes {sorted(set(COMMON_ARGS) | set(POLICY_ARGS[hook]))})')
    common = dict(COMMON_ARGS, by_epoch=run.by_epoch)
    common.update({key: settings[key] for key in COMMON_ARGS if key in settings})
    args = dict(POLICY_ARGS[hook])
    args.update({key: settings[key] for key in POLICY_ARGS[hook] if key in settings})
    if hook == 'Cosine':
        args = {'min_lr': args['target_lr'], 'min_lr_ratio': None}
    if hook == 'CosineAnnealing' and (args['min_lr'] is None) == (args['min_lr_ratio'] is None):
        raise MigrationError('lr_config: CosineAnnealing needs exactly one of min_lr and '
                             f'min_lr_ratio, got {settings!r}')
    if hook == 'Step' and args['step'] is None:
        raise MigrationError('lr_config: policy step needs step (an int or a list of ints)')
    warmup = common['warmup']
    if warmup is not None:
        if warmup not in WARMUPS:
            raise MigrationError(f'lr_config: warmup {warmup!r} is not one of {WARMUPS}')
        try:
            check_positive_int('lr_config: warmup_iters', common['warmup_iters'])
            check_number('lr_config: warmup_ratio', common['warmup_ratio'], RATE)
        except (TypeError, ValueError) as error:
            raise MigrationError(str(error)) from None
    if not run.by_epoch and (common['by_epoch'] or (warmup and common['warmup_by_epoch'])):
        raise MigrationError('lr_config counts epochs (by_epoch or warmup_by_epoch) in an '
                             'iteration-based run; mmcv 1.x\'s IterBasedRunner epochs depend on '
                             'its data loaders and are not converted')
    return LrSetting(hook=hook, policy=POLICIES[hook], by_epoch=bool(common['by_epoch']),
                     warmup=warmup, warmup_iters=common['warmup_iters'],
                     warmup_ratio=common['warmup_ratio'],
                     warmup_by_epoch=bool(common['warmup_by_epoch']), args=args)


def lowest_initial_lr(optimizer: Mapping,
                      paramwise_cfg: Optional[Mapping]) -> Tuple[Optional[float], str]:
    """The lowest initial group lr ``paramwise_cfg`` can give (a lower bound), and how it was
    found.

    For mmcv_custom's constructors (``optimizer.constructor``, or each of them that accepts
    ``paramwise_cfg`` when none is named) the recipes the config can choose are asked: the lr of
    the embeddings (layer id 0) under each recipe's formula, times the smallest recipe multiplier
    and MMEngine lr multiplier that can apply. Without a layer-decay rate the groups start at
    ``optimizer.lr`` times MMEngine's multipliers. None (with the reason) when the bound cannot
    be known: ``num_layers`` left to the model, or a constructor mmcv_custom does not know.

    Raises:
        MigrationError: ``optimizer`` has no ``lr``.
    """
    if 'lr' not in optimizer:
        raise MigrationError('optimizer has no lr: an absolute min_lr cannot be judged against '
                             'the groups\' learning rates')
    base = float(optimizer['lr'])
    if not paramwise_cfg:
        return base, 'without paramwise_cfg every group starts at optimizer.lr'
    from ..registry import OPTIM_WRAPPER_CONSTRUCTORS  # filled when mmcv_custom is imported
    ours = OPTIM_WRAPPER_CONSTRUCTORS.module_dict
    named = optimizer.get('constructor')
    name = named.rsplit('.', 1)[-1] if isinstance(named, str) else None
    if name in ours:
        classes = [ours[name]]
    elif named is not None and name != 'DefaultOptimWrapperConstructor':
        return None, (f'the lowest initial lr is unknown (constructor {named!r} is not one of '
                      "mmcv_custom's)")
    elif any(key in paramwise_cfg for key in ('layer_decay_rate', 'decay_rate')):
        classes = list(ours.values())
    else:  # MMEngine's own constructor: its lr multipliers alone
        mults = [entry.get('lr_mult') for entry in (paramwise_cfg.get('custom_keys') or {}).values()
                 if isinstance(entry, Mapping)]
        mults += [paramwise_cfg.get(key) for key in ('bias_lr_mult', 'dcn_offset_lr_mult')]
        return (base * min([1.0] + [float(m) for m in mults if m is not None]),
                'from optimizer.lr and paramwise_cfg')
    bounds, refusals = [], []
    for cls in classes:
        try:
            settings = cls.schema.parse(paramwise_cfg)
            bounds.append(_lowest_lr_scale(cls.recipes_for(settings, None).recipes, settings))
        except (KeyError, TypeError, ValueError) as error:  # this constructor refuses the keys
            refusals.append(str(error))
    if not bounds:
        return None, f'the lowest initial lr is unknown ({refusals[0]})'
    if None in bounds:
        return None, 'paramwise_cfg leaves num_layers to the model'
    return base * min(bounds), 'from optimizer.lr and paramwise_cfg'


def _lowest_lr_scale(recipes: Sequence[LayerDecayRecipe], settings: Settings) -> Optional[float]:
    """A lower bound of the layer-decay formula (``layer_decay._plan.lr_scale``) over every
    parameter of any model ``settings`` can plan with ``recipes``: the embeddings' scale (layer id
    0) times the smallest recipe multiplier and MMEngine ``lr_mult`` that can apply. None when
    ``num_layers`` is left to the model."""
    if settings.num_layers is None:
        return None
    options = settings.recipe_options
    lr_mults = [entry['lr_mult'] for entry in settings.custom_keys.values() if 'lr_mult' in entry]
    lr_mults += [mult for mult in (settings.bias_lr_mult, settings.dcn_offset_lr_mult)
                 if mult is not None]
    bounds = []
    for recipe in ((MODEL_LAYER_DEPTH,) if settings.layer_ids_from_model else recipes):
        factors = [options[m.factor_key] if m.factor_key and options[m.factor_key] is not None
                   else m.factor for m in recipe.multipliers
                   if m.enabled_by is None or options[m.enabled_by]]
        below = recipe.below_base_factor
        bounds.append(lr_scale(settings.rate, EMBED_LAYER_ID, settings.num_layers,
                               below[1] if below and options[below[0]] else 1.0,
                               min([1.0] + factors), min([1.0] + lr_mults)))
    return min(bounds)


def _floor(setting: LrSetting, optimizer: Mapping, paramwise_cfg: Optional[Mapping],
           notes: List[str]) -> Tuple[Optional[float], Optional[float]]:
    """``(absolute floor, ratio floor)`` of the converted schedule, at most one not None."""
    min_lr = setting.args.get('min_lr')
    ratio = setting.args.get('min_lr_ratio')
    if ratio is not None or not min_lr:
        return min_lr, ratio
    lowest, how = lowest_initial_lr(optimizer, paramwise_cfg)
    if lowest is not None and min_lr <= lowest:
        if paramwise_cfg:
            notes.append(f'lr_config.min_lr={min_lr!r} kept absolute: no group starts below it '
                         f'(lowest initial lr {lowest:.4g}, {how})')
        return min_lr, None
    ratio = float(f"{min_lr / float(optimizer['lr']):.15g}")  # 0.01, not 0.009999999999999998
    why = (f'a group can start at {lowest:.4g} ({how}), below it' if lowest is not None
           else f'{how}, so a group may start below it')
    notes.append(
        f'lr_config.min_lr={min_lr!r} is absolute, and {why}: mmcv 1.x would have raised such '
        f'a group towards min_lr. Converted to a floor of min_lr / optimizer.lr = {ratio:.6g} of '
        'each group\'s own initial lr (the same floor for a group at optimizer.lr)')
    return None, ratio


def _end(total: int) -> int:
    """``end`` for MMEngine's poly / linear schedulers to reach their last value at ``total``."""
    return total + 1


def convert_lr_config(lr_config: Mapping, run: RunLength, optimizer: Mapping,
                      paramwise_cfg: Optional[Mapping] = None) -> Tuple[List[dict], List[str]]:
    """``param_scheduler`` for ``lr_config`` in a run of ``run``'s length, and the notes.

    ``optimizer`` (its ``lr``) and ``paramwise_cfg`` decide whether an absolute ``min_lr`` can
    stay absolute (module docstring).
    """
    notes: List[str] = []
    setting = read_lr_config(lr_config, run)
    idle = sorted(key for key in ('warmup_iters', 'warmup_ratio', 'warmup_by_epoch')
                  if key in lr_config and setting.warmup is None)
    if idle:
        notes.append(f'lr_config {idle} without warmup: no warm-up (as in mmcv 1.x)')
    min_lr, ratio = _floor(setting, optimizer, paramwise_cfg, notes)
    has_floor = bool(min_lr) or bool(ratio) or (setting.policy == 'step' and min_lr is not None)
    progress_total = run.length if setting.by_epoch == run.by_epoch else None
    needs_ours = (setting.warmup == 'exp' or (setting.warmup and setting.warmup_by_epoch)
                  or (has_floor and (setting.warmup is not None or setting.policy == 'step'))
                  or (progress_total is None and setting.policy in ('poly', 'CosineAnnealing')))
    if needs_ours:
        scheduler = _lr_updater(setting, run, min_lr, ratio)
        why = _why_ours(setting, has_floor, progress_total)
        notes.append(f'lr_config -> {LR_UPDATER}: mmcv 1.x\'s rule in closed form, because no '
                     f'chain of MMEngine schedulers gives it exactly here ({why})')
        return [scheduler], notes
    schedulers = _warmup_schedulers(setting) + _regular_schedulers(setting, progress_total,
                                                                   min_lr, ratio)
    if not schedulers:
        notes.append('lr_config: policy fixed without warm-up -> no scheduler (constant lr)')
    return schedulers, notes


def _why_ours(setting: LrSetting, has_floor: bool, progress_total: Optional[int]) -> str:
    if setting.warmup == 'exp':
        return 'MMEngine has no single warm-up scheduler of the form ratio ** (1 - t / W)'
    if setting.warmup and setting.warmup_by_epoch:
        return 'a warm-up counted in epochs'
    if has_floor and setting.policy == 'step':
        return 'a step decay clipped at a floor'
    if has_floor:
        return 'a floor under the warm-up: a chain would move the warmed-up lr to the floor'
    return 'the decay counts iterations of an epoch-based run, whose length needs the epoch length'


def _warmup_schedulers(setting: LrSetting) -> List[dict]:
    if setting.warmup is None:
        return []
    end = _end(setting.warmup_iters)
    if setting.warmup == 'linear':
        return [dict(type='LinearLR', start_factor=setting.warmup_ratio, end_factor=1.0,
                     by_epoch=False, begin=0, end=end)]
    return [dict(type='ConstantLR', factor=setting.warmup_ratio, by_epoch=False, begin=0,
                 end=end)]


def _regular_schedulers(setting: LrSetting, total: Optional[int], min_lr: Optional[float],
                        ratio: Optional[float]) -> List[dict]:
    by_epoch = setting.by_epoch
    if setting.policy == 'fixed':
        return []
    if setting.policy == 'step':
        step = setting.args['step']
        if isinstance(step, int):
            return [dict(type='StepLR', step_size=step, gamma=setting.args['gamma'],
                         by_epoch=by_epoch, begin=0)]
        return [dict(type='MultiStepLR', milestones=list(step), gamma=setting.args['gamma'],
                     by_epoch=by_epoch, begin=0)]
    if setting.policy == 'poly':
        if ratio:
            return [dict(type=POLY_RATIO, eta_min_ratio=ratio, power=setting.args['power'],
                         by_epoch=by_epoch, begin=0, end=_end(total))]
        return [dict(type='PolyLR', eta_min=float(min_lr or 0.0), power=setting.args['power'],
                     by_epoch=by_epoch, begin=0, end=_end(total))]
    floor = dict(eta_min_ratio=ratio) if ratio is not None else dict(eta_min=float(min_lr or 0))
    return [dict(type='CosineAnnealingLR', T_max=total, **floor, by_epoch=by_epoch, begin=0,
                 end=_end(total))]


def _lr_updater(setting: LrSetting, run: RunLength, min_lr: Optional[float],
                ratio: Optional[float]) -> dict:
    scheduler: Dict[str, Any] = dict(type=LR_UPDATER, policy=setting.policy)
    if setting.policy == 'poly':
        scheduler['power'] = setting.args['power']
    if setting.policy == 'step':
        scheduler['step'] = setting.args['step']
        scheduler['gamma'] = setting.args['gamma']
    if ratio is not None:
        scheduler['min_lr_ratio'] = ratio
    elif min_lr is not None:
        scheduler['min_lr'] = min_lr
    if setting.warmup is not None:
        scheduler.update(warmup=setting.warmup, warmup_iters=setting.warmup_iters,
                         warmup_ratio=setting.warmup_ratio)
        if setting.warmup_by_epoch:
            scheduler['warmup_by_epoch'] = True
    scheduler['max_epochs' if run.by_epoch else 'max_iters'] = run.length
    scheduler['progress_by_epoch'] = setting.by_epoch
    if run.by_epoch:  # the rule needs the epoch length: MMEngine passes it on conversion
        scheduler.update(by_epoch=True, convert_to_iter_based=True)
    else:
        scheduler['by_epoch'] = False
    return scheduler
