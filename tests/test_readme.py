"""The README documents every paramwise_cfg key the constructors accept, and its commands."""
from pathlib import Path

import pytest

from mmcv_custom import (CustomLayerDecayOptimizerConstructor, LayerDecayOptimizerConstructor,
                         LearningRateDecayOptimizerConstructor)

README = (Path(__file__).resolve().parents[1] / 'README.md').read_text()


@pytest.mark.parametrize('cls', [CustomLayerDecayOptimizerConstructor,
                                 LearningRateDecayOptimizerConstructor,
                                 LayerDecayOptimizerConstructor])
def test_every_paramwise_key_is_documented(cls):
    for name in cls.schema.names:
        assert f'`{name}`' in README, name
        assert name in cls.__doc__, name


def test_readme_starts_with_the_two_commands():
    first_block = README.split('```bash', 1)[1].split('```', 1)[0]
    assert [line.split('#')[0].strip() for line in first_block.strip().splitlines()] == [
        'make demo', 'make test']


def test_every_internvit_config_is_in_the_readme_and_every_one_named_exists():
    import re
    root = Path(__file__).resolve().parents[1]
    on_disk = {path.name for path in (root / 'configs' / 'internvit').glob('*.py')}
    named = set(re.findall(r'(?:upernet|linear)_internvit-[\w.-]+\.py', README))
    named.discard('upernet_internvit-tiny_ld0.9_200it_shapes-seg.py')  # configs/demo/
    named.discard('upernet_internvit-6b.py')  # configs/_base_/models/
    assert named == on_disk


def test_the_readmes_internvit_6b_memory_figures_are_the_computed_ones():
    from mmcv_custom.analysis.memory import GIB, estimate_memory
    from test_internvit_configs import FULL, built
    _, model, _ = built(FULL)
    params = sum(param.numel() for param in model.parameters())
    text = ' '.join(README.split())  # line breaks as spaces
    assert f'({params / 1e9:.2f} B parameters)' in text
    figures = {engine: estimate_memory(engine, params, params, 8).total / GIB
               for engine in ('ddp_amp', 'zero1', 'fsdp')}
    assert f'{figures["ddp_amp"]:.0f} GiB per GPU under DDP' in text
    assert f'= {figures["zero1"]:.1f} GiB' in text  # Training a 6B backbone
    assert f'DeepSpeed ZeRO-1, bf16 (InternVL\'s) | {figures["zero1"]:.1f} GiB |' in text
    assert f'FSDP `FULL_SHARD`, bf16 | {figures["fsdp"]:.1f} GiB |' in text


def _table_rows(heading_line: str):
    """The rows of the markdown table that follows ``heading_line`` (cells without backticks)."""
    lines = README.split(heading_line, 1)[1].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith('|'))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith('|'):
            break
        rows.append([cell.strip().replace('`', '') for cell in line.strip('|').split('|')])
    return rows


def test_the_readme_key_table_agrees_with_the_schema():
    """The shared keys' defaults are the schema's; every key is in the schema."""
    from mmcv_custom.config._keys import LAYER_DECAY_KEYS, MMENGINE_KEYS
    from mmcv_custom.config._schema import RECIPE_KEY
    keys = {key.name: key for key in LAYER_DECAY_KEYS + (RECIPE_KEY,) + MMENGINE_KEYS}
    rows = _table_rows('All three constructors:')
    assert {row[0] for row in rows} == set(keys)
    for name, default, _ in rows:
        assert default == keys[name].default_text, name


def test_the_readme_recipe_key_table_names_the_recipes_that_read_each_key():
    from mmcv_custom.recipes._published import RECIPE_KEYS
    rows = _table_rows("The recipes' own keys")
    assert {row[0]: row[1].split(', ') for row in rows} == {
        key: list(readers) for key, readers in RECIPE_KEYS.items()}
