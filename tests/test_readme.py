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
