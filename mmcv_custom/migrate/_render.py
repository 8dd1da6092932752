"""Write a :class:`~mmcv_custom.migrate.result.Migration` as an OpenMMLab 2.x config file.

The file starts with a comment block: where it came from, the old keys it converted, every old key
it did *not* convert (with the reason) and the notes; then one assignment per new section, written
as ``dict(...)`` literals that ``mmengine.Config.fromfile`` reads back to the same values.
"""
import keyword
import textwrap
from typing import Any, List

from ._result import Migration

INDENT = '    '
WIDTH = 100


def _is_identifier(key: Any) -> bool:
    return isinstance(key, str) and key.isidentifier() and not keyword.iskeyword(key)


def format_value(value: Any, level: int = 0, prefix: int = 0) -> str:
    """``value`` as Python source: ``dict(k=v)`` for identifier keys, on one line when it fits
    in ``WIDTH`` columns after ``level`` indents and ``prefix`` characters, else one item per
    line."""
    flat = _format_flat(value)
    if (len(flat) + len(INDENT) * level + prefix <= WIDTH
            or not isinstance(value, (dict, list, tuple))):
        return flat
    inner = INDENT * (level + 1)
    if isinstance(value, dict):
        if all(_is_identifier(key) for key in value):
            items = [f'{inner}{key}={format_value(item, level + 1, len(key) + 2)}'
                     for key, item in value.items()]
            return 'dict(\n' + ',\n'.join(items) + ')'
        items = [f'{inner}{key!r}: {format_value(item, level + 1, len(repr(key)) + 3)}'
                 for key, item in value.items()]
        return '{\n' + ',\n'.join(items) + '}'
    items = [f'{inner}{format_value(item, level + 1)}' for item in value]
    if isinstance(value, tuple):
        return '(\n' + ',\n'.join(items) + (',)' if len(items) == 1 else ')')
    return '[\n' + ',\n'.join(items) + ']'


def _format_flat(value: Any) -> str:
    if isinstance(value, dict):
        if all(_is_identifier(key) for key in value):
            return 'dict(' + ', '.join(f'{key}={_format_flat(item)}'
                                       for key, item in value.items()) + ')'
        return '{' + ', '.join(f'{key!r}: {_format_flat(item)}'
                               for key, item in value.items()) + '}'
    if isinstance(value, list):
        return '[' + ', '.join(_format_flat(item) for item in value) + ']'
    if isinstance(value, tuple):
        inner = ', '.join(_format_flat(item) for item in value)
        return f'({inner},)' if len(value) == 1 else f'({inner})'
    return repr(value)


def _comment(text: str, first: str = '#   - ', rest: str = '#     ') -> List[str]:
    lines = textwrap.wrap(text, WIDTH - len(first), break_long_words=False,
                          break_on_hyphens=False)
    return [first + lines[0]] + [rest + line for line in lines[1:]]


def render_migration(migration: Migration) -> str:
    """The new config file's text."""
    head = ["# OpenMMLab 2.x optimization settings, converted by mmcv_custom's "
            'tools/migrate_config.py']
    if migration.source:
        head.append(f'# from the mmcv 1.x config {migration.source}')
    head += _comment(f'Converted: {", ".join(migration.converted) or "nothing"}', '# ', '#   ')
    head.append('#')
    head.append('# NOT converted (write these for OpenMMLab 2.x yourself; the values are in the '
                'old config):')
    if not migration.not_converted:
        head.append('#   (nothing)')
    by_reason: dict = {}
    for key, reason in migration.not_converted.items():
        by_reason.setdefault(reason, []).append(key)
    for reason, keys in by_reason.items():
        head += _comment(f'{", ".join(keys)}: {reason}')
    if migration.notes:
        head.append('#')
        head.append('# Notes:')
        for note in migration.notes:
            head += _comment(note)
    body = [f'{name} = {format_value(value, prefix=len(name) + 3)}'
            for name, value in migration.sections.items()]
    return '\n'.join(head) + '\n\n' + '\n'.join(body) + '\n'
