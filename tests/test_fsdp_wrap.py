"""The FSDP wrap and activation-checkpointing policies configs name
(mmcv_custom/distributed/_fsdp_policies.py)."""
import pytest
from mmengine.registry import FUNCTIONS
from torch import nn

import mmcv_custom  # noqa: F401  (registers the policies)
from mmcv_custom.distributed._fsdp_policies import is_vit_block, wrap_modules_by_class_name


class TransformerEncoderLayer(nn.Module):
    """Named like mmpretrain's ViT block."""


def test_the_policies_are_found_by_the_names_configs_use():
    with FUNCTIONS.switch_scope_and_registry(None) as registry:
        assert registry.get('wrap_modules_by_class_name') is wrap_modules_by_class_name
        assert registry.get('is_vit_block') is is_vit_block


def test_wrap_policy_recurses_everywhere_and_wraps_only_the_named_classes():
    block, linear = TransformerEncoderLayer(), nn.Linear(2, 2)
    names = ['TransformerEncoderLayer']
    assert wrap_modules_by_class_name(linear, recurse=True, nonwrapped_numel=6,
                                      class_names=names)
    assert wrap_modules_by_class_name(block, recurse=False, nonwrapped_numel=0,
                                      class_names=names)
    assert not wrap_modules_by_class_name(linear, recurse=False, nonwrapped_numel=6,
                                          class_names=names)


def test_is_vit_block_knows_the_block_classes_of_the_vits_served():
    assert is_vit_block(TransformerEncoderLayer())
    assert not is_vit_block(nn.LayerNorm(4))


def test_class_names_given_as_one_string_are_refused():
    # with a string, `name in 'Block'` would also match classes named 'lock' or 'B'
    with pytest.raises(TypeError, match=r"class_names must be a list of class names \(str\), "
                       r"got 'Block'"):
        wrap_modules_by_class_name(nn.Linear(2, 2), recurse=False, nonwrapped_numel=6,
                                   class_names='Block')
