"""The layer-decay engine: collect parameters, decide options, build groups, report (mechanism)."""
from .build import LayerDecayResult, build_layer_decay_groups
from .config import (ConfigKeyError, Key, MissingKeyError, ParamwiseSchema, UnknownKeyError)
from .groups import build_param_groups
from .report import (format_summary, format_table, group_records, log_param_groups, named_groups,
                     summarize_groups)

__all__ = [
    'LayerDecayResult', 'build_layer_decay_groups', 'ConfigKeyError', 'Key', 'MissingKeyError',
    'ParamwiseSchema', 'UnknownKeyError', 'build_param_groups', 'format_summary', 'format_table',
    'group_records', 'log_param_groups', 'named_groups', 'summarize_groups',
]
