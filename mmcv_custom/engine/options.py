"""Per-parameter weight decay and lr multiplier: the layer-decay no-decay rule combined with
MMEngine's ``paramwise_cfg`` keys.

Precedence (the first that applies wins, as in ``DefaultOptimWrapperConstructor``):

1. ``custom_keys``: the longest key contained in the parameter's name (ties: alphabetical).
   ``lr_mult`` multiplies the layer-decay lr; ``decay_mult`` sets ``weight_decay = base * decay_mult``
   (without ``decay_mult`` the layer-decay rule below decides); other options go into the group.
2. ``bias_lr_mult`` (biases outside norm and DCN layers), ``dcn_offset_lr_mult`` (the
   ``conv_offset`` of mmcv deformable convs): multiply the lr.
3. Weight decay, first match: ``norm_decay_mult`` (parameters of norm layers), ``bias_decay_mult``
   (biases), ``dwconv_decay_mult`` (depth-wise convs), ``flat_decay_mult`` (1-D parameters):
   ``weight_decay = base * mult``.
4. Otherwise the recipe's weight-decay rule (InternVL / BEiT / mmdet / mmseg: ``weight_decay = 0``
   for 1-D parameters and names ending in ``.bias``; InternImage also for names containing
   ``relative_position``, ``norm`` or ``sampling_offsets``; ViTDet only for block norms and
   ``pos_embed``), and, with ``exclude_tokens_from_decay=True``, for tokens and position embeddings
   and the names the model's ``no_weight_decay()`` lists; else the base.

A ``custom_keys`` entry without ``decay_mult`` changes the lr only: the parameter keeps the weight
decay of rule 4 (so ``custom_keys={'backbone': dict(lr_mult=0.1)}`` does not start decaying biases
and norms, as MMEngine's own constructor would).

The recipe's own lr multipliers (InternImage's ``offset_lr_scale``, the head multiplier of the
mmdet3d-style configs, ...) apply on top of all of these and tag the group's name.
"""
import re
from typing import Any, FrozenSet, Mapping, Optional, Tuple

from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.modules.instancenorm import _InstanceNorm

from ..layer_ids.base import LayerIdRule
from .params import ModelParams, ParamInfo

NORM_TYPES = (_BatchNorm, _InstanceNorm, nn.GroupNorm, nn.LayerNorm)
#: The MMEngine ``paramwise_cfg`` multipliers; each is None when not set.
MULTIPLIER_KEYS = ('bias_lr_mult', 'bias_decay_mult', 'norm_decay_mult', 'dwconv_decay_mult',
                   'flat_decay_mult', 'dcn_offset_lr_mult')
_TOKEN = re.compile(r'(?:^|_)(?:tokens?|pos_embed|pos_embedding)$')
#: What a token name ends with (a cheap test before ``is_token_name``'s regex).
TOKEN_ENDINGS = ('token', 'tokens', 'pos_embed', 'pos_embedding')


def is_token_name(name: str) -> bool:
    """Class / mask / distillation / register tokens and position embeddings, by their last name
    component (``cls_token``, ``register_tokens``, ``pos_embed``, ``absolute_pos_embed`` ...)."""
    return bool(_TOKEN.search(name.rsplit('.', 1)[-1]))


class ParamOptions:
    """What the rules decide for one parameter. Equal options share a group; ``extras`` (options
    copied from ``custom_keys``) compare by ``repr``, since values from a config may be lists."""

    __slots__ = ('decays', 'weight_decay', 'lr_mult', 'extras', 'recipe_mult', 'tag', 'key')

    def __init__(self, decays: bool, weight_decay: float, lr_mult: float = 1.0,
                 extras: Tuple[Tuple[str, Any], ...] = (), recipe_mult: float = 1.0,
                 tag: str = '') -> None:
        self.decays = decays
        self.weight_decay = weight_decay
        self.lr_mult = lr_mult
        self.extras = extras
        #: The recipe's own multiplier and the tag it adds to the group name.
        self.recipe_mult = recipe_mult
        self.tag = tag
        #: What identifies the options: equal keys, equal options (and the same group).
        self.key = (decays, weight_decay, lr_mult, repr(extras) if extras else '', recipe_mult,
                    tag)

    def with_recipe_multiplier(self, factor: float, tag: str) -> 'ParamOptions':
        """These options with the recipe's multiplier ``factor`` and group ``tag``."""
        return ParamOptions(self.decays, self.weight_decay, self.lr_mult, self.extras, factor, tag)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ParamOptions) and self.key == other.key

    def __hash__(self) -> int:
        return hash(self.key)

    def __repr__(self) -> str:
        return (f'ParamOptions(decays={self.decays}, weight_decay={self.weight_decay}, '
                f'lr_mult={self.lr_mult}, extras={self.extras}, recipe_mult={self.recipe_mult}, '
                f'tag={self.tag!r})')


def _is_dwconv(module: nn.Module) -> bool:
    return isinstance(module, nn.Conv2d) and module.in_channels == module.groups


def _dcn_types() -> tuple:
    try:
        from mmcv.ops import DeformConv2d, ModulatedDeformConv2d
    except ImportError:
        return ()
    return (DeformConv2d, ModulatedDeformConv2d)


class ParamOptionRules:
    """Decides ``ParamOptions`` for each parameter of one model; ``rule`` is the layer-id rule in
    use (its weight-decay rule and lr multipliers), ``num_layers`` its ``L``."""

    def __init__(self, settings: Mapping[str, Any], base_wd: float, model_params: ModelParams,
                 rule: LayerIdRule, num_layers: int,
                 no_decay_names: FrozenSet[str] = frozenset()) -> None:
        self.settings = settings
        self.rule = rule
        self.num_layers = num_layers
        recipe = getattr(rule, 'recipe', None)
        self.recipe_multiplies = bool(recipe is not None and recipe.multipliers)
        #: The tags of the recipe multipliers applied so far (the report names unmatched ones).
        self.applied_tags: set = set()
        #: The rule's weight decay is the common one (1-D and biases): checked inline.
        self.plain_no_decay = getattr(rule, 'plain_no_decay', False)
        self.base_wd = base_wd
        self.no_decay_names = no_decay_names
        self.custom_keys = settings['custom_keys']
        self.sorted_custom_keys = sorted(sorted(self.custom_keys), key=len, reverse=True)
        self.modules = model_params.modules
        needs_dcn = any(settings[key] is not None for key in
                        ('bias_lr_mult', 'bias_decay_mult', 'flat_decay_mult', 'dcn_offset_lr_mult'))
        self.dcn_types = _dcn_types() if needs_dcn else ()
        #: Only the layer-decay rule applies (no custom_keys, no MMEngine multiplier).
        self.layer_decay_only = not self.custom_keys and all(
            settings[key] is None for key in MULTIPLIER_KEYS)
        self._decay = ParamOptions(decays=True, weight_decay=base_wd)
        self._no_decay = ParamOptions(decays=False, weight_decay=0.0)

    def default_no_decay(self, info: ParamInfo) -> bool:
        """The recipe's rule (InternVL's: 1-D parameters and biases, by the original shape,
        ``ParamInfo.shape``), the model's ``no_weight_decay()`` names and (optionally) tokens are
        not decayed."""
        name = info.name
        ndim = len(info.shape)
        if self.plain_no_decay:
            if ndim == 1 or name.endswith('.bias'):
                return True
        elif self.rule.no_decay(name, ndim):
            return True
        if name in self.no_decay_names:
            return True
        return self.settings['exclude_tokens_from_decay'] and is_token_name(info.name)

    def _in_dcn(self, info: ParamInfo) -> bool:
        if not self.dcn_types or not info.module_name:
            return False
        parent = self.modules.get(info.module_name.rpartition('.')[0])
        return isinstance(parent, self.dcn_types)

    def _weight_decay_from_mult(self, mult: float) -> ParamOptions:
        return ParamOptions(decays=mult > 0, weight_decay=self.base_wd * mult)

    def _layer_decay_default(self, info: ParamInfo) -> ParamOptions:
        return self._no_decay if self.default_no_decay(info) else self._decay

    def _custom(self, info: ParamInfo, key: str) -> ParamOptions:
        options = dict(self.custom_keys[key])
        lr_mult = options.pop('lr_mult', 1.0)
        decay_mult = options.pop('decay_mult', None)
        base = (self._layer_decay_default(info) if decay_mult is None
                else self._weight_decay_from_mult(decay_mult))
        return ParamOptions(base.decays, base.weight_decay, lr_mult, tuple(sorted(options.items())))

    def _lr_mult(self, info: ParamInfo, in_dcn: bool) -> float:
        settings = self.settings
        lr_mult = 1.0
        is_norm = isinstance(info.module, NORM_TYPES)
        if info.attr == 'bias' and settings['bias_lr_mult'] is not None and not (is_norm or in_dcn):
            lr_mult = settings['bias_lr_mult']
        if (settings['dcn_offset_lr_mult'] is not None and in_dcn
                and 'conv_offset' in info.module_name and isinstance(info.module, nn.Conv2d)):
            lr_mult = settings['dcn_offset_lr_mult']
        return lr_mult

    def _decay_mult(self, info: ParamInfo, in_dcn: bool) -> Optional[float]:
        settings = self.settings
        if isinstance(info.module, NORM_TYPES) and settings['norm_decay_mult'] is not None:
            return settings['norm_decay_mult']
        if info.attr == 'bias' and not in_dcn and settings['bias_decay_mult'] is not None:
            return settings['bias_decay_mult']
        if _is_dwconv(info.module) and settings['dwconv_decay_mult'] is not None:
            return settings['dwconv_decay_mult']
        if len(info.shape) == 1 and not in_dcn and settings['flat_decay_mult'] is not None:
            return settings['flat_decay_mult']
        return None

    def __call__(self, info: ParamInfo, layer_id: int) -> ParamOptions:
        options = self._options(info)
        if self.recipe_multiplies:
            factor, tag = self.rule.multiplier(info.name, layer_id, self.num_layers)
            if tag:
                self.applied_tags.add(tag)
                return options.with_recipe_multiplier(factor, tag)
        return options

    def _options(self, info: ParamInfo) -> ParamOptions:
        if self.layer_decay_only:
            return self._layer_decay_default(info)
        key = next((k for k in self.sorted_custom_keys if k in info.name), None)
        if key is not None:
            return self._custom(info, key)
        in_dcn = self._in_dcn(info)
        lr_mult = self._lr_mult(info, in_dcn)
        decay_mult = self._decay_mult(info, in_dcn)
        base = (self._layer_decay_default(info) if decay_mult is None
                else self._weight_decay_from_mult(decay_mult))
        if lr_mult == 1.0:
            return base
        return ParamOptions(base.decays, base.weight_decay, lr_mult)
