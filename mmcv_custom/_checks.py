"""The one family of argument checks: numbers, ints, flags and choices.

Every check takes the argument's ``path`` (``'paramwise_cfg.layer_decay_rate'``,
``'LrUpdaterLR: warmup_ratio'``) and its value, returns the value normalised (``float``,
``int``, ...) and raises, as torch's optimizers do, an error that names the argument, the value
and what was expected: ``TypeError`` for a value of the wrong type, ``ValueError`` for one out of
range, both worded ``{path} must be {expected}, got {value!r}``. ``bool`` is never a number.
"""
import math
import numbers
from dataclasses import dataclass
from typing import Any, Optional, Sequence, Tuple, TypeVar

__all__ = ['Interval', 'ANY', 'NON_NEGATIVE', 'POSITIVE', 'RATE', 'is_number', 'check_number',
           'check_positive_int', 'check_positive_ints', 'check_bool', 'check_choice']

T = TypeVar('T')


@dataclass(frozen=True)
class Interval:
    """The numbers a check accepts, and how a message says so (``'in (0, 1]'``, ``'>= 0'``).

    ``text`` replaces the generated wording where a caller's messages say more (``'a finite
    number >= 0'``); it is then used for non-finite values too.
    """

    low: Optional[float] = None
    high: Optional[float] = None
    low_open: bool = False
    high_open: bool = False
    text: str = ''

    def __contains__(self, value: float) -> bool:
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return self.high is None or (value < self.high if self.high_open else value <= self.high)

    def __str__(self) -> str:
        if self.text:
            return self.text
        if self.low is not None and self.high is not None:
            return (f"in {'(' if self.low_open else '['}{self.low}, {self.high}"
                    f"{')' if self.high_open else ']'}")
        if self.low is not None:
            return f"{'>' if self.low_open else '>='} {self.low}"
        if self.high is not None:
            return f"{'<' if self.high_open else '<='} {self.high}"
        return 'a finite number'


#: Any finite number.
ANY = Interval()
NON_NEGATIVE = Interval(low=0)
POSITIVE = Interval(low=0, low_open=True)
#: A layer-decay rate.
RATE = Interval(low=0, high=1, low_open=True)


def is_number(value: Any) -> bool:
    """A real number that is not a ``bool``."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _got(value: Any) -> str:
    return f'got {value!r} ({type(value).__name__})'


def check_number(path: str, value: Any, allowed: Interval = ANY,
                 expected: str = 'a number') -> float:
    """``value`` as a float: a finite number in ``allowed``.

    ``expected`` is what the ``TypeError`` says a number should be (``'a number in (0, 1]'``).
    """
    if not is_number(value):
        raise TypeError(f'{path} must be {expected}, {_got(value)}')
    if not math.isfinite(value):
        raise ValueError(f"{path} must be {allowed.text or 'a finite number'}, got {value!r}")
    if value not in allowed:
        raise ValueError(f'{path} must be {allowed}, got {value!r}')
    return float(value)


def check_positive_int(path: str, value: Any) -> int:
    """``value``, an int >= 1."""
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise TypeError(f'{path} must be a positive int, {_got(value)}')
    if value < 1:
        raise ValueError(f'{path} must be a positive int, got {value!r}')
    return int(value)


def check_positive_ints(path: str, value: Any, example: str) -> Tuple[int, ...]:
    """A non-empty list or tuple of positive ints (``example``, e.g. ``'[4, 4, 18, 4]'``, is
    named in the ``TypeError``)."""
    if not isinstance(value, (list, tuple)) or not value:
        raise TypeError(f'{path} must be a non-empty list of {example}, got {value!r}')
    return tuple(check_positive_int(f'{path}[{index}]', item) for index, item in enumerate(value))


def check_bool(path: str, value: Any) -> bool:
    """``True`` or ``False`` (not 0 or 1)."""
    if not isinstance(value, bool):
        raise TypeError(f'{path} must be True or False, {_got(value)}')
    return value


def check_choice(path: str, value: T, choices: Sequence[T]) -> T:
    """One of ``choices``."""
    if value not in choices:
        raise ValueError(f'{path} must be one of {list(choices)}, got {value!r}')
    return value
