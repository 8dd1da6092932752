"""Collecting parameters: the order, names and aliases the grouping relies on."""
import pytest
from torch import nn

from mmcv_custom.engine.params import collect_params, walk_modules
from toy_models import toy_vit_segmentor


def model_with_shared_module() -> nn.Module:
    model = toy_vit_segmentor(depth=2)
    model.aux_head = model.decode_head  # the same module under a second name
    model.backbone.blocks[1].norm2 = None  # an optional child that is absent
    return model


def real_mmseg_vit() -> nn.Module:
    from mmseg.models.backbones import VisionTransformer
    return VisionTransformer(img_size=32, patch_size=8, embed_dims=16, num_layers=2,
                             num_heads=2, mlp_ratio=2)


@pytest.mark.parametrize('build', [model_with_shared_module, real_mmseg_vit])
def test_walk_modules_visits_what_named_modules_visits_in_the_same_order(build):
    model = build()
    walked = [(name, id(module)) for name, module in walk_modules(model)]
    expected = [(name, id(module))
                for name, module in model.named_modules(remove_duplicate=False)]
    assert walked == expected


def test_collect_params_follows_named_parameters_and_reports_aliases_and_frozen():
    model = model_with_shared_module()
    model.backbone.cls_token.requires_grad_(False)
    collected = collect_params(model)
    trainable = [name for name, param in model.named_parameters() if param.requires_grad]
    assert list(collected.trainable_names) == trainable
    assert [info.name for info in collected.trainable] == trainable
    assert collected.frozen_names == ('backbone.cls_token',)
    assert collected.aliases == (('aux_head.weight', 'decode_head.weight'),
                                 ('aux_head.bias', 'decode_head.bias'))
    assert collected.all_names == collected.trainable_names + ('backbone.cls_token',)
    first = collected.trainable[0]
    assert (first.name, first.module_name, first.attr) == ('backbone.pos_embed', 'backbone',
                                                           'pos_embed')
