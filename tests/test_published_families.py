"""Four published config families build as their authors trained them (issue 18): CB-InternImage,
ViT-Adapter's Uni-Perceiver, DINOv2 with ``block_chunks > 0`` and OmniDrive.

Every test goes through the public interface only: ``mmengine.optim.build_optim_wrapper`` with the
published ``optim_wrapper`` (optimizer, constructor name and ``paramwise_cfg`` unchanged), under the
config's ``default_scope``, on installed classes where they exist and on modules with the
published parameter names otherwise (``published_layouts``). The expected ``{name: (lr,
weight_decay)}`` is computed here from each source's rule, written out in the test's helper with
the source's repository and path.
"""
import re
from typing import Dict, Sequence, Tuple

import pytest
import torch
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope
from torch import nn

from helpers import lr_wd_by_name
from published_layouts import (CBDINO, DINOv2Segmentor, Petr3D, UniPerceiverHTC,
                               WSDMUniPerceiver)

CUSTOM = 'CustomLayerDecayOptimizerConstructor'
LAYER_DECAY = 'LayerDecayOptimizerConstructor'
LR_DECAY = 'LearningRateDecayOptimizerConstructor'


def build(model: nn.Module, scope: str, constructor: str, paramwise_cfg: dict,
          **optimizer) -> list:
    """The param groups ``build_optim_wrapper`` makes under ``default_scope=scope``."""
    cfg = dict(type='OptimWrapper', optimizer=dict(type='AdamW', **optimizer),
               constructor=constructor, paramwise_cfg=paramwise_cfg)
    with DefaultScope.overwrite_default_scope(scope):
        return build_optim_wrapper(model, cfg).optimizer.param_groups


def approx(expected: Dict[str, Tuple[float, float]]) -> Dict[str, tuple]:
    return {name: (pytest.approx(lr, rel=1e-9), wd) for name, (lr, wd) in expected.items()}


def trainable(model: nn.Module):
    return [(name, param) for name, param in model.named_parameters() if param.requires_grad]


# ===== 1. CB-InternImage ======================================================================
#: detection/configs/coco/dino_4scale_cbinternimage_h_objects365_coco_ss.py (and the LVIS,
#: OpenImages and VOC CB-H configs, which keep the same optimizer).
CB_H_OPTIMIZER = dict(lr=0.0001, weight_decay=0.0001)
CB_H_PARAMWISE = dict(num_layers=50, layer_decay_rate=0.94, depths=[6, 6, 32, 6],
                      offset_lr_scale=1e-3)
CB_H_DEPTHS = (6, 6, 32, 6)
CB_H_POST_NORMS = (5, 11, 17, 23, 29)
OFFSETS = ('sampling_offsets', 'reference_points')


def internimage_layer_id(name: str, num_layers: int, depths: Sequence[int],
                         segmentation: bool) -> int:
    """``get_num_layer_for_swin`` of OpenGVLab/InternImage ``{detection,segmentation}/mmcv_custom/
    custom_layer_decay_optimizer_constructor.py``, on the full name: ``backbone.patch_embed*`` and
    any name containing ``level_embeds`` are 0 (segmentation: also ``decode_head.{mask_embed,
    cls_embed, level_embed, query_embed, query_feat}*`` and ``backbone.cb_modules.0.patch_embed*``);
    a name starting ``backbone.layers`` / ``backbone.levels`` is read as ``.S.<module>.B``: block
    ``B`` of level ``S`` -> ``B + 1 + sum(depths[:S])`` (levels past 3 as level 3), a level's
    ``downsample`` / ``norm`` -> ``1 + sum(depths[:S + 1])`` (levels past 2 as level 2); every
    other name (so every ``backbone.cb_modules.*`` / ``backbone.cb_linears.*``) the head id
    ``num_layers + 1``."""
    zero = ['backbone.patch_embed']
    if segmentation:
        zero += ['decode_head.mask_embed', 'decode_head.cls_embed', 'decode_head.level_embed',
                 'decode_head.query_embed', 'decode_head.query_feat',
                 'backbone.cb_modules.0.patch_embed']
    if any(name.startswith(prefix) for prefix in zero) or 'level_embeds' in name:
        return 0
    if name.startswith('backbone.layers') or name.startswith('backbone.levels'):
        parts = name.split('.')
        stage = int(parts[2])
        if parts[3] not in ('downsample', 'norm'):
            return int(parts[4]) + 1 + sum(depths[:min(stage, 3)])
        return 1 + sum(depths[:min(stage, 2) + 1])
    return num_layers + 1


def internimage_expected(model: nn.Module, depths: Sequence[int], rate: float, lr: float,
                         wd: float, *, num_layers: int, offset_lr_scale: float = 1.0,
                         segmentation: bool = False, read_copies: bool = False):
    """The group lr and weight decay of InternImage's constructor: scale ``rate ** (L + 1 -
    id)``; ``offset_lr_scale`` on names containing ``sampling_offsets`` / ``reference_points``
    (segmentation: only those containing ``backbone``); weight decay 0 for 1-D parameters, biases
    and names containing ``relative_position``, ``norm`` or ``sampling_offsets``.
    ``read_copies``: every ``cb_modules.K.`` removed from the name first (each copy read as the
    plain backbone, what ``cbnet_layer_decay=True`` asks for)."""
    expected = {}
    for name, param in trainable(model):
        read_as = re.sub(r'cb_modules\.\d+\.', '', name) if read_copies else name
        layer_id = internimage_layer_id(read_as, num_layers, depths, segmentation)
        scale = rate ** (num_layers + 1 - layer_id)
        if any(o in name for o in OFFSETS) and (not segmentation or 'backbone' in name):
            scale *= offset_lr_scale
        no_decay = (param.ndim == 1 or name.endswith('.bias')
                    or any(s in name for s in ('relative_position', 'norm', 'sampling_offsets')))
        expected[name] = (lr * scale, 0.0 if no_decay else wd)
    return expected


@pytest.fixture(scope='module')
def cb_h():
    """A CB-InternImage-H DINO with the published structure (depths [6, 6, 32, 6], level 2's
    post norms after blocks 5, 11, 17, 23, 29), tiny widths."""
    return CBDINO(depths=CB_H_DEPTHS, post_norm_block_ids=CB_H_POST_NORMS)


def test_cb_h_published_config_builds_as_the_published_run_trained(cb_h, log_records):
    """The config sets ``depths`` and ``offset_lr_scale``, InternImage's keys, so InternImage's
    detection rule applies (no ``decode_head``). As published, it reads only ``backbone.levels`` /
    ``backbone.patch_embed``: the whole CB backbone (both copies, ``cb_linears``) trains at the
    head id, i.e. at the base lr, offsets at ``offset_lr_scale``; the report says so."""
    got = lr_wd_by_name(build(cb_h, 'mmdet', CUSTOM, CB_H_PARAMWISE, **CB_H_OPTIMIZER))
    assert got == approx(internimage_expected(cb_h, CB_H_DEPTHS, 0.94, 1e-4, 1e-4,
                                              num_layers=50, offset_lr_scale=1e-3))
    assert got['backbone.cb_modules.0.levels.2.blocks.20.dcn.input_proj.weight'] == (1e-4, 1e-4)
    assert got['bbox_head.transformer.level_embeds'][0] == pytest.approx(1e-4 * 0.94 ** 51)
    offsets = 'bbox_head.transformer.encoder.layers.0.attentions.0.sampling_offsets.weight'
    assert got[offsets] == (pytest.approx(1e-7), 0.0)
    report = log_records.messages(20)[-1]
    assert 'recipe internimage_det (OpenGVLab/InternImage detection/mmcv_custom/' in report
    assert ("note: 2666 parameters of backbone.cb_modules.0.* (1335), backbone.cb_modules.1.* "
            '(1331) train at the head id, as internimage_det') in report
    assert 'paramwise_cfg.cbnet_layer_decay=True gives each copy' in report


def test_cb_h_tensor_counts_against_the_old_spelling_and_the_per_block_key(cb_h):
    """The counts of the CB-H structure: 2,678 backbone tensors (1,335 in ``cb_modules.0``, 1,331
    in ``cb_modules.1``, 12 in ``cb_linears``). The only spelling that built before
    (``backbone_prefix='backbone.cb_modules.0'``) decays copy 0 alone: its 1,335 tensors differ
    from the published run. ``cbnet_layer_decay=True`` decays both copies: 2,662 differ (copy
    1's ``gamma0-3`` and ``cb_linears`` keep the head id)."""
    names = [name for name, _ in cb_h.named_parameters()]
    counts = [sum(name.startswith(f'backbone.{part}') for name in names)
              for part in ('', 'cb_modules.0.', 'cb_modules.1.', 'cb_linears.')]
    assert counts == [2678, 1335, 1331, 12]
    published = lr_wd_by_name(build(cb_h, 'mmdet', CUSTOM, CB_H_PARAMWISE, **CB_H_OPTIMIZER))
    old = lr_wd_by_name(build(cb_h, 'mmdet', CUSTOM,
                              dict(CB_H_PARAMWISE, backbone_prefix='backbone.cb_modules.0'),
                              **CB_H_OPTIMIZER))
    per_block = lr_wd_by_name(build(cb_h, 'mmdet', CUSTOM,
                                    dict(CB_H_PARAMWISE, cbnet_layer_decay=True),
                                    **CB_H_OPTIMIZER))
    assert sum(published[n] != old[n] for n in published) == 1335
    assert sum(published[n] != per_block[n] for n in published) == 2662


def test_cbnet_layer_decay_gives_every_copy_internimages_per_block_ids(cb_h):
    """``cbnet_layer_decay=True``: every ``cb_modules.K.`` copy read as the plain InternImage
    (block ``B`` of level ``S`` at ``B + 1 + sum(depths[:S])`` in both copies); ``cb_linears``
    and copy 1's ``gamma*`` keep the head id."""
    got = lr_wd_by_name(build(cb_h, 'mmdet', CUSTOM, dict(CB_H_PARAMWISE, cbnet_layer_decay=True),
                              **CB_H_OPTIMIZER))
    assert got == approx(internimage_expected(cb_h, CB_H_DEPTHS, 0.94, 1e-4, 1e-4, num_layers=50,
                                              offset_lr_scale=1e-3, read_copies=True))
    block = 'levels.2.blocks.20.mlp.fc1.weight'
    assert got[f'backbone.cb_modules.0.{block}'] == got[f'backbone.cb_modules.1.{block}'] == \
        (pytest.approx(1e-4 * 0.94 ** (51 - 33)), 1e-4)
    assert got['backbone.cb_modules.0.patch_embed.conv1.weight'][0] == \
        pytest.approx(1e-4 * 0.94 ** 51)
    assert got['backbone.cb_modules.1.gamma2'] == (1e-4, 0.0)
    assert got['backbone.cb_linears.0.1.weight'] == (1e-4, 1e-4)


def internvl_groups(model: nn.Module, num_layers: int, rate: float, lr: float, wd: float):
    """The groups of OpenGVLab/InternVL ``segmentation/mmcv_custom/
    layer_decay_optimizer_constructor.py`` (``CustomLayerDecayOptimizerConstructor``), in order:
    ``get_num_layer_for_vit`` removes ``cb_modules.0.`` / ``cb_modules.1.`` from the name and reads
    ``levels.`` as ``layers.``; then ``backbone.{cls_token, mask_token, pos_embed, visual_embed}``
    and names starting ``backbone.visual_embed`` / ``backbone.patch_embed`` -> 0, names starting
    ``backbone.blocks`` / ``backbone.layers`` -> the third name component + 1 (on CB-InternImage:
    the level, one id per level, in both copies), everything else ``num_layers + 1``. A group
    ``layer_{id}_{decay|no_decay}`` (no decay: 1-D parameters and biases) is opened by its first
    parameter with ``lr = lr * rate ** (num_layers + 1 - id)``."""
    groups: Dict[str, dict] = {}
    for name, param in trainable(model):
        read_as = name.replace('cb_modules.0.', '').replace('cb_modules.1.', '')
        read_as = read_as.replace('levels.', 'layers.')
        if read_as in ('backbone.cls_token', 'backbone.mask_token', 'backbone.pos_embed',
                       'backbone.visual_embed') or read_as.startswith(
                           ('backbone.visual_embed', 'backbone.patch_embed')):
            layer_id = 0
        elif read_as.startswith(('backbone.blocks', 'backbone.layers')):
            layer_id = int(read_as.split('.')[2]) + 1
        else:
            layer_id = num_layers + 1
        no_decay = param.ndim == 1 or name.endswith('.bias')
        group = groups.setdefault(f"layer_{layer_id}_{'no_decay' if no_decay else 'decay'}", dict(
            lr=lr * rate ** (num_layers + 1 - layer_id), weight_decay=0.0 if no_decay else wd,
            param_names=[]))
        group['param_names'].append(name)
    return groups


def test_cb_internimage_without_internimages_keys_gets_internvls_reading(log_records):
    """The keys decide the recipe (issue 17): with only ``num_layers`` / ``layer_decay_rate`` the
    constructor is InternVL's, which reads the CB copies through its ``cb_modules`` /
    ``levels`` replacements, one id per level (groups, order, lr and weight decay as InternVL's
    class gives them); the report says InternImage's per-block reading needs its keys. (The
    published CB-H configs set ``depths`` and ``offset_lr_scale``: InternImage's detection rule,
    the tests above.)"""
    model = CBDINO()
    groups = build(model, 'mmdet', CUSTOM, dict(num_layers=4, layer_decay_rate=0.9), lr=1e-3,
                   weight_decay=0.05)
    got = {group['group_name']: dict(lr=pytest.approx(group['lr'], rel=1e-9),
                                     weight_decay=group['weight_decay'],
                                     param_names=group['param_names'])
           for group in groups if 'group_name' in group}
    expected = internvl_groups(model, 4, 0.9, 1e-3, 0.05)
    assert list(got) == list(expected) and got == expected
    assert expected['layer_3_decay']['param_names'][-1] == \
        'backbone.cb_modules.1.levels.2.downsample.conv.weight'
    report = log_records.messages(20)[-1]
    assert 'recipe internvl (OpenGVLab/InternVL' in report
    assert ("note: the names show InternImage's levels.S.blocks.B, which InternVL's reading "
            "(recipe internvl) reads as layers.S, one id per level; InternImage's per-block "
            'reading needs one of its keys (depths, offset_lr_scale, backbone_small_lr, '
            'dino_head, cbnet_layer_decay)') in report


def test_cb_internimage_segmentation_reading_puts_copy_0s_stem_at_layer_0():
    """InternImage's segmentation rule also puts ``backbone.cb_modules.0.patch_embed*`` at 0
    (the detection one does not); the rest of the CB backbone keeps the head id."""
    model = CBDINO()
    model.decode_head = nn.Conv2d(8, 3, 1)  # a segmentor: the segmentation reading
    got = lr_wd_by_name(build(model, 'mmseg', CUSTOM, dict(
        num_layers=9, layer_decay_rate=0.9, depths=[2, 2, 3, 2]), lr=1e-3, weight_decay=0.05))
    assert got == approx(internimage_expected(model, (2, 2, 3, 2), 0.9, 1e-3, 0.05,
                                              num_layers=9, segmentation=True))
    assert got['backbone.cb_modules.0.patch_embed.conv1.weight'][0] == pytest.approx(1e-3 * 0.9**10)
    assert got['backbone.cb_modules.0.levels.0.blocks.0.mlp.fc1.weight'][0] == 1e-3


def test_cb_internimage_depths_are_checked_against_the_copies():
    with pytest.raises(ValueError, match=r"depths=\[6, 6, 32, 6\] does not match the model: under "
                       r"'backbone\.' its names show 4 stages with \[2, 2, 3, 2\] blocks"):
        build(CBDINO(), 'mmdet', CUSTOM, CB_H_PARAMWISE, **CB_H_OPTIMIZER)


def test_cbnet_layer_decay_is_an_internimage_key():
    from toy_models import toy_vit_segmentor
    with pytest.raises(ValueError, match=r"paramwise_cfg\.cbnet_layer_decay is read only by the "
                       r"recipe\(s\) \['internimage_seg', 'internimage_det'\].*InternImage's "
                       r"configs use constructor='CustomLayerDecayOptimizerConstructor'"):
        build(toy_vit_segmentor(), 'mmseg', LR_DECAY, dict(decay_rate=0.9,
                                                           cbnet_layer_decay=True), lr=1e-3)


# ===== 2. Embeddings the published copies put at layer 0 (Uni-Perceiver) =======================
#: The layer-0 set of every published copy the ViT readings cite, on the backbone-relative name:
#: ``(exact names, name prefixes)`` (plain string prefixes, as the sources' ``startswith``).
LAYER_0_SETS = {
    # microsoft/unilm beit/semantic_segmentation/mmcv_custom/layer_decay_optimizer_constructor.py
    'unilm_beit': ({'cls_token', 'mask_token', 'pos_embed'}, ('patch_embed',)),
    # czczup/ViT-Adapter segmentation/mmcv_custom/layer_decay_optimizer_constructor.py
    'vit_adapter_segmentation': ({'cls_token', 'mask_token', 'pos_embed'}, ('patch_embed',)),
    # czczup/ViT-Adapter detection/mmcv_custom/layer_decay_optimizer_constructor.py
    'vit_adapter_detection': ({'cls_token', 'mask_token', 'pos_embed', 'visual_embed'},
                              ('visual_embed', 'patch_embed')),
    # czczup/ViT-Adapter wsdm2023/mmcv_custom/layer_decay_optimizer_constructor.py
    'vit_adapter_wsdm2023': ({'cls_token', 'visual_embed', 'pos_embed'},
                             ('visual_embed', 'patch_embed')),
    # OpenGVLab/InternVL segmentation/mmcv_custom/layer_decay_optimizer_constructor.py
    'internvl': ({'cls_token', 'mask_token', 'pos_embed', 'visual_embed'},
                 ('visual_embed', 'patch_embed')),
    # open-mmlab/mmsegmentation mmseg/engine/optimizers/layer_decay_optimizer_constructor.py
    # (get_layer_id_for_vit, decay_type 'layer_wise_vit')
    'mmseg_vit': ({'cls_token', 'mask_token', 'pos_embed'}, ('patch_embed',)),
    # facebookresearch/dinov2 dinov2/utils/param_groups.py (register tokens; the extension the
    # three readings share, for DINOv2 backbones under their configs)
    'dinov2': ({'register_tokens'}, ()),
}
#: Which copies each reading cites (its ``source``), plus the DINOv2 extension.
READING_SOURCES = {
    'beit': ('unilm_beit', 'vit_adapter_segmentation', 'vit_adapter_detection',
             'vit_adapter_wsdm2023', 'dinov2'),
    'internvl': ('internvl', 'dinov2'),
    'vit': ('mmseg_vit', 'internvl', 'dinov2'),
}


def at_layer_0(relative: str, sources: Sequence[str]) -> bool:
    return any(relative in LAYER_0_SETS[source][0]
               or relative.startswith(LAYER_0_SETS[source][1]) for source in sources)


class LayerZeroProbe(nn.Module):
    """A backbone holding every name one of the copies puts at layer 0, and neighbours they do not
    (``token_embed``, ``level_embed``, ``visual_embedding_proj``: a plain prefix match)."""

    def __init__(self, visual_embed_module: bool) -> None:
        super().__init__()
        self.backbone = nn.Module()
        backbone = self.backbone
        for name in ('cls_token', 'mask_token', 'pos_embed', 'register_tokens', 'level_embed'):
            setattr(backbone, name, nn.Parameter(torch.zeros(1, 2, 8)))
        if visual_embed_module:
            backbone.visual_embed = nn.Module()
            backbone.visual_embed.patch_embed = nn.Module()
            backbone.visual_embed.patch_embed.proj = nn.Conv2d(3, 8, 4, 4)
            backbone.visual_embed.embeddings_norm = nn.LayerNorm(8)
        else:
            backbone.visual_embed = nn.Parameter(torch.zeros(1, 2, 8))
        backbone.visual_embedding_proj = nn.Linear(8, 8)
        backbone.patch_embed = nn.Module()
        backbone.patch_embed.proj = nn.Conv2d(3, 8, 4, 4)
        backbone.token_embed = nn.Embedding(4, 8)
        backbone.layers = nn.ModuleList(nn.Linear(8, 8) for _ in range(2))
        self.decode_head = nn.Linear(8, 3)


READINGS = [('beit', LAYER_DECAY, dict(layer_decay_rate=0.9)),
            ('internvl', CUSTOM, dict(layer_decay_rate=0.9)),
            ('vit', LR_DECAY, dict(decay_rate=0.9))]


@pytest.mark.parametrize('reading, constructor, cfg', READINGS, ids=[r[0] for r in READINGS])
@pytest.mark.parametrize('visual_embed_module', [True, False])
def test_every_vit_readings_layer_0_set_is_the_union_of_its_sources(reading, constructor, cfg,
                                                                    visual_embed_module):
    """Each reading puts at layer 0 exactly the backbone names one of its cited copies puts there
    (wsdm2023 leaves ``mask_token`` out, a name Uni-Perceiver does not have; the other copies
    put it at 0)."""
    model = LayerZeroProbe(visual_embed_module)
    groups = build(model, 'mmdet', constructor, cfg, lr=1e-3, weight_decay=0.05)
    got = {name: group['layer_id'] for group in groups for name in group['param_names']}
    sources = READING_SOURCES[reading]
    for name, layer_id in got.items():
        if not name.startswith('backbone.'):
            continue
        relative = name[len('backbone.'):]
        if relative.startswith('layers.'):
            assert layer_id == int(relative.split('.')[1]) + 1, name
        else:
            assert (layer_id == 0) == at_layer_0(relative, sources), (reading, name, layer_id)
    # a plain string prefix, as in the sources: visual_embedding_proj starts with visual_embed
    assert got['backbone.visual_embedding_proj.weight'] == 0


def vit_adapter_expected(model: nn.Module, source: str, num_layers: int, rate: float, lr: float,
                         wd: float):
    """ViT-Adapter's ``get_num_layer_for_vit`` (czczup/ViT-Adapter ``detection/`` or
    ``wsdm2023/mmcv_custom/layer_decay_optimizer_constructor.py``) on the full name: the copy's
    layer-0 set (``LAYER_0_SETS``) under ``backbone.`` -> 0; ``backbone.layers.i`` (detection:
    also ``backbone.blocks.i``) -> ``i + 1``; else ``num_layers + 1``. Scale ``rate ** (L + 1 -
    id)``; weight decay 0 for 1-D parameters and biases."""
    blocks = ('backbone.blocks', 'backbone.layers') if source == 'vit_adapter_detection' else \
        ('backbone.layers',)
    expected = {}
    for name, param in trainable(model):
        relative = name[len('backbone.'):] if name.startswith('backbone.') else None
        if relative is not None and at_layer_0(relative, (source,)):
            layer_id = 0
        elif name.startswith(blocks):
            layer_id = int(name.split('.')[2]) + 1
        else:
            layer_id = num_layers + 1
        no_decay = param.ndim == 1 or name.endswith('.bias')
        expected[name] = (lr * rate ** (num_layers + 1 - layer_id), 0.0 if no_decay else wd)
    return expected


def test_uniperceiver_htc_builds_as_vit_adapter_trained_it(log_records):
    """``detection/configs/htc++/htc++_uniperceiver_adapter_large_fpn_3x_coco.py``:
    ``LayerDecayOptimizerConstructor(num_layers=24, layer_decay_rate=0.90)``, AdamW lr 1e-4,
    weight decay 0.05. ``backbone.visual_embed.*`` trains at layer 0 (before: at the head lr,
    0.9 ** -25, about 14x too high)."""
    model = UniPerceiverHTC(depth=24)
    got = lr_wd_by_name(build(model, 'mmdet', LAYER_DECAY,
                              dict(num_layers=24, layer_decay_rate=0.90),
                              lr=0.0001, betas=(0.9, 0.999), weight_decay=0.05))
    assert got == approx(vit_adapter_expected(model, 'vit_adapter_detection', 24, 0.9, 1e-4,
                                              0.05))
    visual = [name for name in got if name.startswith('backbone.visual_embed.')]
    assert len(visual) == 6
    for name in visual:
        assert got[name][0] == pytest.approx(1e-4 * 0.9 ** 25), name
    assert got['backbone.level_embed'][0] == 1e-4  # the adapter's own parameters: the head
    assert 'recipe beit (microsoft/unilm' in log_records.messages(20)[-1]


def test_uniperceiver_wsdm2023_builds_as_vit_adapter_trained_it():
    """``wsdm2023/configs/dino_4scale_uniperceiver_adapter_large_24ep_gqa_wsdm2023.py``:
    ``num_layers=24, layer_decay_rate=0.8``, AdamW lr 1e-4, weight decay 0.05; the text
    ``token_embed`` stays at the head id, as in the source."""
    model = WSDMUniPerceiver(depth=24)
    got = lr_wd_by_name(build(model, 'mmdet', LAYER_DECAY,
                              dict(num_layers=24, layer_decay_rate=0.8),
                              lr=0.0001, weight_decay=0.05))
    assert got == approx(vit_adapter_expected(model, 'vit_adapter_wsdm2023', 24, 0.8, 1e-4, 0.05))
    assert got['backbone.visual_embed.patch_embed.spatial_pos_embed.weight'][0] == \
        pytest.approx(1e-4 * 0.8 ** 25)
    assert got['backbone.token_embed.embeddings.weight'][0] == 1e-4


# ===== 3. DINOv2 with block_chunks > 0 =========================================================
def dinov2_layer_id(relative: str, num_layers: int, chunked: bool) -> int:
    """``get_vit_lr_decay_rate`` of facebookresearch/dinov2 ``dinov2/utils/param_groups.py`` as
    DINOv2's training calls it, on the backbone's own names (``force_is_backbone``): a name
    containing ``pos_embed``, ``patch_embed``, ``mask_token``, ``cls_token`` or
    ``register_tokens`` -> 0; a name with ``blocks.`` (and no ``residual.``) -> the number after
    ``blocks.`` (with ``chunked_blocks``: the second one, ``I`` of ``blocks.C.I``) + 1; else
    ``num_layers + 1``."""
    if any(key in relative for key in ('pos_embed', 'patch_embed', 'mask_token', 'cls_token',
                                       'register_tokens')):
        return 0
    if 'blocks.' in relative and 'residual.' not in relative:
        return int(relative[relative.find('blocks.'):].split('.')[2 if chunked else 1]) + 1
    return num_layers + 1


def dinov2_expected(model: nn.Module, num_layers: int, rate: float, lr: float, wd: float,
                    chunked: bool):
    """DINOv2's ids in the backbone (above), the head id outside it; ``rate ** (L + 1 - id)``;
    weight decay as the mmcv-style readings decay (0 for 1-D parameters and biases)."""
    expected = {}
    for name, param in trainable(model):
        layer_id = (dinov2_layer_id(name[len('backbone.'):], num_layers, chunked)
                    if name.startswith('backbone.') else num_layers + 1)
        no_decay = param.ndim == 1 or name.endswith('.bias')
        expected[name] = (lr * rate ** (num_layers + 1 - layer_id), 0.0 if no_decay else wd)
    return expected


@pytest.mark.parametrize('reading, constructor, cfg', READINGS, ids=[r[0] for r in READINGS])
@pytest.mark.parametrize('depth, block_chunks', [(8, 4), (10, 4), (8, 1)])
def test_dinov2_chunked_blocks_are_read_as_dinov2_reads_them(reading, constructor, cfg, depth,
                                                             block_chunks):
    """``block_chunks: 4`` (DINOv2's ViT-L/g training configs): ``blocks.C.I`` -> id ``I + 1``,
    ``num_layers`` the number of blocks; every parameter gets the lr it has in the same model
    built with ``block_chunks=0`` (names ``blocks.I``). Depth 10 in 4 chunks gives 5 chunks of 2
    (DINOv2's ``range(0, depth, depth // block_chunks)``)."""
    chunked = DINOv2Segmentor(depth, block_chunks=block_chunks, num_register_tokens=4)
    got = lr_wd_by_name(build(chunked, 'mmseg', constructor, cfg, lr=1e-3, weight_decay=0.05))
    assert got == approx(dinov2_expected(chunked, depth, 0.9, 1e-3, 0.05, chunked=True))
    plain = DINOv2Segmentor(depth, block_chunks=0, num_register_tokens=4)
    unchunked = lr_wd_by_name(build(plain, 'mmseg', constructor, cfg, lr=1e-3, weight_decay=0.05))
    as_unchunked = {re.sub(r'^backbone\.blocks\.\d+\.', 'backbone.blocks.', name): value
                    for name, value in got.items()}
    assert as_unchunked == unchunked
    last = depth - 1
    assert got[f'backbone.blocks.{last // (depth // block_chunks)}.{last}.attn.qkv.weight'] == \
        (pytest.approx(1e-3 * 0.9), 0.05)


def test_dinov2_issue_example_blocks_3_20_gets_id_21():
    model = DINOv2Segmentor(24, block_chunks=4)
    groups = build(model, 'mmseg', CUSTOM, dict(layer_decay_rate=0.9), lr=1e-3)
    ids = {name: group['layer_id'] for group in groups for name in group['param_names']}
    assert ids['backbone.blocks.3.20.mlp.fc1.weight'] == 21
    assert ids['backbone.blocks.0.0.norm1.weight'] == 1


class RestartingChunks(nn.Module):
    """Chunks whose block indices restart (``blocks.0.0``, ``blocks.1.0``): not DINOv2's layout,
    the names do not say which block of the whole list a parameter is in."""

    def __init__(self) -> None:
        super().__init__()
        self.backbone = nn.Module()
        self.backbone.patch_embed = nn.Conv2d(3, 8, 4)
        self.backbone.blocks = nn.ModuleList(
            nn.ModuleList(nn.Linear(8, 8) for _ in range(2)) for _ in range(2))
        self.decode_head = nn.Linear(8, 3)


class NumberedSubmodules(nn.Module):
    """Blocks with parameters of their own beside numbered sub-modules (``blocks.0.norm``,
    ``blocks.0.0``): ``blocks.C.I`` would read the sub-module as block 0 of chunk 0."""

    def __init__(self) -> None:
        super().__init__()
        self.backbone = nn.Module()
        self.backbone.patch_embed = nn.Conv2d(3, 8, 4)
        self.backbone.blocks = nn.ModuleList()
        for _ in range(2):
            block = nn.Sequential(nn.Linear(8, 8))
            block.norm = nn.LayerNorm(8)
            self.backbone.blocks.append(block)
        self.decode_head = nn.Linear(8, 3)


@pytest.mark.parametrize('reading, constructor, cfg', READINGS, ids=[r[0] for r in READINGS])
@pytest.mark.parametrize('model, why', [
    (RestartingChunks, r"'backbone\.blocks\.0\.0\.weight' and 'backbone\.blocks\.1\.0\.weight' "
                       r'do not have that layout: block index 0 lies in chunk 0 and in chunk 1'),
    (NumberedSubmodules, r"'backbone\.blocks\.0\.norm\.weight' and 'backbone\.blocks\.0\.0\.weight'"
                         r' do not have that layout: blocks\.0 holds parameters of its own'),
])
def test_chunked_names_that_are_not_dinov2s_layout_are_a_clear_error(reading, constructor, cfg,
                                                                     model, why):
    with pytest.raises(ValueError, match=rf"recipe '{reading}' reads blocks\.C\.I as DINOv2's "
                       rf'chunked blocks .*{why}.*layer_ids_from_model=True'):
        build(model(), 'mmseg', constructor, cfg, lr=1e-3)


@pytest.mark.parametrize('constructor, cfg, recipe', [
    (LAYER_DECAY, dict(decay_rate=0.9, decay_type='layer_wise'), 'vitdet'),
    (LR_DECAY, dict(decay_rate=0.9, decay_type='vit_wise'), 'vit_wise')])
def test_readings_whose_source_reads_the_chunk_index_refuse_chunks_and_name_one_that_reads_them(
        constructor, cfg, recipe):
    """ViTDet's and OmniDrive's rules read ``blocks.C.I`` as block ``C`` (one id per chunk):
    refused, naming ``recipe='vit'``, which reads them as DINOv2 does."""
    with pytest.raises(ValueError, match=rf"recipe '{recipe}' cannot read 'backbone\.blocks\.0\.0"
                       r"\..*chunked blocks.*set paramwise_cfg\.recipe='vit'"):
        build(DINOv2Segmentor(8, block_chunks=4), 'mmseg', constructor, cfg, lr=1e-3)


# ===== 4. OmniDrive ============================================================================
#: projects/configs/OmniDrive/eva_base_tinyllama.py (mask_eva_lane_det_vlm.py keeps the same).
OMNIDRIVE_OPTIMIZER = dict(lr=1e-4, betas=(0.9, 0.999), weight_decay=1e-4)
OMNIDRIVE_PARAMWISE = {'decay_rate': 0.9, 'head_decay_rate': 4.0, 'lm_head_decay_rate': 0.1,
                       'decay_type': 'vit_wise', 'num_layers': 24}


def omnidrive_scale(name: str, rate: float, head_rate: float, lm_head_rate: float,
                    num_layers: int) -> Tuple[int, float]:
    """``get_vit_lr_decay_rate`` of NVlabs/OmniDrive ``projects/mmdet3d_plugin/models/utils/
    layer_decay_optimizer_constructor.py``: outside ``img_backbone`` the id is ``L + 1`` and the
    scale ``lm_head_lr_decay_rate`` (names starting ``lm_head``) or ``head_lr_decay_rate``; in it,
    names containing ``.pos_embed`` / ``.patch_embed`` / ``vit_position_encoder`` -> 0,
    ``.blocks.i.`` (not ``.residual.``) -> ``i + 1``, else ``L + 1``, scale ``rate ** (L + 1 -
    id)``."""
    layer_id = num_layers + 1
    if name.startswith('img_backbone'):
        if '.pos_embed' in name or '.patch_embed' in name or 'vit_position_encoder' in name:
            layer_id = 0
        elif '.blocks.' in name and '.residual.' not in name:
            layer_id = int(name[name.find('.blocks.'):].split('.')[2]) + 1
        return layer_id, rate ** (num_layers + 1 - layer_id)
    return layer_id, lm_head_rate if name.startswith('lm_head') else head_rate


def omnidrive_expected(model: nn.Module, lr: float, wd: float, *, first_member: bool = True,
                       rate=0.9, head_rate=4.0, lm_head_rate=0.1, num_layers=24):
    """OmniDrive's constructor walks ``named_parameters()`` (each tensor once, under its first
    name), names a group ``layer_{id}_{decay|no_decay}`` (no decay: 1-D parameters and biases)
    and gives a new group the scale of the parameter that opens it: later members keep it
    (``first_member``). ``first_member=False``: each parameter's own scale
    (``split_head_group=True``)."""
    expected, group_scale = {}, {}
    for name, param in trainable(model):
        no_decay = param.ndim == 1 or name.endswith('.bias')
        layer_id, scale = omnidrive_scale(name, rate, head_rate, lm_head_rate, num_layers)
        if first_member:
            scale = group_scale.setdefault((layer_id, no_decay), scale)
        expected[name] = (lr * scale, 0.0 if no_decay else wd)
    return expected


def test_omnidrive_published_config_builds_as_the_published_run_trained(log_records):
    """The detection head is registered first, so it opens the head-id groups at
    ``head_decay_rate`` 4.0 and the whole ``lm_head`` (TinyLLaMA, trained: ``frozen=False``)
    joins them at 4x the base lr, not 0.1x; the report names those tensors."""
    model = Petr3D()
    got = lr_wd_by_name(build(model, 'mmdet3d', LR_DECAY, OMNIDRIVE_PARAMWISE,
                              **OMNIDRIVE_OPTIMIZER))
    assert got == approx(omnidrive_expected(model, 1e-4, 1e-4))
    lm_head = [name for name in got if name.startswith('lm_head.')]
    assert len(lm_head) == 21
    assert all(got[name][0] == pytest.approx(4e-4) for name in lm_head)
    report = '\n'.join(log_records.messages(20))
    assert ('note: 21 parameters train at another lr than the keys give them, as vit_wise '
            '(NVlabs/OmniDrive') in report
    assert ('21 at x4 (head_decay_rate) (the lr of pts_bbox_head.input_projection.weight / '
            'pts_bbox_head.input_projection.bias, first in their groups) instead of x0.1 '
            '(lm_head_decay_rate): lm_head.model.embed_tokens.weight, ') in report
    assert 'paramwise_cfg.split_head_group=True gives each its own lr' in report


def test_omnidrive_mask_eva_lane_det_vlm_trains_its_lora_at_the_head_groups_lr():
    """``projects/configs/OmniDrive/mask_eva_lane_det_vlm.py``: the same optimizer, an EVA-L
    ``img_backbone`` of 24 blocks (``num_layers=24`` now its depth) and the LLM with LoRA: its
    trained ``lora_A`` / ``lora_B`` join the head-id group at 4x, the frozen base is in no
    group."""
    model = Petr3D(depth=24, lora=True)
    got = lr_wd_by_name(build(model, 'mmdet3d', LR_DECAY, OMNIDRIVE_PARAMWISE,
                              **OMNIDRIVE_OPTIMIZER))
    assert got == approx(omnidrive_expected(model, 1e-4, 1e-4))
    lora = [name for name in got if name.startswith('lm_head.')]
    assert len(lora) == 8 and all('.lora_' in name for name in lora)
    assert all(got[name] == (pytest.approx(4e-4), 1e-4) for name in lora)
    assert got['img_backbone.blocks.23.attn.qkv.weight'] == (pytest.approx(1e-4 * 0.9), 1e-4)


def test_omnidrive_split_head_group_gives_lm_head_its_own_rate(log_records):
    model = Petr3D()
    got = lr_wd_by_name(build(model, 'mmdet3d', LR_DECAY,
                              dict(OMNIDRIVE_PARAMWISE, split_head_group=True),
                              **OMNIDRIVE_OPTIMIZER))
    assert got == approx(omnidrive_expected(model, 1e-4, 1e-4, first_member=False))
    assert got['lm_head.lm_head.weight'] == (pytest.approx(1e-5), 1e-4)
    assert got['pts_bbox_head.input_projection.weight'] == (pytest.approx(4e-4), 1e-4)
    assert 'train at another lr' not in '\n'.join(log_records.messages(20))


def test_backbone_head_id_parameters_join_the_first_group_too():
    """A parameter of ``img_backbone`` with the head id (here a final norm) joins the head-id
    group the detection head opened (4x), as OmniDrive's grouping gives."""
    model = Petr3D(with_lm_head=False)
    model.img_backbone.norm = nn.LayerNorm(8)
    got = lr_wd_by_name(build(model, 'mmdet3d', LR_DECAY, OMNIDRIVE_PARAMWISE,
                              **OMNIDRIVE_OPTIMIZER))
    assert got == approx(omnidrive_expected(model, 1e-4, 1e-4))
    assert got['img_backbone.norm.weight'] == (pytest.approx(4e-4), 0.0)


def test_omnidrive_shared_tensors_are_taken_once_under_their_first_name(log_records):
    """``query_pos``, ``time_embedding`` and ``ego_pose_pe`` are reached from the detector, its
    detection head and its map head; ``cls_branches`` / ``reg_branches`` repeat one module. Each
    tensor is optimized once, under its first name, and the report lists them."""
    model = Petr3D()
    groups = build(model, 'mmdet3d', LR_DECAY, OMNIDRIVE_PARAMWISE, **OMNIDRIVE_OPTIMIZER)
    names = [name for group in groups for name in group['param_names']]
    assert len(names) == len(set(names)) == len(list(model.parameters())) - 2  # 2 frozen
    assert 'pts_bbox_head.query_pos.0.weight' in names
    assert not {'query_pos.0.weight', 'map_head.query_pos.0.weight',
                'pts_bbox_head.cls_branches.1.0.weight'} & set(names)
    report = '\n'.join(log_records.messages(20))
    assert ('note: 34 tensors are reachable under more than one name; each is optimized once, '
            'under its first name in named_parameters()') in report
    assert ('pts_bbox_head.query_pos.0.weight (also query_pos.0.weight, '
            'map_head.query_pos.0.weight)') in report
    assert ('pts_bbox_head.cls_branches.0.0.weight (also pts_bbox_head.cls_branches.1.0.weight, '
            'pts_bbox_head.cls_branches.2.0.weight)') in report


@pytest.mark.parametrize('constructor, cfg', [
    (LR_DECAY, OMNIDRIVE_PARAMWISE), (CUSTOM, dict(layer_decay_rate=0.9)),
    (LAYER_DECAY, dict(layer_decay_rate=0.9))])
def test_every_layer_decay_constructor_takes_shared_tensors_once(constructor, cfg):
    model = Petr3D(with_lm_head=False)
    groups = build(model, 'mmdet3d', constructor, cfg, lr=1e-4)
    names = [name for group in groups for name in group['param_names']]
    assert len(names) == len(set(names)) == len(list(model.parameters())) - 2


def test_bypass_duplicate_false_refuses_shared_tensors_and_mmengines_constructor_still_does():
    model = Petr3D(with_lm_head=False)
    with pytest.raises(ValueError, match=r"parameter 'pts_bbox_head\.cls_branches\.0\.0\.weight' "
                       r"is shared: the same tensor is also reachable as 'pts_bbox_head\."
                       r"cls_branches\.1\.0\.weight', and paramwise_cfg\.bypass_duplicate=False "
                       r'refuses shared parameters\. .*remove paramwise_cfg\.bypass_duplicate'):
        build(model, 'mmdet3d', LR_DECAY, dict(OMNIDRIVE_PARAMWISE, bypass_duplicate=False),
              lr=1e-4)
    with pytest.raises(ValueError, match='some parameters appear in more than one parameter '
                       'group'):
        build(model, 'mmdet3d', 'DefaultOptimWrapperConstructor', dict(norm_decay_mult=0.0),
              lr=1e-4, weight_decay=1e-4)
