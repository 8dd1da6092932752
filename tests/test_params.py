"""Collecting parameters: the order, names and aliases the grouping relies on."""
from torch import nn

from mmcv_custom.layer_decay._params import collect_params
from toy_models import toy_vit_segmentor


def model_with_shared_module() -> nn.Module:
    model = toy_vit_segmentor(depth=2)
    model.aux_head = model.decode_head  # the same module under a second name
    model.backbone.blocks[1].norm2 = None  # an optional child that is absent
    return model


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
