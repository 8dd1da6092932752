"""param_groups_internimage / build_internimage_optimizer: InternImage's classification optimizer
(OpenGVLab/InternImage ``classification/optimizer.py``), parameter by parameter."""
import json
import os.path as osp
import sys

import pytest
import torch
from torch import nn

from field_models import InternImage
from mmcv_custom import build_internimage_optimizer, param_groups_internimage

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), 'dist_scripts'))
from launch import SCRIPTS, run, tail, torchrun_cmd  # noqa: E402

LR, WD = 1e-3, 0.05


class InternImageClassifier(nn.Module):
    """InternImage's classification model names, with its ``lr_decay_keywards`` (sic),
    ``no_weight_decay`` and ``no_weight_decay_keywords``."""

    def __init__(self, depths=(2, 2, 3, 2), dim: int = 8) -> None:
        super().__init__()
        body = InternImage(depths, dim)
        self.depths = depths
        self.patch_embed, self.levels = body.patch_embed, body.levels
        for level in self.levels:
            for block in level.blocks:
                block.dcn.center_feature_scale_proj_weight = nn.Parameter(torch.zeros(4, dim))
        self.conv_head = nn.Sequential(nn.Conv2d(dim, dim, 1), nn.BatchNorm2d(dim))
        self.head = nn.Linear(dim, 10)
        self.rel_token = nn.Parameter(torch.zeros(1, 3, dim))

    def no_weight_decay(self):
        return {'rel_token'}

    def no_weight_decay_keywords(self):
        return {'conv_head'}

    def lr_decay_keywards(self, decay_ratio):
        """Ratios the way InternImage's model defines them: the last block 1.0, each earlier one
        ``decay_ratio`` times less; the stem like the first block; a level's norm / downsample
        like the next level's first block."""
        ratios, index = {}, 0
        for level in reversed(range(len(self.depths))):
            for block in reversed(range(self.depths[level])):
                ratios[f'levels.{level}.blocks.{block}.'] = decay_ratio ** index
                index += 1
        ratios['patch_embed'] = ratios['levels.0.blocks.0.']
        for level in range(len(self.depths) - 1):
            ratios[f'levels.{level}.downsample'] = ratios[f'levels.{level + 1}.blocks.0.']
            ratios[f'levels.{level}.norm'] = ratios[f'levels.{level + 1}.blocks.0.']
        return ratios


def expected(model, ratio=None, dcn_lr_mul=None, frozen_levels=()):
    """The source's rule: wd 0 for 1-D, ``.bias``, ``no_weight_decay()`` names and
    ``no_weight_decay_keywords()`` substrings; lr ``base * ratio`` of the first key of
    ``lr_decay_keywards(ratio)`` in the name (1.0 if none); with ``dcn_lr_mul``, times it for
    ``offset`` / ``attention_weights`` / ``center_feature_scale_proj`` / ``alpha_beta`` names;
    parameters of frozen levels in no group."""
    ratios = model.lr_decay_keywards(ratio) if ratio is not None else None
    result = {}
    for name, param in model.named_parameters():
        if any(f'levels.{level}' in name for level in frozen_levels):
            continue
        no_decay = (param.ndim == 1 or name.endswith('.bias') or name in model.no_weight_decay()
                    or any(k in name for k in model.no_weight_decay_keywords()))
        lr = LR
        if ratios is not None:
            lr = LR * next((r for k, r in ratios.items() if k in name), 1.0)
            if dcn_lr_mul is not None and any(k in name for k in (
                    'offset', 'attention_weights', 'center_feature_scale_proj', 'alpha_beta')):
                lr *= dcn_lr_mul
        result[name] = (pytest.approx(lr), 0.0 if no_decay else WD)
    return result


def by_name(groups):
    return {name: (group['lr'], group['weight_decay'])
            for group in groups for name in group['param_names']}


@pytest.mark.parametrize('ratio, dcn_lr_mul, frozen', [
    (None, None, ()), (0.8, None, ()), (0.8, 0.1, ()), (0.9, 0.5, (0, 1)), (None, 0.1, ())])
def test_every_parameter_gets_internimage_lr_and_weight_decay(ratio, dcn_lr_mul, frozen):
    model = InternImageClassifier()
    groups = param_groups_internimage(model, WD, LR, ratio, frozen, dcn_lr_mul)
    assert by_name(groups) == expected(model, ratio, dcn_lr_mul, frozen)
    assert all(p.requires_grad for p in model.parameters())  # the model is not changed


def test_identical_groups_are_merged_in_first_appearance_order():
    model = InternImageClassifier()
    groups = param_groups_internimage(model, WD, LR, 0.8)
    keys = [(g['lr'], g['weight_decay']) for g in groups]
    assert len(keys) == len(set(keys)) < len(list(model.parameters()))
    names = [n for g in groups for n in g['param_names']]
    assert sorted(names) == sorted(n for n, _ in model.named_parameters())
    first = [next(n for n, _ in model.named_parameters() if n in g['param_names']) for g in groups]
    order = [n for n, _ in model.named_parameters()]
    assert first == sorted(first, key=order.index)


def test_the_optimizer_takes_the_groups_as_they_are():
    model = InternImageClassifier()
    optimizer = build_internimage_optimizer(model, 'AdamW', LR, WD, lr_layer_decay_ratio=0.8,
                                            betas=(0.9, 0.95))
    assert isinstance(optimizer, torch.optim.AdamW)
    assert by_name(optimizer.param_groups) == expected(model, 0.8)
    assert optimizer.defaults['betas'] == (0.9, 0.95)
    sgd = build_internimage_optimizer(model, 'sgd', LR, WD)
    assert sgd.defaults['nesterov'] is True


def test_bad_inputs_are_refused():
    model = InternImageClassifier()
    with pytest.raises(ValueError, match=r"name must be 'adamw' or 'sgd', got 'adam'"):
        build_internimage_optimizer(model, 'adam', LR, WD)
    with pytest.raises(TypeError, match=r'Linear has neither lr_decay_keywords\(ratio\) nor '
                       r'lr_decay_keywards\(ratio\)'):
        param_groups_internimage(nn.Linear(2, 2), WD, LR, 0.8)
    with pytest.raises(ValueError, match=r'lr_layer_decay_ratio must be in \(0, 1\], got 1\.5'):
        param_groups_internimage(model, WD, LR, 1.5)


def test_zero_redundancy_on_two_ranks_keeps_every_lr_and_names():
    result = run(torchrun_cmd(osp.join(SCRIPTS, 'internimage_zero.py'), []), timeout=120)
    assert result.returncode == 0, tail(result)
    reports = [json.loads(line) for line in result.stdout.splitlines() if line.startswith('{')]
    assert sorted(r['rank'] for r in reports) == [0, 1]
    assert all(r['same'] and r['local_ok'] for r in reports), reports
    assert all(r['owned'] > 0 for r in reports)  # the parameters are sharded across both ranks


class BadRatios(InternImageClassifier):
    def __init__(self, ratios):
        super().__init__()
        self.ratios = ratios

    def lr_decay_keywards(self, decay_ratio):
        return self.ratios


@pytest.mark.parametrize('kwargs, model, error, message', [
    (dict(weight_decay=float('nan')), None, ValueError,
     r'weight_decay must be a finite number >= 0, got nan'),
    (dict(base_lr=float('inf')), None, ValueError, r'base_lr must be a finite number > 0, got inf'),
    (dict(weight_decay='0.05'), None, TypeError, r"weight_decay must be a number, got '0\.05'"),
    (dict(lr_layer_decay_ratio=0.9, dcn_lr_mul=-1), None, ValueError,
     r'dcn_lr_mul must be a finite number >= 0, got -1'),
    (dict(freeze_backbone='12'), None, TypeError,
     r"freeze_backbone must be level indices such as \[0, 1\], got '12'"),
    (dict(freeze_backbone=[9]), None, ValueError,
     r"freeze_backbone lists level 9, but no parameter of InternImageClassifier lies under "
     r"'levels\.9\.'"),
    (dict(lr_layer_decay_ratio=0.9), {'levels.0': -0.5}, ValueError,
     r"lr_decay_keywards\(\): 'levels\.0' must be a finite number > 0, got -0\.5"),
    (dict(lr_layer_decay_ratio=0.9), {'levels.0': float('nan')}, ValueError,
     r"'levels\.0' must be a finite number > 0, got nan"),
    (dict(lr_layer_decay_ratio=0.9), {'levels.0': None}, TypeError,
     r"'levels\.0' must be a number, got None"),
    (dict(lr_layer_decay_ratio=0.9), {'levels.0': '0.5'}, TypeError,
     r"'levels\.0' must be a number, got '0\.5'"),
])
def test_bad_arguments_and_model_ratios_are_refused_naming_them(kwargs, model, error, message):
    model = InternImageClassifier() if model is None else BadRatios(model)
    arguments = dict(weight_decay=WD, base_lr=LR)
    arguments.update(kwargs)
    with pytest.raises(error, match=message):
        param_groups_internimage(model, **arguments)
