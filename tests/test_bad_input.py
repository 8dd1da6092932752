"""Malformed configs and models: each is refused with its exception type and a message that names
the key or the parameter (a table, as torch's optimizer tests keep theirs)."""
import pytest
from mmengine.optim import build_optim_wrapper
from torch import nn

from mmcv_custom import MissingKeyError, UnknownKeyError
from toy_models import TimmViT, toy_vit_segmentor

CL, LR = 'CustomLayerDecayOptimizerConstructor', 'LearningRateDecayOptimizerConstructor'
LD = 'LayerDecayOptimizerConstructor'
NAN, INF = float('nan'), float('inf')
ADAMW = dict(type='AdamW', lr=1e-3, weight_decay=0.05)


class PlainConvNet(nn.Module):
    """A backbone of no family we know (no blocks, no stages)."""

    def __init__(self) -> None:
        super().__init__()
        self.backbone = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Conv2d(4, 4, 3))
        self.head = nn.Linear(4, 2)


class FiveStages(nn.Module):
    """ConvNeXt's names, with a fifth stage that ConvNeXt's layer ids do not define."""

    def __init__(self) -> None:
        super().__init__()
        self.backbone = nn.Module()
        self.backbone.stages = nn.ModuleList(nn.Sequential(nn.Conv2d(2, 2, 1)) for _ in range(5))


def vit(depth=2):
    return lambda: toy_vit_segmentor(depth)


def frozen_vit():
    model = toy_vit_segmentor(2)
    for param in model.parameters():
        param.requires_grad_(False)
    return model


def shared_head_vit():
    model = toy_vit_segmentor(2)
    model.aux_head = model.decode_head  # the same weights under a second name
    return model


CASES = [
    # id, constructor, paramwise_cfg, optimizer, model, error, message
    ('missing_rate', CL, {}, ADAMW, vit(), MissingKeyError,
     r'paramwise_cfg\.layer_decay_rate is required'),
    ('rate_zero', CL, dict(layer_decay_rate=0), ADAMW, vit(), ValueError,
     r'paramwise_cfg\.layer_decay_rate must be in \(0, 1\], got 0$'),
    ('rate_above_one', CL, dict(layer_decay_rate=1.5), ADAMW, vit(), ValueError,
     r'layer_decay_rate must be in \(0, 1\], got 1\.5'),
    ('rate_str', CL, dict(layer_decay_rate='0.9'), ADAMW, vit(), TypeError,
     r"layer_decay_rate must be a number in \(0, 1\], got '0\.9' \(str\)"),
    ('rate_bool', CL, dict(layer_decay_rate=True), ADAMW, vit(), TypeError,
     r'layer_decay_rate must be a number in \(0, 1\], got True \(bool\)'),
    ('num_layers_zero', CL, dict(layer_decay_rate=0.9, num_layers=0), ADAMW, vit(), ValueError,
     r'paramwise_cfg\.num_layers must be a positive int, got 0'),
    ('num_layers_float', CL, dict(layer_decay_rate=0.9, num_layers=2.5), ADAMW, vit(),
     TypeError, r'paramwise_cfg\.num_layers must be a positive int, got 2\.5 \(float\)'),
    ('num_layers_too_small', CL, dict(layer_decay_rate=0.9, num_layers=2), ADAMW, vit(4),
     ValueError, r"num_layers=2 is too small for this model \(the model has 4 layers\): "
     r"parameter 'backbone\.blocks\.3\.ls1' gets layer id 4 .* at least 3"),
    ('other_constructors_key', CL, dict(layer_decay_rate=0.9, decay_rate=0.9), ADAMW, vit(),
     UnknownKeyError, r"unknown paramwise_cfg key 'decay_rate'\. Did you mean "
     r"'layer_decay_rate'\? Known keys: \["),
    ('misspelt_key', CL, dict(layer_decay_rate=0.9, num_layer=3), ADAMW, vit(),
     UnknownKeyError, r"unknown paramwise_cfg key 'num_layer'\. Did you mean 'num_layers'\?"),
    ('paramwise_not_a_dict', CL, [('layer_decay_rate', 0.9)], ADAMW, vit(), TypeError,
     r'paramwise_cfg must be a dict, got list'),
    ('unknown_family_vit_constructor', CL, dict(layer_decay_rate=0.9), ADAMW, PlainConvNet,
     ValueError, r"CustomLayerDecayOptimizerConstructor is for ViT-style backbones, but no "
     r"parameter of PlainConvNet has their layout .* first names: 'backbone\.0\.weight'"),
    ('no_trainable_parameters', CL, dict(layer_decay_rate=0.9), ADAMW, frozen_vit, ValueError,
     r'the model has no trainable parameters \(all 28 have requires_grad=False\)'),
    ('shared_parameters_refused', CL, dict(layer_decay_rate=0.9, bypass_duplicate=False), ADAMW,
     shared_head_vit, ValueError,
     r"parameter 'decode_head\.weight' is shared: the same tensor is also reachable as "
     r"'aux_head\.weight', and paramwise_cfg\.bypass_duplicate=False refuses shared parameters"),
    ('model_without_get_layer_depth', CL, dict(layer_decay_rate=0.9, layer_ids_from_model=True),
     ADAMW, vit(), ValueError, r'layer_ids_from_model=True needs the model or its backbone to '
     r'implement get_layer_depth\(param_name, prefix\)'),
    ('custom_keys_sets_lr', CL, dict(layer_decay_rate=0.9, custom_keys=dict(head=dict(lr=0.1))),
     ADAMW, vit(), ValueError, r"custom_keys\['head'\] sets \['lr'\], which layer decay "
     'computes'),
    ('custom_keys_entry_not_dict', CL, dict(layer_decay_rate=0.9, custom_keys=dict(head=0.1)),
     ADAMW, vit(), TypeError, r"custom_keys\['head'\] must be a dict such as "
     r'dict\(lr_mult=0\.1, decay_mult=0\.0\), got 0\.1'),
    ('custom_keys_negative_mult', CL,
     dict(layer_decay_rate=0.9, custom_keys=dict(head=dict(lr_mult=-1))), ADAMW, vit(),
     ValueError, r"custom_keys\['head'\]\.lr_mult must be >= 0, got -1"),
    ('custom_keys_not_dict', CL, dict(layer_decay_rate=0.9, custom_keys=['head']), ADAMW,
     vit(), TypeError, r'paramwise_cfg\.custom_keys must be a dict of .* got list'),
    ('bias_lr_mult_str', CL, dict(layer_decay_rate=0.9, bias_lr_mult='x'), ADAMW, vit(),
     TypeError, r"paramwise_cfg\.bias_lr_mult must be a number >= 0, got 'x' \(str\)"),
    ('flag_not_bool', CL, dict(layer_decay_rate=0.9, exclude_tokens_from_decay=1), ADAMW, vit(),
     TypeError, r'exclude_tokens_from_decay must be True or False, got 1 \(int\)'),
    ('optimizer_without_lr', CL, dict(layer_decay_rate=0.9), dict(type='AdamW'), vit(),
     MissingKeyError, r'optim_wrapper\.optimizer\.lr is required'),
    ('optimizer_without_type', CL, dict(layer_decay_rate=0.9), dict(lr=1e-3), vit(),
     MissingKeyError, r"optim_wrapper\.optimizer\.type is required, e\.g\. 'AdamW'"),
    ('negative_lr', CL, dict(layer_decay_rate=0.9), dict(type='AdamW', lr=-1), vit(),
     ValueError, r'optim_wrapper\.optimizer\.lr must be > 0, got -1'),
    ('lr_str', CL, dict(layer_decay_rate=0.9), dict(type='AdamW', lr='1e-3'), vit(),
     TypeError, r"optim_wrapper\.optimizer\.lr must be a number, got '1e-3'"),
    ('negative_weight_decay', CL, dict(layer_decay_rate=0.9),
     dict(type='AdamW', lr=1e-3, weight_decay=-0.1), vit(), ValueError,
     r'optim_wrapper\.optimizer\.weight_decay must be >= 0, got -0\.1'),
    ('unknown_optimizer', CL, dict(layer_decay_rate=0.9), dict(type='AdamW2', lr=1e-3), vit(),
     UnknownKeyError, r"optim_wrapper\.optimizer\.type='AdamW2' is not a registered optimizer\. "
     r"Did you mean 'AdamW'\?"),
    ('optimizer_not_dict', CL, dict(layer_decay_rate=0.9), 'AdamW', vit(), TypeError,
     r'optim_wrapper\.optimizer must be a dict, got str'),
    ('missing_decay_rate', LR, {}, ADAMW, vit(), MissingKeyError,
     r'paramwise_cfg\.decay_rate is required'),
    ('unknown_decay_type', LR, dict(decay_rate=0.9, decay_type='block_wise'), ADAMW, vit(),
     ValueError, r"decay_type must be one of \['layer_wise', 'layer_wise_vit', 'stage_wise', "
     r"'vit_wise'\], got 'block_wise'"),
    ('stage_wise_on_a_vit', LR, dict(decay_rate=0.9, decay_type='stage_wise'), ADAMW, vit(),
     ValueError, r"decay_type='stage_wise': cannot recognise the backbone family .* These names "
     r'look like the vit family'),
    ('unknown_family_lr_decay', LR, dict(decay_rate=0.9), ADAMW, PlainConvNet, ValueError,
     r"decay_type='layer_wise': cannot recognise the backbone family from the parameter names "
     r"\(first ones: 'backbone\.0\.weight'"),
    ('vit_constructor_key_on_lr_decay', LR, dict(decay_rate=0.9, layer_decay_rate=0.9), ADAMW,
     vit(), UnknownKeyError, r"unknown paramwise_cfg key 'layer_decay_rate'\. Did you mean "
     r"'decay_rate'\?"),
    ('fifth_convnext_stage', LR, dict(decay_rate=0.9), ADAMW, FiveStages, ValueError,
     r"ConvNeXt layer ids are defined for stages 0-3, but parameter "
     r"'backbone\.stages\.4\.0\.weight' lies in stage 4"),
    # A bare (unprefixed) backbone is recognised now; under a prefix that is not there it is not.
    ('unprefixed_timm_vit_under_a_named_prefix', LR, dict(decay_rate=0.9,
                                                         backbone_prefix='backbone'),
     ADAMW, TimmViT, ValueError,
     r"cannot recognise the backbone family from the parameter names \(first ones: "
     r"'cls_token', 'pos_embed'.* under the prefix 'backbone\.' "
     r"\(paramwise_cfg\.backbone_prefix\)"),
    ('nan_lr_mult', CL, dict(layer_decay_rate=0.9, custom_keys=dict(head=dict(lr_mult=NAN))),
     ADAMW, vit(), ValueError, r"custom_keys\['head'\]\.lr_mult must be a finite number, got nan"),
    ('inf_decay_mult', CL, dict(layer_decay_rate=0.9, custom_keys=dict(head=dict(decay_mult=INF))),
     ADAMW, vit(), ValueError, r"custom_keys\['head'\]\.decay_mult must be a finite number, "
     r'got inf'),
    ('inf_lr', CL, dict(layer_decay_rate=0.9), dict(type='AdamW', lr=INF), vit(), ValueError,
     r'optim_wrapper\.optimizer\.lr must be a finite number, got inf'),
    ('weight_decay_none', CL, dict(layer_decay_rate=0.9),
     dict(type='SGD', lr=0.01, weight_decay=None), vit(), TypeError,
     r"optim_wrapper\.optimizer\.weight_decay must be a number \(omit it to use the optimizer's "
     r"default\), got None"),
    ('depths_not_a_list', CL, dict(layer_decay_rate=0.9, depths=4), ADAMW, vit(), TypeError,
     r'paramwise_cfg\.depths must be a non-empty list of the number of blocks per stage'),
    ('depths_with_zero', CL, dict(layer_decay_rate=0.9, depths=[2, 0]), ADAMW, vit(), ValueError,
     r'paramwise_cfg\.depths\[1\] must be a positive int, got 0'),
    ('depths_on_a_vit', CL, dict(layer_decay_rate=0.9, depths=[2, 2]), ADAMW, vit(), ValueError,
     r"paramwise_cfg sets \['depths'\], InternImage's keys, but no parameter of Segmentor has "
     r"InternImage's layout .* These names look like the vit family\. Remove \['depths'\]"),
    ('negative_offset_lr_scale', CL, dict(layer_decay_rate=0.9, offset_lr_scale=-0.5), ADAMW,
     vit(), ValueError, r'paramwise_cfg\.offset_lr_scale must be >= 0, got -0\.5'),
    ('internimage_key_on_lr_decay', LR, dict(decay_rate=0.9, offset_lr_scale=1.0), ADAMW, vit(),
     ValueError, r"paramwise_cfg\.offset_lr_scale is read only by the recipe\(s\) "
     r"\['internimage_seg', 'internimage_det'\].*InternImage's configs use "
     r"constructor='CustomLayerDecayOptimizerConstructor'"),
    ('vit_wise_key_on_custom', CL, dict(layer_decay_rate=0.9, head_decay_rate=4.0), ADAMW, vit(),
     ValueError, r"paramwise_cfg\.head_decay_rate is read only by the recipe\(s\) "
     r"\['vit_wise'\].*decay_type='vit_wise'"),
    ('unknown_recipe', CL, dict(layer_decay_rate=0.9, recipe='eva'), ADAMW, vit(), ValueError,
     r"paramwise_cfg\.recipe must be one of \['beit', 'convnext_layer_wise'"),
    ('backbone_prefix_not_str', CL, dict(layer_decay_rate=0.9, backbone_prefix=1), ADAMW, vit(),
     TypeError, r"paramwise_cfg\.backbone_prefix must be a module name"),
    ('layer_decay_both_rates', LD, dict(layer_decay_rate=0.9, decay_rate=0.9), ADAMW, vit(),
     MissingKeyError, r'needs exactly one of layer_decay_rate .* got \[\'layer_decay_rate\', '
     r"'decay_rate'\]"),
    ('layer_decay_bad_decay_type', LD, dict(decay_rate=0.9, decay_type='stage_wise'), ADAMW,
     vit(), ValueError, r"paramwise_cfg\.decay_type must be one of \['layer_wise'\]"),
]


@pytest.mark.parametrize('constructor, paramwise_cfg, optimizer, make_model, error, message',
                         [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_malformed_input_is_refused_with_a_message_naming_it(constructor, paramwise_cfg,
                                                             optimizer, make_model, error,
                                                             message):
    cfg = dict(type='OptimWrapper', optimizer=optimizer, constructor=constructor,
               paramwise_cfg=paramwise_cfg)
    with pytest.raises(error, match=message) as raised:
        build_optim_wrapper(make_model(), cfg)
    assert type(raised.value) is error


def test_the_table_has_at_least_25_cases():
    assert len(CASES) >= 25
    assert len({case[0] for case in CASES}) == len(CASES)


def test_a_rate_key_of_another_constructor_says_which_constructor_reads_it():
    cfg = dict(type='OptimWrapper', optimizer=ADAMW, constructor=LR,
               paramwise_cfg=dict(num_layers=9, layer_decay_rate=0.9, depths=[2, 2, 3, 2]))
    with pytest.raises(UnknownKeyError, match=r"unknown paramwise_cfg key 'layer_decay_rate'\. "
                       r"Did you mean 'decay_rate'\? Known keys: \[.*\]\. 'layer_decay_rate' is "
                       r'a key of CustomLayerDecayOptimizerConstructor \(InternVL, InternImage'):
        build_optim_wrapper(toy_vit_segmentor(2), cfg)
