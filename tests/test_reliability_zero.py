"""ZeroRedundancyOptimizer with our groups on 2 CPU processes equals plain DDP (torchrun, gloo)."""
import json
import os.path as osp
import sys

import pytest

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), 'dist_scripts'))
from launch import SCRIPTS, run, tail, torchrun_cmd  # noqa: E402


@pytest.fixture(scope='module')
def zero_report(tmp_path_factory):
    out = tmp_path_factory.mktemp('zero') / 'report.json'
    result = run(torchrun_cmd(osp.join(SCRIPTS, 'zero_vs_ddp.py'), [str(out)]), timeout=180)
    assert result.returncode == 0, tail(result)
    return json.loads(out.read_text())


def test_zero_gives_the_same_parameters_as_ddp_after_the_steps(zero_report):
    assert zero_report['max_param_diff'] <= 1e-7


def test_zero_keeps_every_groups_lr_and_weight_decay_through_the_schedule(zero_report):
    assert zero_report['lr_wd_equal']
    assert zero_report['digests_equal']


def test_every_ranks_local_groups_name_exactly_their_own_params(zero_report):
    # torch copies the whole group's param_names into each rank's partial group;
    # mmcv_custom.distributed._zero_groups keeps them true.
    assert zero_report['local_names_ok']


def test_consolidated_zero_state_resumes_and_keeps_full_names(zero_report):
    assert zero_report['saved_names_full']
    assert zero_report['resume_ok']


def test_zero_resume_with_other_num_layers_names_the_groups_that_differ(zero_report):
    # same number of groups and group sizes: torch alone would load it silently
    error = zero_report['mismatch_error']
    assert error.startswith('ParamGroupMismatchError: ')
    assert 'groups only in the checkpoint: layer_4_no_decay, layer_4_decay' in error
    assert 'groups only in this run: layer_6_no_decay, layer_6_decay' in error
