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
