"""No refusal's advice leads in a circle (issue 18).

Every refusal in the bad-input table (``test_bad_input.CASES``) and in the field's layout refusals
(``FIELD_CASES`` below) is followed the way a user would follow it: the change its message
suggests is read from the message text and applied literally to the config, and the config is
built again. Each step must change the config, must not come back to a config seen before on the
way, and must either build or give a *different* error, whose advice is followed in turn. A
message that suggests several changes is followed along each of them. An error that suggests no
change to the config must name a cause the config cannot fix (``MODEL_SIDE``).

The advice a message gives is parsed from its text, in the forms the messages use:

- ``set paramwise_cfg.KEY=VALUE`` (alternatives joined by ``or``);
- ``remove paramwise_cfg.KEY``, ``Remove ['KEY', ...]``, ``paramwise_cfg.KEY is read only by ...
  Remove it``, ``leave KEY unset``; ``(omit it to use the optimizer's default)``;
- ``use constructor='NAME'``, ``belongs to constructor='NAME' with decay_type='TYPE'``;
- ``unknown paramwise_cfg key 'A'. Did you mean 'B'?`` (rename), ``type='X' is not a registered
  optimizer. Did you mean 'Y'?``;
- ``custom_keys['K'] sets ['lr'] ...; use lr_mult`` (the value moved to ``lr_mult``);
- ``needs exactly one of A ... or B ...; got [A, B]`` (each removed in turn);
- a value's domain (``must be in (0, 1]``, ``must be a positive int``, ``must be one of [...]``,
  ``e.g. [4, 4, 18, 4]``, ``such as dict(...)``, ``is required (... in (0, 1])``): a value in it.
"""
import ast
import logging
import re
from typing import Callable, List, NamedTuple, Optional, Tuple

import pytest
from mmengine.logging import MMLogger
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope
from torch import nn

import test_bad_input
from field_models import InternImageUperNet, StreamPETRLike
from published_layouts import CBDINO, DINOv2Segmentor
from test_field_recipes import MMDet3DStyle, swin_with_head
from test_published_families import RestartingChunks
from toy_models import ViTBackbone, toy_vit_segmentor

CL, LR = 'CustomLayerDecayOptimizerConstructor', 'LearningRateDecayOptimizerConstructor'
LD = 'LayerDecayOptimizerConstructor'
ADAMW = dict(type='AdamW', lr=1e-3, weight_decay=0.05)
MAX_STEPS = 8


class Config(NamedTuple):
    """What a user edits: the constructor, ``paramwise_cfg`` and ``optimizer``; the model and
    the default scope stay."""

    constructor: str
    paramwise_cfg: object
    optimizer: object

    def key(self) -> str:
        return repr((self.constructor, _frozen(self.paramwise_cfg), _frozen(self.optimizer)))


def _frozen(value):
    if isinstance(value, dict):
        return ('dict', tuple(sorted((k, _frozen(v)) for k, v in value.items())))
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, tuple(_frozen(v) for v in value))
    return value


# ----- reading the advice ---------------------------------------------------------------------
LITERAL = r"(?:'[^']*'|\[[^\]]*\]|True|False|None|-?\d+(?:\.\d+)?(?:e-?\d+)?)"
SET = re.compile(r'\b[Ss]et ((?:paramwise_cfg\.\w+=' + LITERAL + r'(?:,? or |, )?)+)')
ASSIGN = re.compile(r'paramwise_cfg\.(\w+)=(' + LITERAL + ')')
DOMAIN = re.compile(r"((?:paramwise_cfg|optim_wrapper\.optimizer)(?:\.\w+|\['\w+'\]|\[\d+\])*) "
                    r'must be (.*?)(?:, got |$)')


def value_in(domain: str, path: str, current):
    """A value the message's domain allows (None when the domain names none)."""
    example = re.search(r'e\.g\. (\[[^\]]*\])', domain)
    if example:
        return ast.literal_eval(example.group(1))
    such_as = re.search(r'such as dict\(([^)]*)\)', domain)
    if such_as:
        return eval(f'dict({such_as.group(1)})')  # noqa: S307 (the message's own example)
    choice = re.search(r'one of \[(.*?)\]', domain)
    if choice:
        return ast.literal_eval(f'[{choice.group(1)}]')[0]
    name = re.search(r"such as '(\w+)'", domain)
    if name:
        return name.group(1)
    if '(0, 1]' in domain:
        return 0.9
    if 'positive int' in domain:
        return 2
    if 'True or False' in domain:
        return False
    if path.startswith('optim_wrapper'):
        if 'a dict' in domain:
            return None
        return 0.05 if path.endswith('weight_decay') else 1e-3
    if 'a dict of' in domain:
        return {}
    if domain == 'a dict' and isinstance(current, (list, tuple)):
        return dict(current)
    if '>= 0' in domain or 'finite number' in domain:
        return 1.0
    return None


def _assign(config: Config, path: str, value) -> Config:
    """``config`` with ``path`` (``paramwise_cfg.a``, ``paramwise_cfg.custom_keys['k'].lr_mult``,
    ``paramwise_cfg.depths[1]``, ``optim_wrapper.optimizer.lr`` or ``paramwise_cfg``) set."""
    top, _, rest = path.partition('.') if path.startswith('paramwise_cfg') else \
        ('optimizer', '', path[len('optim_wrapper.optimizer.'):])
    if top == 'paramwise_cfg' and not rest:
        return config._replace(paramwise_cfg=value)
    root = _copy(getattr(config, top))
    keys = [re.sub(r"[\[\]']", '', part) for part in re.findall(r"\w+|\['\w+'\]|\[\d+\]", rest)]
    node = root
    for part in keys[:-1]:
        node = node[int(part)] if isinstance(node, list) else node[part]
    last = keys[-1]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return config._replace(**{top: root})


def _copy(value):
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _without(config: Config, *keys: str) -> Config:
    return config._replace(paramwise_cfg={k: v for k, v in config.paramwise_cfg.items()
                                          if k not in keys})


def _with(config: Config, **values) -> Config:
    return config._replace(paramwise_cfg={**config.paramwise_cfg, **values})


def advice(message: str, config: Config) -> List[Tuple[str, Config]]:
    """Every change the message suggests, as ``(what, new config)``."""
    found: List[Tuple[str, Config]] = []
    pw = config.paramwise_cfg if isinstance(config.paramwise_cfg, dict) else {}
    for match in SET.finditer(message):
        for key, literal in ASSIGN.findall(match.group(1)):
            value = ast.literal_eval(literal)
            found.append((f'set {key}={literal}', _with(config, **{key: value})))
    for key in re.findall(r'[Rr]emove paramwise_cfg\.(\w+)', message):
        found.append((f'remove {key}', _without(config, key)))
    for keys in re.findall(r'Remove \[([^\]]*)\]', message):
        names = re.findall(r"'(\w+)'", keys)
        found.append((f'remove {names}', _without(config, *names)))
    read_only = re.search(r'paramwise_cfg\.(\w+) is read only by .*Remove it', message)
    if read_only:
        found.append((f'remove {read_only.group(1)}', _without(config, read_only.group(1))))
    for key in re.findall(r'leave (\w+) unset', message):
        found.append((f'remove {key}', _without(config, key)))
    omit = re.search(r"optim_wrapper\.optimizer\.(\w+) must be .*\(omit it", message)
    if omit:
        optimizer = {k: v for k, v in config.optimizer.items() if k != omit.group(1)}
        found.append((f'omit optimizer.{omit.group(1)}', config._replace(optimizer=optimizer)))
    for pattern in (r"use constructor='(\w+)'", r"belongs to constructor='(\w+)'"):
        for name in re.findall(pattern, message):
            new = config._replace(constructor=name)
            decay_type = re.search(rf"constructor='{name}' with decay_type='(\w+)'", message)
            if decay_type:
                new = _with(new, decay_type=decay_type.group(1))
            found.append((f'use {name}', new))
    rename = re.search(r"unknown paramwise_cfg key '(\w+)'\. Did you mean '(\w+)'\?", message)
    if rename:
        old, new_key = rename.groups()
        renamed = {(new_key if k == old else k): v for k, v in pw.items()}
        found.append((f'rename {old} -> {new_key}', config._replace(paramwise_cfg=renamed)))
    optimizer_type = re.search(r"is not a registered optimizer\. Did you mean '(\w+)'\?", message)
    if optimizer_type:
        found.append((f'optimizer type {optimizer_type.group(1)}', config._replace(
            optimizer={**config.optimizer, 'type': optimizer_type.group(1)})))
    reserved = re.search(r"custom_keys\['(\w+)'\] sets \[([^\]]*)\], which layer decay "
                         r'computes; use lr_mult', message)
    if reserved:
        entry = dict(pw['custom_keys'][reserved.group(1)])
        entry['lr_mult'] = entry.pop('lr')
        found.append(('lr -> lr_mult', _with(config, custom_keys={
            **pw['custom_keys'], reserved.group(1): entry})))
    both = re.search(r'needs exactly one of (\w+) .* or (\w+) .*got \[', message)
    if both:
        for key in both.groups():
            found.append((f'remove {key}', _without(config, key)))
    required = re.search(r'(paramwise_cfg\.\w+) is required \((.*?)\); without', message)
    if required and value_in(required.group(2), required.group(1), None) is not None:
        found.append((f'set {required.group(1)}', _assign(
            config, required.group(1), value_in(required.group(2), required.group(1), None))))
    optimizer_key = re.search(r"optim_wrapper\.optimizer\.(\w+) is required(?:, e\.g\. '(\w+)')?",
                              message)
    if optimizer_key:
        key, example = optimizer_key.groups()
        found.append((f'set optimizer.{key}', config._replace(
            optimizer={**config.optimizer, key: example or 1e-3})))
    if not found:
        domain = DOMAIN.search(message)
        if domain:
            path = domain.group(1)
            value = value_in(domain.group(2), path, config.paramwise_cfg)
            if value is not None:
                found.append((f'{path} in its domain', _assign(config, path, value)))
    return found


#: Refusals that suggest no change to the config: the cause lies in the model (or the message
#: has nothing to derive a value from), and each says so.
MODEL_SIDE = (
    r'the model has no trainable parameters',
    r'needs the model or its backbone to implement get_layer_depth',
    r'ConvNeXt layer ids are defined for stages 0-3',
    r'optim_wrapper\.optimizer must be a dict',
)


# ----- the walk -------------------------------------------------------------------------------
class Case(NamedTuple):
    id: str
    config: Config
    make_model: Callable[[], nn.Module]
    scope: Optional[str] = None


def attempt(case: Case, config: Config) -> Optional[Exception]:
    cfg = dict(type='OptimWrapper', optimizer=config.optimizer, constructor=config.constructor,
               paramwise_cfg=config.paramwise_cfg)
    try:
        with DefaultScope.overwrite_default_scope(case.scope):
            build_optim_wrapper(case.make_model(), cfg)
    except Exception as error:  # noqa: BLE001 (every refusal is followed)
        return error
    return None


def walk(case: Case) -> List[str]:
    """Follow every piece of advice from the case's first refusal; the paths taken."""
    first = attempt(case, case.config)
    assert first is not None, f'{case.id}: builds without advice'
    paths: List[str] = []

    def follow(config: Config, message: str, seen: List[str], trail: List[str]) -> None:
        steps = advice(message, config)
        if not steps:
            assert any(re.search(pattern, message) for pattern in MODEL_SIDE), (
                f'{case.id}: a refusal that suggests no change names no cause in the model '
                f'({" -> ".join(trail)}): {message}')
            paths.append(' -> '.join(trail + ['(model-side)']))
            return
        for what, new in steps:
            where = ' -> '.join(trail + [what])
            assert new.key() != config.key(), f'{case.id}: {where} changes nothing: {message}'
            assert new.key() not in seen, (
                f'{case.id}: {where} leads back to an earlier config: {message}')
            assert len(trail) < MAX_STEPS, f'{case.id}: {where}: no end in {MAX_STEPS} steps'
            error = attempt(case, new)
            if error is None:
                paths.append(where + ' -> builds')
                continue
            assert str(error) != message, f'{case.id}: {where} gives the same error: {message}'
            follow(new, str(error), seen + [new.key()], trail + [what])

    follow(case.config, str(first), [case.config.key()], [])
    return paths


def _bad_input_cases() -> List[Case]:
    return [Case(case[0], Config(case[1], case[2], case[3]), case[4])
            for case in test_bad_input.CASES]


def _internimage_under(constructor, cfg):
    return Config(constructor, cfg, ADAMW)


def _two_backbones():
    model = toy_vit_segmentor(depth=2)
    model.img_backbone = ViTBackbone(depth=3)
    return model


def _encoder_only():
    model = nn.Module()
    model.encoder = StreamPETRLike(depth=2).img_backbone
    model.lm_head = nn.Linear(8, 3)
    return model


def _head_only_get_layer_depth():
    model = MMDet3DStyle()
    model.get_layer_depth = model.img_backbone.get_layer_depth
    return model


class PlainConvNeXtNames(nn.Module):
    """ConvNeXt's names (``downsample_layers.S``, ``stages.S.B``) under a backbone."""

    def __init__(self) -> None:
        super().__init__()
        self.backbone = nn.Module()
        self.backbone.downsample_layers = nn.ModuleList(nn.Conv2d(2, 2, 1) for _ in range(4))
        self.backbone.stages = nn.ModuleList(
            nn.Sequential(nn.Conv2d(2, 2, 1), nn.Conv2d(2, 2, 1)) for _ in range(4))
        self.decode_head = nn.Conv2d(2, 3, 1)


VIT_WISE = dict(decay_rate=0.9, decay_type='vit_wise', head_decay_rate=4.0)

#: The field's layout refusals (and the configs that used to lead in a circle).
FIELD_CASES = [
    Case('internimage_under_the_vit_reading', Config(LR, dict(decay_rate=0.9), ADAMW),
         InternImageUperNet),
    Case('internimage_under_the_beit_reading', Config(LD, dict(layer_decay_rate=0.9), ADAMW),
         InternImageUperNet),
    # (recipe='internvl' reads levels.S as layers.S, as InternVL does: it builds, issue 17)
    Case('internimage_with_recipe_vit',
         Config(CL, dict(layer_decay_rate=0.9, recipe='vit'), ADAMW), InternImageUperNet),
    Case('swin_under_the_beit_reading', Config(LD, dict(layer_decay_rate=0.9), ADAMW),
         lambda: swin_with_head('mmseg')),
    Case('dinov2_chunks_under_vit_wise', Config(LR, VIT_WISE, ADAMW),
         lambda: DINOv2Segmentor(8, block_chunks=4), 'mmseg'),
    Case('dinov2_chunks_under_vitdet',
         Config(LD, dict(decay_rate=0.9, decay_type='layer_wise'), ADAMW),
         lambda: DINOv2Segmentor(8, block_chunks=4), 'mmseg'),
    Case('chunks_that_restart', Config(CL, dict(layer_decay_rate=0.9), ADAMW), RestartingChunks),
    Case('two_backbones', Config(LR, dict(decay_rate=0.9), ADAMW), _two_backbones),
    Case('head_multipliers_without_an_outside',
         Config(LR, dict(VIT_WISE, lm_head_decay_rate=0.1), ADAMW), _encoder_only),
    Case('depths_that_do_not_match',
         Config(CL, dict(layer_decay_rate=0.9, depths=[2, 2, 2, 2]), ADAMW), InternImageUperNet),
    Case('cb_h_depths_on_a_smaller_cb_model',
         Config(CL, dict(num_layers=50, layer_decay_rate=0.94, depths=[6, 6, 32, 6],
                         offset_lr_scale=1e-3), ADAMW), CBDINO, 'mmdet'),
    Case('recipe_and_decay_type', Config(LR, dict(decay_rate=0.9, decay_type='stage_wise',
                                                  recipe='vit'), ADAMW), toy_vit_segmentor),
    Case('head_embeddings_key_on_vitdet',
         Config(LD, dict(decay_rate=0.7, decay_type='layer_wise',
                         head_embeddings_at_layer_0=True), ADAMW), toy_vit_segmentor),
    Case('decay_type_on_the_beit_reading',
         Config(LD, dict(layer_decay_rate=0.9, decay_type='layer_wise'), ADAMW),
         toy_vit_segmentor),
    Case('layer_ids_from_model_under_a_missing_module',
         Config(LR, dict(decay_rate=0.5, layer_ids_from_model=True,
                         backbone_prefix='img_backbone.module'), ADAMW), MMDet3DStyle),
    Case('layer_ids_from_model_answering_only_the_head_id',
         Config(LR, dict(decay_rate=0.5, layer_ids_from_model=True, backbone_prefix=''), ADAMW),
         _head_only_get_layer_depth),
    Case('named_recipe_that_does_not_fit',
         Config(CL, dict(layer_decay_rate=0.9, recipe='internimage_det'), ADAMW),
         toy_vit_segmentor),
    Case('convnext_under_the_vit_constructor', Config(CL, dict(layer_decay_rate=0.9), ADAMW),
         PlainConvNeXtNames),
    Case('vit_wise_key_under_the_vit_constructor',
         Config(CL, dict(layer_decay_rate=0.9, head_decay_rate=4.0, split_head_group=True),
                ADAMW), toy_vit_segmentor),
]

ALL_CASES = _bad_input_cases() + FIELD_CASES


@pytest.fixture(autouse=True)
def quiet_logger():
    """The walk builds hundreds of optimizers; their INFO tables are not what it checks."""
    logger = MMLogger.get_current_instance()
    old = logger.level
    logger.setLevel(logging.ERROR)
    yield
    logger.setLevel(old)


@pytest.mark.parametrize('case', ALL_CASES, ids=[case.id for case in ALL_CASES])
def test_following_a_refusals_advice_never_leads_in_a_circle(case):
    paths = walk(case)
    assert paths, case.id


def test_the_issues_circle_is_gone_cb_internimage_builds_as_published():
    """Issue 18: CB-InternImage with InternImage's keys was refused as 'the vit family'; without
    them, the refusal told the user to use the constructor already in use. Both now build: with
    the keys by InternImage's rule, without them by InternVL's (the keys choose, issue 17)."""
    for cfg in (dict(num_layers=9, layer_decay_rate=0.94, depths=[2, 2, 3, 2],
                     offset_lr_scale=1e-3), dict(layer_decay_rate=0.94)):
        assert attempt(Case('cb', Config(CL, cfg, ADAMW), CBDINO, 'mmdet'),
                       Config(CL, cfg, ADAMW)) is None


def test_the_advice_reader_reads_each_form():
    config = Config(LR, dict(decay_rate=0.9, decay_type='stage_wise', depths=[2]), ADAMW)
    read = dict(advice("set paramwise_cfg.recipe='vit' or paramwise_cfg.backbone_prefix=''",
                       config))
    assert read["set recipe='vit'"].paramwise_cfg['recipe'] == 'vit'
    assert read["set backbone_prefix=''"].paramwise_cfg['backbone_prefix'] == ''
    read = dict(advice("paramwise_cfg.depths is read only by the recipe(s) ['swin']. Remove it",
                       config))
    assert 'depths' not in read['remove depths'].paramwise_cfg
    read = dict(advice("It belongs to constructor='CustomLayerDecayOptimizerConstructor' with "
                       "decay_type='vit_wise'.", config))
    assert read['use CustomLayerDecayOptimizerConstructor'].constructor == CL
    assert advice('paramwise_cfg.num_layers=2 is too small for this model', config) == []
