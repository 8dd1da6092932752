"""The group report: one INFO record on rank 0 (table + InternVL's JSON), detail at DEBUG."""
import json

from mmengine.optim import build_optim_wrapper

from helpers import build_groups, optim_cfg
from mmcv_custom.layer_decay._report import format_table, group_records, summarize_groups
from toy_models import toy_vit_segmentor

CONSTRUCTOR = 'CustomLayerDecayOptimizerConstructor'


def test_one_info_record_with_table_and_json_summary(log_records):
    groups = build_groups(toy_vit_segmentor(depth=2), CONSTRUCTOR, dict(layer_decay_rate=0.9))
    infos = log_records.messages(20)
    assert len(infos) == 1
    (report,) = infos
    assert report.startswith('CustomLayerDecayOptimizerConstructor: 8 param groups; layer ids: '
                             'vit; num_layers=2 (inferred from the model); layer_decay_rate=0.9')
    assert 'group             layer' in report
    summary = json.loads(report.split('Param groups = ', 1)[1])
    assert list(summary) == [g['group_name'] for g in groups]
    first = summary['layer_0_decay']
    assert first == {'param_names': ['backbone.cls_token', 'backbone.pos_embed',
                                     'backbone.patch_embed.proj.weight'],
                     'lr_scale': 0.9 ** 3, 'lr': 0.9 ** 3 * 1e-3, 'weight_decay': 0.05}


def test_per_parameter_detail_is_debug_only(log_records):
    build_groups(toy_vit_segmentor(depth=1), CONSTRUCTOR, dict(layer_decay_rate=0.9))
    (detail,) = log_records.messages(10)
    assert 'backbone.blocks.0.attn.weight: group=layer_1_decay layer_id=1' in detail


def test_other_ranks_log_nothing(log_records, monkeypatch):
    import mmcv_custom.layer_decay._report as report
    monkeypatch.setattr(report, 'get_rank', lambda: 1)
    groups = build_groups(toy_vit_segmentor(depth=1), CONSTRUCTOR, dict(layer_decay_rate=0.9))
    assert groups and log_records.records == []


def test_the_optim_wrappers_unnamed_base_group_is_skipped():
    """``OptimWrapper.param_groups`` ends with an unnamed group of base settings when the
    optimizer has more than one group; the summary, the table and the records leave it out."""
    wrapper = build_optim_wrapper(toy_vit_segmentor(depth=1),
                                  optim_cfg(CONSTRUCTOR, dict(layer_decay_rate=0.9)))
    built = wrapper.optimizer.param_groups
    assert len(built) > 1 and len(wrapper.param_groups) == len(built) + 1
    assert 'group_name' not in wrapper.param_groups[-1]
    names = [group['group_name'] for group in built]
    assert list(summarize_groups(wrapper.param_groups)) == names
    assert list(group_records(wrapper.param_groups)) == names
    assert group_records(wrapper.param_groups) == group_records(built)
    assert format_table(wrapper.param_groups) == format_table(built)
    assert len(format_table(built).splitlines()) == 2 + len(built)


def test_debug_detail_is_built_only_when_a_handler_takes_debug():
    import logging

    from mmengine.logging import MMLogger

    from mmcv_custom.layer_decay._report import debug_is_emitted
    # MMLogger's own level is NOTSET: isEnabledFor(DEBUG) is true, its handlers decide
    assert not debug_is_emitted(MMLogger('report-info', log_level='INFO'))
    assert debug_is_emitted(MMLogger('report-debug', log_level='DEBUG'))
    quiet = logging.Logger('report-quiet', level=logging.INFO)
    quiet.addHandler(logging.NullHandler(logging.DEBUG))
    assert not debug_is_emitted(quiet)
