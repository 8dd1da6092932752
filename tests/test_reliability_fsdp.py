"""Layer decay on wrapped models, 2 CPU ranks (one rank hides sharding bugs): torch FSDP in every
wrap setting, ``torch.compile`` and ``MMSeparateDistributedDataParallel``. Each rank's groups are
compared with the bare model's, parameter by parameter (group name, lr, weight decay); one
``torchrun`` launch (``dist_scripts/wrapped_groups.py``) serves every test here."""
import json
import os.path as osp
import sys

import pytest

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), 'dist_scripts'))
from launch import SCRIPTS, run, tail, torchrun_cmd  # noqa: E402

RANKS = (0, 1)


@pytest.fixture(scope='module')
def reports(tmp_path_factory):
    out = tmp_path_factory.mktemp('wrapped')
    result = run(torchrun_cmd(osp.join(SCRIPTS, 'wrapped_groups.py'), [str(out)]), timeout=300)
    assert result.returncode == 0, tail(result, 60)
    return [json.loads((out / f'rank{rank}.json').read_text()) for rank in RANKS]


def case(reports, name):
    return [report[name] for report in reports]


@pytest.mark.parametrize('name', [
    'fsdp_default', 'fsdp_per_block', 'fsdp_per_block_checkpointed', 'fsdp_shard_grad_op',
    'fsdp_backbone_unit', 'compiled', 'separate_ddp'])
def test_every_ranks_groups_equal_the_bare_models_parameter_by_parameter(reports, name):
    for rank, result in zip(RANKS, case(reports, name)):
        assert 'error' not in result, f'rank {rank}: {result.get("error")}'
        assert result['mismatches'] == [], f'rank {rank}'
        # the shard-shape bug merged decay and no-decay groups: the group count shows it too
        assert result['groups'] == result['bare_groups'], f'rank {rank}'


def test_the_constructors_report_says_its_counts_are_this_ranks_shards(reports):
    for rank, result in zip(RANKS, case(reports, 'fsdp_default')):
        shards = [note for note in result['notes'] if "this rank's shards" in note]
        assert len(shards) == 1, f'rank {rank}: {result["notes"]}'
        assert 'of 1,155; weight decay follows the original shapes' in shards[0]
    for result in case(reports, 'compiled'):  # not sharded: no such note
        assert not any("this rank's shards" in note for note in result['notes'])


@pytest.mark.parametrize('name', ['fsdp_backbone_unit_model_ids', 'compiled_model_ids',
                                  'separate_ddp_model_ids'])
def test_get_layer_depth_sees_canonical_names_under_wrappers(reports, name):
    # mmpretrain's VisionTransformer.get_layer_depth with layer_ids_from_model=True: wrapper
    # segments would send every parameter to the head id; under MMSeparateDistributedDataParallel
    # the backbone module is a wrapper, whose wrapped module answers get_layer_depth
    for rank, result in zip(RANKS, case(reports, name)):
        assert 'error' not in result, f'rank {rank}: {result.get("error")}'
        assert result['mismatches'] == [], f'rank {rank}'
        assert result['groups'] == result['bare_groups'] > 2, f'rank {rank}'


def test_flat_parameters_are_refused_with_the_setting_to_change(reports):
    for result in case(reports, 'fsdp_flat_params'):
        error = result.get('error', '')
        assert error.startswith('FlatParameterError: '), error
        assert 'mixes layers' in error and 'use_orig_params=True' in error
        assert '_flat_param' in error


def test_a_shard_without_recorded_shape_is_an_error_naming_the_parameter(reports):
    # the constructor given fsdp_model.module cannot reach the root unit's records
    for result in case(reports, 'fsdp_inner_module_only'):
        error = result.get('error', '')
        assert error.startswith('UnknownShapeError: '), error
        assert "parameter 'backbone.cls_token' is managed by FSDP" in error
        assert 'Build the optimizer from the FSDP-wrapped model' in error


def test_one_adamw_step_under_fsdp_equals_the_bare_models_step(reports):
    for result in case(reports, 'fsdp_step'):
        assert result['changed'] == result['params']  # every parameter moved
        assert result['max_diff'] <= 1e-6


def test_the_internvit_6b_fsdp_config_at_width_16_keeps_every_group_on_every_rank(reports):
    # the config's own strategy (per-block units, activation checkpointing, bf16 mixed
    # precision), prepared for the CPU by tools/train.py and applied by MMEngine's FSDPStrategy
    for rank, result in zip(RANKS, case(reports, 'config_fsdp')):
        assert 'error' not in result, f'rank {rank}: {result.get("error")}'
        assert result['mismatches'] == [], f'rank {rank}'
        assert result['groups'] == result['bare_groups'] == 100
        assert result['fsdp_units'] >= 1 + 48  # the root and one unit per block
        assert result['checkpointed'] > 0
        assert "FSDPStrategy: model_wrapper.device_id='cpu'" in result['notes']
