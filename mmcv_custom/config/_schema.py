"""``paramwise_cfg``, parsed once into frozen :class:`Settings` when a constructor is built,
before the model is touched. Unknown keys are refused with the list of known ones (and the likely
key); every value is checked; the caller's dict is never changed."""
import difflib
import textwrap
from dataclasses import dataclass
from typing import Any, Dict, FrozenSet, Mapping, Optional, Tuple

from ..recipes._published import RECIPE_OPTION_KEYS, RECIPES
from ._keys import (LAYER_DECAY_KEYS, MMENGINE_KEYS, SPELLING_HINTS, Key, MissingKeyError, OneOf,
                    UnknownKeyError, key_home)

__all__ = ['Settings', 'ParamwiseSchema', 'RECIPE_KEY', 'RULE_CHOOSERS']

#: ``recipe``: a published recipe by name, instead of the constructor's choice.
RECIPE_KEY = Key('recipe', OneOf(tuple(sorted(RECIPES))), None,
                 'a published recipe by name (mmcv_custom.RECIPES); chosen from the constructor, '
                 'its keys and the model when omitted', shown_default='chosen')
#: Keys that each choose the rule: a config gives at most one of them.
RULE_CHOOSERS = ('recipe', 'decay_type')


@dataclass(frozen=True)
class Settings:
    """``paramwise_cfg`` parsed: every key checked, defaults filled in, read-only.

    ``rate_key`` is the rate key the config gives and ``rate`` its value; ``recipe_options``
    holds the value of every recipe key (``depths``, ``offset_lr_scale``, ...); ``given`` names
    the keys the config sets (to a value other than None). The other fields are the keys of the
    same name (``mmcv_custom.config._keys``).
    """

    owner: str
    rate_key: str
    rate: float
    num_layers: Optional[int]
    exclude_tokens_from_decay: bool
    layer_ids_from_model: bool
    backbone_prefix: Optional[str]
    head_embeddings_at_layer_0: bool
    recipe: Optional[str]
    custom_keys: Mapping[str, Mapping[str, Any]]
    bias_lr_mult: Optional[float]
    bias_decay_mult: Optional[float]
    norm_decay_mult: Optional[float]
    dwconv_decay_mult: Optional[float]
    flat_decay_mult: Optional[float]
    dcn_offset_lr_mult: Optional[float]
    bypass_duplicate: Optional[bool]
    recipe_options: Mapping[str, Any]
    given: FrozenSet[str]
    decay_type: Optional[str] = None

    @property
    def recipe_keys_given(self) -> Tuple[str, ...]:
        """The recipe keys the config sets to something other than None or False."""
        return tuple(name for name, value in self.recipe_options.items()
                     if name in self.given and value is not False)

    @property
    def mmengine_multipliers_given(self) -> bool:
        """Whether the config sets one of MMEngine's multiplier keys (``bias_lr_mult``, ...)."""
        return any(value is not None for value in (
            self.bias_lr_mult, self.bias_decay_mult, self.norm_decay_mult,
            self.dwconv_decay_mult, self.flat_decay_mult, self.dcn_offset_lr_mult))


@dataclass(frozen=True)
class ParamwiseSchema:
    """Every ``paramwise_cfg`` key one constructor accepts: its rate key(s) (exactly one must be
    given), its own keys (``decay_type``), then the keys all share (``LAYER_DECAY_KEYS``,
    ``recipe`` and the recipes' keys, ``MMENGINE_KEYS``)."""

    owner: str
    rate_keys: Tuple[Key, ...]
    own_keys: Tuple[Key, ...] = ()

    @property
    def keys(self) -> Tuple[Key, ...]:
        """Every key, in the order the documentation lists them."""
        return (self.rate_keys + self.own_keys + LAYER_DECAY_KEYS + (RECIPE_KEY,)
                + RECIPE_OPTION_KEYS + MMENGINE_KEYS)

    @property
    def names(self) -> Tuple[str, ...]:
        return tuple(key.name for key in self.keys)

    def describe(self) -> str:
        """The keys as a docstring section: ``- ``name`` (default ...): meaning``."""
        lines = ['``paramwise_cfg`` keys (from the schema):', '']
        for key in self.keys:
            default = ('**required**' if key in self.rate_keys and len(self.rate_keys) == 1
                       else f'default {key.default_text}')
            lines += textwrap.wrap(f'- ``{key.name}`` ({default}): {key.doc}', 96,
                                   subsequent_indent='  ', break_on_hyphens=False)
        return '\n'.join(lines)

    def _unknown_key_message(self, unknown: str) -> str:
        names = self.names
        hint = SPELLING_HINTS.get(unknown)
        if hint not in names:
            close = difflib.get_close_matches(unknown, names, n=1, cutoff=0.7)
            hint = close[0] if close else None
        did_you_mean = f' Did you mean {hint!r}?' if hint else ''
        home = key_home(unknown)
        home = f'. {unknown!r} is a key of {home}' if home else ''
        return (f'{self.owner}: unknown paramwise_cfg key {unknown!r}.{did_you_mean} '
                f'Known keys: {sorted(names)}{home}')

    def parse(self, paramwise_cfg: Optional[Mapping[str, Any]]) -> Settings:
        """:class:`Settings` from ``paramwise_cfg`` (None: empty).

        Raises TypeError (not a dict, a value of the wrong type), :class:`UnknownKeyError` (a key
        no part of this constructor reads), :class:`MissingKeyError` (no rate, or both of two
        rate keys) and ValueError (a value out of range, keys that contradict each other).
        """
        if paramwise_cfg is None:
            paramwise_cfg = {}
        if not isinstance(paramwise_cfg, Mapping):
            raise TypeError(f'{self.owner}: paramwise_cfg must be a dict, got '
                            f'{type(paramwise_cfg).__name__}')
        keys = {key.name: key for key in self.keys}
        for name in paramwise_cfg:
            if name not in keys:
                raise UnknownKeyError(self._unknown_key_message(name))
        given = frozenset(name for name, value in paramwise_cfg.items() if value is not None)
        values: Dict[str, Any] = {name: (key.check(f'paramwise_cfg.{name}', paramwise_cfg[name])
                                         if name in given else key.default)
                                  for name, key in keys.items()}
        rates = [key for key in self.rate_keys if key.name in given]
        if len(rates) != 1:
            self._missing_rate(rates, paramwise_cfg)
        for name in given:
            required = keys[name].requires
            if required and required not in given:
                raise ValueError(f'{self.owner}: paramwise_cfg.{name} goes with {required} '
                                 f'({keys[required].doc}), which the config does not set: '
                                 f'remove paramwise_cfg.{name}')
        choosers = [name for name in RULE_CHOOSERS if name in given]
        if len(choosers) > 1:
            raise ValueError(
                f'{self.owner}: paramwise_cfg sets both '
                + ' and '.join(f'{name}={paramwise_cfg[name]!r}' for name in choosers)
                + f', which both choose the rule. paramwise_cfg.{choosers[0]} decides alone: '
                + ' '.join(f'remove paramwise_cfg.{name}' for name in choosers[1:]) + '.')
        rate_key = rates[0].name
        own = {key.name: values[key.name] for key in self.own_keys}
        return Settings(
            owner=self.owner, rate_key=rate_key, rate=values[rate_key],
            recipe_options={key.name: values[key.name] for key in RECIPE_OPTION_KEYS},
            given=given, recipe=values['recipe'],
            **{key.name: values[key.name] for key in LAYER_DECAY_KEYS + MMENGINE_KEYS}, **own)

    def _missing_rate(self, rates: Tuple[Key, ...], paramwise_cfg: Mapping[str, Any]) -> None:
        if len(self.rate_keys) == 1:
            (key,) = self.rate_keys
            raise MissingKeyError(
                f'{self.owner}: paramwise_cfg.{key.name} is required ({key.doc}); without it no '
                f'layer decay is applied. Got paramwise_cfg={dict(paramwise_cfg)!r}')
        raise MissingKeyError(
            f'{self.owner}: paramwise_cfg needs exactly one of '
            + ' or '.join(f'{key.name} ({key.doc})' for key in self.rate_keys)
            + f'; got {[key.name for key in rates] or "neither"}. Got '
            f'paramwise_cfg={dict(paramwise_cfg)!r}')
