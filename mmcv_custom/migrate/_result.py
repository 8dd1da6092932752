"""What a migration produced: the new sections, notes, and the old keys left unconverted."""
import copy
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping


class MigrationError(ValueError):
    """An mmcv 1.x setting that cannot be converted faithfully (the message says which and why).

    Raised instead of writing a config whose training would differ from the original's.
    """


@dataclass
class Migration:
    """The result of :func:`mmcv_custom.migrate.migrate_config`.

    Attributes:
        source: the old config's path ('' when a ``Config`` object was given).
        sections: the new top-level keys, in output order (``custom_imports``, ``optim_wrapper``,
            ``param_scheduler``, ``train_cfg``, ...).
        converted: the old top-level keys that were converted.
        not_converted: every other old top-level key, with the reason it was left alone.
        notes: one line per decision a user should know about (a changed floor, a dropped
            mmcv 1.x-only option, an amp requirement, ...).
    """

    source: str
    sections: Dict[str, Any] = field(default_factory=dict)
    converted: List[str] = field(default_factory=list)
    not_converted: Dict[str, str] = field(default_factory=dict)
    notes: List[str] = field(default_factory=list)


def plain_copy(value: Any) -> Any:
    """A deep copy of a config value with every mapping (``ConfigDict`` too) as a ``dict``;
    lists and tuples keep their type."""
    if isinstance(value, Mapping):
        return {key: plain_copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain_copy(item) for item in value]
    if isinstance(value, tuple):
        return tuple(plain_copy(item) for item in value)
    return copy.deepcopy(value)
