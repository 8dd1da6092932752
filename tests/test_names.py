"""Canonical parameter names and original shapes (single process; the sharded cases run on 2 ranks
in test_reliability_fsdp.py)."""
import pytest
import torch
from torch import nn
from torch.distributed.algorithms._checkpoint.checkpoint_wrapper import checkpoint_wrapper

from mmcv_custom.layer_decay._names import canonical_module_paths, canonical_name
from mmcv_custom.layer_decay._params import collect_params
from mmcv_custom.layer_decay._shapes import UnknownShapeError, original_shape
from toy_models import toy_vit_segmentor


@pytest.mark.parametrize('raw, wrappers, expected', [
    ('backbone.layers.0._fsdp_wrapped_module.ln1.weight', (), 'backbone.layers.0.ln1.weight'),
    ('backbone.layers.0._fsdp_wrapped_module._checkpoint_wrapped_module.ln1.weight', (),
     'backbone.layers.0.ln1.weight'),
    ('_orig_mod.backbone.cls_token', (), 'backbone.cls_token'),
    ('backbone._fsdp_wrapped_module.pos_embed', (), 'backbone.pos_embed'),
    ('backbone.module.blocks.0.attn.weight', ('backbone',), 'backbone.blocks.0.attn.weight'),
    ('module.backbone.module.norm.weight', ('', 'module.backbone'), 'backbone.norm.weight'),
    # a user's own child called ``module`` (not below a model wrapper) is kept
    ('decode_head.module.weight', ('backbone',), 'decode_head.module.weight'),
    ('backbone.module.weight', (), 'backbone.module.weight'),
])
def test_canonical_name_removes_exactly_the_segments_wrappers_insert(raw, wrappers, expected):
    assert canonical_name(raw, frozenset(wrappers)) == expected


def wrapped_segmentor() -> nn.Module:
    """Blocks under activation checkpointing, then the whole model compiled."""
    torch.manual_seed(0)
    model = toy_vit_segmentor(depth=2)
    for index, block in enumerate(model.backbone.blocks):
        model.backbone.blocks[index] = checkpoint_wrapper(block)
    return torch.compile(model)


def test_collect_params_gives_bare_names_module_paths_and_shapes_under_wrappers():
    torch.manual_seed(0)
    bare = collect_params(toy_vit_segmentor(depth=2))
    model = wrapped_segmentor()
    wrapped = collect_params(model)
    assert wrapped.trainable_names == bare.trainable_names
    assert [info.module_name for info in wrapped.trainable] == \
        [info.module_name for info in bare.trainable]
    assert [info.shape for info in wrapped.trainable] == [info.shape for info in bare.trainable]
    raw = dict((info.name, info.raw_name) for info in wrapped.trainable)
    assert raw['backbone.blocks.1.norm1.weight'] == \
        '_orig_mod.backbone.blocks.1._checkpoint_wrapped_module.norm1.weight'
    # the module a path names is the wrapped one, not its wrapper (the rules test its type)
    assert isinstance(wrapped.modules['backbone.blocks.0.norm1'], nn.LayerNorm)
    assert type(wrapped.modules['backbone.blocks.0']).__name__ == 'Block'
    paths = canonical_module_paths(model)
    assert paths['_orig_mod.backbone.blocks.0._checkpoint_wrapped_module'] == \
        'backbone.blocks.0'


def test_two_parameters_with_one_canonical_name_are_an_error():
    model = nn.Module()
    model.head = nn.Linear(2, 2)
    model._orig_mod = nn.Module()
    model._orig_mod.head = nn.Linear(2, 2)
    with pytest.raises(ValueError, match=r"parameters 'head.weight' and '_orig_mod.head.weight' "
                       r"both have the canonical name 'head.weight'"):
        collect_params(model)


def test_an_fsdp_managed_parameter_without_records_is_an_error_not_its_shard_shape():
    shard = nn.Parameter(torch.zeros(6))
    shard._fsdp_flattened = True  # what FSDP marks its original parameters with
    with pytest.raises(UnknownShapeError, match=r"parameter 'backbone.pos_embed' is managed by "
                       r'FSDP .*shape \(6,\)'):
        original_shape('backbone.pos_embed', shard, {})
    assert original_shape('x', shard, {id(shard): torch.Size([1, 2, 3])}) == (1, 2, 3)


def test_a_deepspeed_zero3_partition_keeps_its_shape_in_ds_shape():
    partition = nn.Parameter(torch.zeros(0))
    partition.ds_shape = torch.Size([4, 8])
    assert original_shape('w', partition, {}) == (4, 8)


def test_torchs_flat_parameter_still_records_what_shapes_reads():
    # engine.shapes reads these FlatParameter records (torch 2.13); when torch renames them,
    # this fails before any training run decides a weight decay from a shard
    from torch.distributed.fsdp._flat_param import FlatParameter, SharedParamInfo
    annotations = FlatParameter.__annotations__
    for attribute in ('_params', '_shapes', '_param_infos', '_shared_params',
                      '_shared_param_infos', '_fqns'):
        assert attribute in annotations, attribute
    assert {'prim_module', 'prim_param_name'} <= set(SharedParamInfo._fields)
