"""Validation of ``paramwise_cfg``: every key is checked when a constructor is built, before the
model is touched. Unknown keys are refused with the list of known ones; the caller's dict is never
changed; errors name the key and what was expected."""
import difflib
import math
import numbers
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, Dict, Mapping, Optional, Sequence, Tuple

from ..layer_ids.compiled import normalize_prefix
from ..layer_ids.recipes import RECIPES

#: Keys of a ``custom_keys`` entry that the engine computes itself.
RESERVED_GROUP_KEYS = ('params', 'param_names', 'lr', 'weight_decay', 'lr_scale', 'group_name',
                       'layer_id')


class ConfigKeyError(KeyError):
    """A config key error, printed without KeyError's quotes."""

    def __str__(self) -> str:
        return str(self.args[0])


class MissingKeyError(ConfigKeyError):
    """A required config key is missing."""


class UnknownKeyError(ConfigKeyError):
    """A config key that nothing reads."""


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _check_finite(path: str, value: Any) -> None:
    if not math.isfinite(value):
        raise ValueError(f'{path} must be a finite number, got {value!r}')


def check_rate(path: str, value: Any) -> float:
    """A decay rate: a number in (0, 1]."""
    if not _is_number(value):
        raise TypeError(f'{path} must be a number in (0, 1], got {value!r} '
                        f'({type(value).__name__})')
    if not 0 < value <= 1:
        raise ValueError(f'{path} must be in (0, 1], got {value!r}')
    return float(value)


def check_positive_int(path: str, value: Any) -> int:
    """A positive integer (``bool`` refused)."""
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise TypeError(f'{path} must be a positive int, got {value!r} ({type(value).__name__})')
    if value < 1:
        raise ValueError(f'{path} must be a positive int, got {value!r}')
    return int(value)


def check_multiplier(path: str, value: Any) -> float:
    """An lr or weight-decay multiplier: a number >= 0."""
    if not _is_number(value):
        raise TypeError(f'{path} must be a number >= 0, got {value!r} ({type(value).__name__})')
    _check_finite(path, value)
    if value < 0:
        raise ValueError(f'{path} must be >= 0, got {value!r}')
    return float(value)


def check_depths(path: str, value: Any) -> Tuple[int, ...]:
    """Blocks per stage: a non-empty list of positive ints, e.g. ``[4, 4, 18, 4]``."""
    if not isinstance(value, (list, tuple)) or not value:
        raise TypeError(f'{path} must be a non-empty list of the number of blocks per stage, '
                        f'e.g. [4, 4, 18, 4], got {value!r}')
    return tuple(check_positive_int(f'{path}[{index}]', item) for index, item in enumerate(value))


def check_prefix(path: str, value: Any) -> str:
    """A module path such as ``'img_backbone'`` (a trailing dot is added), or ``''`` (the model is
    the backbone)."""
    if not isinstance(value, str) or value.startswith('.') or '..' in value:
        raise TypeError(f"{path} must be a module name such as 'backbone' or 'img_backbone' "
                        f"(or '' for a bare backbone), got {value!r}")
    return normalize_prefix(value)


def check_bool(path: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f'{path} must be True or False, got {value!r} ({type(value).__name__})')
    return value


def check_choice(choices: Sequence[str]) -> Callable[[str, Any], str]:
    def check(path: str, value: Any) -> str:
        if value not in choices:
            raise ValueError(f'{path} must be one of {list(choices)}, got {value!r}')
        return value
    return check


def check_custom_keys(path: str, value: Any) -> Mapping[str, Mapping[str, Any]]:
    """``{substring: {lr_mult=..., decay_mult=..., <other optimizer options>}}``."""
    if not isinstance(value, dict):
        raise TypeError(f'{path} must be a dict of {{name substring: dict(lr_mult=..., '
                        f'decay_mult=...)}}, got {type(value).__name__}')
    checked = {}
    for key, options in value.items():
        entry = f'{path}[{key!r}]'
        if not isinstance(key, str) or not key:
            raise TypeError(f'{path} keys must be non-empty strings, got {key!r}')
        if not isinstance(options, dict):
            raise TypeError(f'{entry} must be a dict such as dict(lr_mult=0.1, decay_mult=0.0), '
                            f'got {options!r}')
        reserved = [k for k in options if k in RESERVED_GROUP_KEYS]
        if reserved:
            raise ValueError(f'{entry} sets {reserved}, which layer decay computes; use lr_mult '
                             'and decay_mult to scale the learning rate and weight decay')
        options = dict(options)
        for mult in ('lr_mult', 'decay_mult'):
            if mult in options:
                options[mult] = check_multiplier(f'{entry}.{mult}', options[mult])
        checked[key] = MappingProxyType(options)
    return MappingProxyType(checked)


@dataclass(frozen=True)
class Key:
    """One ``paramwise_cfg`` key: its check, default and meaning."""

    name: str
    check: Callable[[str, Any], Any]
    default: Any = None
    doc: str = ''
    required: bool = False


#: MMEngine's ``DefaultOptimWrapperConstructor`` keys, which work together with layer decay.
MMENGINE_KEYS: Tuple[Key, ...] = (
    Key('custom_keys', check_custom_keys, MappingProxyType({}),
        'substring of a parameter name -> dict(lr_mult, decay_mult, other group options); the '
        'longest matching key wins (ties: alphabetical); lr_mult multiplies the layer-decay lr, '
        'decay_mult sets weight_decay = base weight_decay * decay_mult'),
    Key('bias_lr_mult', check_multiplier, None,
        'multiplies the lr of every bias except those of norm and DCN layers'),
    Key('bias_decay_mult', check_multiplier, None, 'weight_decay = base * mult for biases'),
    Key('norm_decay_mult', check_multiplier, None,
        'weight_decay = base * mult for parameters of norm layers'),
    Key('dwconv_decay_mult', check_multiplier, None,
        'weight_decay = base * mult for depth-wise conv parameters'),
    Key('flat_decay_mult', check_multiplier, None,
        'weight_decay = base * mult for 1-D parameters'),
    Key('dcn_offset_lr_mult', check_multiplier, None,
        'multiplies the lr of the conv_offset layers of mmcv deformable convs'),
    Key('bypass_duplicate', check_bool, False,
        'a parameter shared by several modules is kept under its first name (warned) instead of '
        'raising'),
)

#: Keys both layer-decay constructors share.
LAYER_DECAY_KEYS: Tuple[Key, ...] = (
    Key('num_layers', check_positive_int, None,
        'L, the number of blocks; inferred from the model when omitted'),
    Key('exclude_tokens_from_decay', check_bool, False,
        'weight_decay 0 for class/mask/register tokens, position embeddings and the names the '
        "model's no_weight_decay() lists (the peers meant to but never did, so off by default)"),
    Key('layer_ids_from_model', check_bool, False,
        "layer ids from the model's or its backbone's get_layer_depth(param_name, prefix) "
        '(mmpretrain protocol) instead of the name rules'),
    Key('backbone_prefix', check_prefix, None,
        "the module holding the backbone ('img_backbone', '' for a bare backbone); found from "
        "the names when omitted (backbone., img_backbone., where the layout is)"),
    Key('head_embeddings_at_layer_0', check_bool, True,
        "Mask2Former's decode_head query_embed / query_feat / level_embed / cls_embed / "
        'mask_embed train at layer 0 as the published recipes do; False puts them with the head'),
)

#: The keys of the published recipes that read their own (see ``layer_ids.recipes.RECIPE_KEYS``
#: for which recipe reads which); each is refused when the recipe in use does not read it.
RECIPE_OPTION_KEYS: Tuple[Key, ...] = (
    Key('depths', check_depths, None,
        "InternImage: blocks per level, e.g. [4, 4, 18, 4]; checked against the model's names; "
        'num_layers defaults to sum(depths)'),
    Key('offset_lr_scale', check_multiplier, None,
        'InternImage: multiplies the lr of sampling_offsets / reference_points (default 1.0)'),
    Key('backbone_small_lr', check_bool, False,
        'InternImage: multiplies every lr below the base lr by 0.1'),
    Key('dino_head', check_bool, False,
        'InternImage (DINO detector): head-level sampling_offsets / reference_points get 0.1x lr'),
    Key('head_decay_rate', check_multiplier, None,
        "decay_type='vit_wise' (OmniDrive / StreamPETR / Far3D): multiplies the lr of everything "
        'outside the backbone (default 1.0)'),
    Key('lm_head_decay_rate', check_multiplier, None,
        "decay_type='vit_wise': multiplies the lr of lm_head.* instead (default 0.1)"),
)

def recipe_keys() -> Tuple[Key, ...]:
    """``recipe`` (a published recipe by name) and the recipe-specific keys."""
    return (Key('recipe', check_choice(tuple(sorted(RECIPES))), None,
                'a published recipe by name (layer_ids.recipes); chosen from the constructor, '
                'its keys and the model when omitted'),) + RECIPE_OPTION_KEYS


#: Which constructors read a rate key, for a config that gives it to another one.
KEY_HOMES = {
    'layer_decay_rate': 'CustomLayerDecayOptimizerConstructor (InternVL, InternImage: with '
                        'depths / offset_lr_scale) and LayerDecayOptimizerConstructor (BEiT, '
                        'ViT-Adapter, EVA)',
    'decay_rate': 'LearningRateDecayOptimizerConstructor (mmdet / mmseg ConvNeXt, vit_wise) and '
                  "LayerDecayOptimizerConstructor (mmdet's ViTDet project)",
}

#: Old spellings users carry over between the two constructors and from mmcv 1.x configs.
SPELLING_HINTS = {'decay_rate': 'layer_decay_rate', 'layer_decay_rate': 'decay_rate',
                  'num_layer': 'num_layers', 'layer_decay': 'layer_decay_rate'}


@dataclass(frozen=True)
class ParamwiseSchema:
    """All keys one constructor accepts."""

    owner: str
    keys: Tuple[Key, ...]
    _by_name: Dict[str, Key] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, '_by_name', {key.name: key for key in self.keys})

    @property
    def names(self) -> Tuple[str, ...]:
        return tuple(key.name for key in self.keys)

    def _unknown_key_message(self, unknown: str) -> str:
        hint = SPELLING_HINTS.get(unknown)
        if hint not in self._by_name:
            close = difflib.get_close_matches(unknown, self.names, n=1, cutoff=0.7)
            hint = close[0] if close else None
        did_you_mean = f' Did you mean {hint!r}?' if hint else ''
        home = KEY_HOMES.get(unknown)
        home = f'. {unknown!r} is a key of {home}' if home else ''
        return (f'{self.owner}: unknown paramwise_cfg key {unknown!r}.{did_you_mean} '
                f'Known keys: {sorted(self.names)}{home}')

    def parse(self, paramwise_cfg: Optional[Mapping[str, Any]]) -> Mapping[str, Any]:
        """Validated values for every key (defaults filled in), read-only."""
        if paramwise_cfg is None:
            paramwise_cfg = {}
        if not isinstance(paramwise_cfg, Mapping):
            raise TypeError(f'{self.owner}: paramwise_cfg must be a dict, got '
                            f'{type(paramwise_cfg).__name__}')
        for name in paramwise_cfg:
            if name not in self._by_name:
                raise UnknownKeyError(self._unknown_key_message(name))
        values = {}
        for key in self.keys:
            path = f'paramwise_cfg.{key.name}'
            if key.name in paramwise_cfg and not (paramwise_cfg[key.name] is None
                                                  and not key.required):
                values[key.name] = key.check(path, paramwise_cfg[key.name])
            elif key.required:
                raise MissingKeyError(
                    f'{self.owner}: {path} is required ({key.doc}); without it no layer decay '
                    f'is applied. Got paramwise_cfg={dict(paramwise_cfg)!r}')
            else:
                values[key.name] = key.default
        return MappingProxyType(values)
