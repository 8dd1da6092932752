"""The ``paramwise_cfg`` keys every layer-decay constructor shares, each written once: its check,
default, meaning and, for a key other constructors read, where it belongs.

The recipes' own keys (``depths``, ``offset_lr_scale``, ...) are defined here too; each recipe names
the ones it reads (``mmcv_custom.recipes._published``).
"""
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Callable, Dict, Mapping, Optional, Tuple

from .._checks import (NON_NEGATIVE, RATE, check_bool, check_choice, check_number,
                       check_positive_int, check_positive_ints)

__all__ = ['ConfigKeyError', 'MissingKeyError', 'UnknownKeyError', 'Key', 'OneOf',
           'normalize_prefix', 'check_multiplier', 'LAYER_DECAY_RATE', 'DECAY_RATE',
           'LAYER_DECAY_KEYS', 'MMENGINE_KEYS', 'DEPTHS', 'OFFSET_LR_SCALE', 'BACKBONE_SMALL_LR',
           'DINO_HEAD', 'CBNET_LAYER_DECAY', 'HEAD_DECAY_RATE', 'LM_HEAD_DECAY_RATE',
           'SPLIT_HEAD_GROUP', 'SPELLING_HINTS',
           'RESERVED_GROUP_KEYS', 'key_home']

#: Keys of a ``custom_keys`` entry that layer decay computes itself.
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


@dataclass(frozen=True)
class Key:
    """One ``paramwise_cfg`` key.

    - ``check(path, value)`` returns the value normalised or raises TypeError / ValueError;
    - ``default``: the value when the key is absent (or None); ``shown_default``: how the README's
      key table writes it when ``repr(default)`` is not what a user reads (``'from the model'``);
    - ``doc``: its meaning, in one line (the constructors' docstrings list it);
    - ``home``: where the key belongs, said when a constructor or recipe that ignores it is given
      it;
    - ``requires``: a key this one goes with (ViTDet's ``decay_type`` needs ``decay_rate``).
    """

    name: str
    check: Callable[[str, Any], Any]
    default: Any = None
    doc: str = ''
    shown_default: str = ''
    home: str = ''
    requires: str = ''

    @property
    def default_text(self) -> str:
        """The default as the documentation writes it."""
        if self.shown_default:
            return self.shown_default
        return '{}' if isinstance(self.default, Mapping) else repr(self.default)


@dataclass(frozen=True)
class OneOf:
    """The check of a key whose value is one of ``choices``."""

    choices: Tuple[Any, ...]

    def __call__(self, path: str, value: Any) -> Any:
        return check_choice(path, value, self.choices)


def normalize_prefix(prefix: str) -> str:
    """``'img_backbone'`` -> ``'img_backbone.'``; ``''`` stays ``''`` (a bare backbone)."""
    return prefix if not prefix or prefix.endswith('.') else prefix + '.'


def _check_rate(path: str, value: Any) -> float:
    return check_number(path, value, RATE, 'a number in (0, 1]')


def check_multiplier(path: str, value: Any) -> float:
    """An lr or weight-decay multiplier: a finite number >= 0."""
    return check_number(path, value, NON_NEGATIVE, 'a number >= 0')


def _check_prefix(path: str, value: Any) -> str:
    if not isinstance(value, str) or value.startswith('.') or '..' in value:
        raise TypeError(f"{path} must be a module name such as 'backbone' or 'img_backbone' "
                        f"(or '' for a bare backbone), got {value!r}")
    return normalize_prefix(value)


def _check_custom_keys(path: str, value: Any) -> Mapping[str, Mapping[str, Any]]:
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


#: The two rate keys; a constructor's schema names the one(s) it reads.
LAYER_DECAY_RATE = Key(
    'layer_decay_rate', _check_rate, doc='the decay per layer, in (0, 1]',
    home='CustomLayerDecayOptimizerConstructor (InternVL, InternImage: with depths / '
         'offset_lr_scale) and LayerDecayOptimizerConstructor (BEiT, ViT-Adapter, EVA)')
DECAY_RATE = Key(
    'decay_rate', _check_rate, doc='the decay per layer or stage, in (0, 1]',
    home="LearningRateDecayOptimizerConstructor (mmdet / mmseg ConvNeXt, vit_wise) and "
         "LayerDecayOptimizerConstructor (mmdet's ViTDet project)")

#: Keys every layer-decay constructor reads.
LAYER_DECAY_KEYS: Tuple[Key, ...] = (
    Key('num_layers', check_positive_int, None,
        'L, the number of blocks; inferred from the model when omitted',
        shown_default='from the model'),
    Key('exclude_tokens_from_decay', check_bool, False,
        'weight_decay 0 for class/mask/register tokens, position embeddings and the names the '
        "model's no_weight_decay() lists (the peers meant to but never did, so off by default)"),
    Key('layer_ids_from_model', check_bool, False,
        "layer ids from the model's or its backbone's get_layer_depth(param_name, prefix) "
        '(mmpretrain protocol) instead of the name rules'),
    Key('backbone_prefix', _check_prefix, None,
        "the module holding the backbone ('img_backbone', '' for a bare backbone); found from "
        "the names when omitted (backbone., img_backbone., where the layout is)",
        shown_default='found from the names'),
    Key('head_embeddings_at_layer_0', check_bool, True,
        "Mask2Former's decode_head query_embed / query_feat / level_embed / cls_embed / "
        'mask_embed train at layer 0 as the published recipes do; False puts them with the head'),
)

#: MMEngine's ``DefaultOptimWrapperConstructor`` keys, which work together with layer decay.
MMENGINE_KEYS: Tuple[Key, ...] = (
    Key('custom_keys', _check_custom_keys, MappingProxyType({}),
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
    Key('bypass_duplicate', check_bool, None,
        'a tensor reachable under several names is optimized once, under its first name, as '
        'named_parameters() and the published layer-decay constructors take it, and the report '
        "lists it (unset or True); False refuses shared tensors, as MMEngine's own constructor "
        'does', shown_default='unset'),
)

#: Keys only some recipes read (the recipes name them; a recipe that ignores one refuses it).
def _check_depths(path: str, value: Any) -> Tuple[int, ...]:
    return check_positive_ints(path, value, 'the number of blocks per stage, e.g. [4, 4, 18, 4]')


_INTERNIMAGE_HOME = "InternImage's configs use constructor='CustomLayerDecayOptimizerConstructor'. "
_VIT_WISE_HOME = ("It belongs to constructor='LearningRateDecayOptimizerConstructor' with "
                  "decay_type='vit_wise'. ")
DEPTHS = Key('depths', _check_depths, None,
             "InternImage, Swin: blocks per level, e.g. [4, 4, 18, 4]; checked against the model's "
             'names; num_layers defaults to sum(depths)', home=_INTERNIMAGE_HOME)
OFFSET_LR_SCALE = Key('offset_lr_scale', check_multiplier, None,
                      'InternImage: multiplies the lr of sampling_offsets / reference_points '
                      '(default 1.0)', home=_INTERNIMAGE_HOME)
BACKBONE_SMALL_LR = Key('backbone_small_lr', check_bool, False,
                        'InternImage: multiplies every lr below the base lr by 0.1',
                        home=_INTERNIMAGE_HOME)
DINO_HEAD = Key('dino_head', check_bool, False,
                'InternImage (DINO detector): head-level sampling_offsets / reference_points get '
                '0.1x lr', home=_INTERNIMAGE_HOME)
CBNET_LAYER_DECAY = Key(
    'cbnet_layer_decay', check_bool, False,
    "InternImage on CB-InternImage: every backbone.cb_modules.K copy gets InternImage's per-block "
    'ids (False, as the published CB-H runs trained: both published rules match only '
    'backbone.levels / backbone.patch_embed, so the CB backbone gets the head id)',
    home=_INTERNIMAGE_HOME)
HEAD_DECAY_RATE = Key('head_decay_rate', check_multiplier, None,
                      "decay_type='vit_wise' (OmniDrive / StreamPETR / Far3D): multiplies the lr "
                      'of everything outside the backbone (default 1.0)', home=_VIT_WISE_HOME)
LM_HEAD_DECAY_RATE = Key('lm_head_decay_rate', check_multiplier, None,
                         "decay_type='vit_wise': multiplies the lr of lm_head.* instead (default "
                         "0.1); as OmniDrive trained, lm_head joins the first head-id group's lr "
                         '(see split_head_group)', home=_VIT_WISE_HOME)
SPLIT_HEAD_GROUP = Key(
    'split_head_group', check_bool, False,
    "decay_type='vit_wise': give lm_head.* its lm_head_decay_rate and the backbone's head-id "
    'parameters 1.0 (False, as OmniDrive trained: its groups are named by layer id only, so '
    "every head-id parameter takes the lr of the first one, the detection head's "
    'head_decay_rate)', home=_VIT_WISE_HOME)

#: Old spellings users carry over between the constructors and from mmcv 1.x configs.
SPELLING_HINTS: Dict[str, str] = {'decay_rate': 'layer_decay_rate',
                                  'layer_decay_rate': 'decay_rate', 'num_layer': 'num_layers',
                                  'layer_decay': 'layer_decay_rate'}


def key_home(name: str) -> Optional[str]:
    """Where a rate key belongs (said when another constructor is given it)."""
    return {key.name: key.home for key in (LAYER_DECAY_RATE, DECAY_RATE)}.get(name)
