"""Resume with nothing lost: same per-group lrs, same final parameters, safe checkpoint loading,
and a clear error when the param groups changed (CPU, deterministic, MMEngine Runner)."""
import json
import os
import os.path as osp
import signal
import subprocess
import sys
import time

import pytest
import torch
from mmengine.logging.history_buffer import HistoryBuffer
from mmengine.optim import build_optim_wrapper
from mmengine.runner.checkpoint import _load_checkpoint

from mmcv_custom.compat import checkpoint_loading
from mmcv_custom.compat.checkpoint_loading import (UnsafeCheckpointError, checkpoint_safe_globals,
                                                   load_from_local)
from mmcv_custom.layer_decay._resume import ParamGroupMismatchError

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), 'dist_scripts'))
from launch import PYTHON, ROOT, SCRIPTS, env, run, tail  # noqa: E402
from tiny_train import TinyClassifier  # noqa: E402

TINY = osp.join(SCRIPTS, 'tiny_train.py')
ITERS = 8


def train(work_dir, *args, expect_rc=0, timeout=120):
    result = run([PYTHON, TINY, '--work-dir', str(work_dir), '--iters', str(ITERS), *args],
                 timeout=timeout)
    assert result.returncode == expect_rc, tail(result)
    return result


def lrs_by_iter(work_dir) -> dict:
    """The per-group lrs each iteration started with (a resumed iteration overwrites)."""
    lines = (work_dir / 'lrs.jsonl').read_text().splitlines()
    return {entry['iter']: entry['lr'] for entry in map(json.loads, lines)}


def final(work_dir) -> dict:
    return load_from_local(str(work_dir / f'iter_{ITERS}.pth'), map_location='cpu')


def assert_same_run(resumed, reference):
    assert lrs_by_iter(resumed) == lrs_by_iter(reference)
    assert sorted(lrs_by_iter(resumed)) == list(range(ITERS))
    got, want = final(resumed), final(reference)
    assert got['state_dict'].keys() == want['state_dict'].keys()
    for name, tensor in want['state_dict'].items():
        assert torch.equal(got['state_dict'][name], tensor), name
    for index, state in want['optimizer']['state'].items():
        for key, value in state.items():
            assert torch.equal(got['optimizer']['state'][index][key], value), (index, key)
    assert [g['lr'] for g in got['optimizer']['param_groups']] == \
        [g['lr'] for g in want['optimizer']['param_groups']]


@pytest.fixture(scope='module')
def reference(tmp_path_factory):
    work_dir = tmp_path_factory.mktemp('reference')
    train(work_dir, '--ckpt-interval', '4')
    return work_dir


# --- resume ends where an uninterrupted run ends ----------------------------------------------

def test_resume_after_a_crash_at_iteration_k_matches_the_uninterrupted_run(reference, tmp_path):
    train(tmp_path, '--ckpt-interval', '4', '--stop-after', '4', expect_rc=3)
    assert not (tmp_path / f'iter_{ITERS}.pth').exists()
    train(tmp_path, '--ckpt-interval', '4', '--resume')
    assert_same_run(tmp_path, reference)


def test_resume_after_sigterm_mid_run_matches_the_uninterrupted_run(reference, tmp_path):
    cmd = [PYTHON, TINY, '--work-dir', str(tmp_path), '--iters', str(ITERS),
           '--ckpt-interval', '2', '--sleep', '0.4']
    process = subprocess.Popen(cmd, cwd=ROOT, env=env(), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 90
    pointer = tmp_path / 'last_checkpoint'
    while time.monotonic() < deadline and process.poll() is None:
        if pointer.exists() and pointer.read_text().strip().endswith('iter_4.pth'):
            break
        time.sleep(0.05)
    assert process.poll() is None, 'the run ended before it could be interrupted'
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) != 0
    assert not (tmp_path / f'iter_{ITERS}.pth').exists()
    train(tmp_path, '--ckpt-interval', '2', '--resume')
    assert_same_run(tmp_path, reference)


# --- safe loading ---------------------------------------------------------------------------

@pytest.fixture
def safe_loader():
    """MMEngine's loader for local paths is mmcv_custom's (as tools/train.py, tools/test.py and the
    layer-decay constructors install it)."""
    checkpoint_loading.install()


def test_an_mmengine_checkpoint_loads_with_weights_only_and_keeps_its_types(reference,
                                                                          safe_loader):
    checkpoint = _load_checkpoint(str(reference / 'iter_4.pth'), map_location='cpu')
    buffers = checkpoint['message_hub']['log_scalars']
    assert isinstance(buffers['train/loss'], HistoryBuffer)
    assert buffers['train/loss'].statistics('mean') > 0
    assert checkpoint['meta']['iter'] == 4


def test_loading_adds_nothing_to_torchs_global_allow_list(reference):
    ours = {entry if not isinstance(entry, tuple) else entry[0]
            for entry in checkpoint_safe_globals()}
    load_from_local(str(reference / 'iter_4.pth'))
    after = {entry if not isinstance(entry, tuple) else entry[0]
             for entry in torch.serialization.get_safe_globals()}
    assert not ours & after
    with pytest.raises(Exception, match='Weights only load failed'):
        torch.load(str(reference / 'iter_4.pth'))  # plain torch.load is as strict as before


class RunsACommand:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f'touch {self.marker}',)


class AsksForAnAttribute:
    def __reduce__(self):
        return getattr, (HistoryBuffer, '__init__')


def test_a_checkpoint_carrying_an_unexpected_pickled_object_is_refused(reference, tmp_path,
                                                                      safe_loader):
    checkpoint = torch.load(str(reference / 'iter_4.pth'), weights_only=False)
    marker = tmp_path / 'code-ran'
    checkpoint['meta']['note'] = RunsACommand(str(marker))
    path = tmp_path / 'tampered.pth'
    torch.save(checkpoint, path)
    with pytest.raises(UnsafeCheckpointError,
                       match=r"refused to load checkpoint .*tampered\.pth.*system"):
        _load_checkpoint(str(path), map_location='cpu')
    assert not marker.exists()


def test_getattr_beyond_history_buffer_statistics_is_refused(tmp_path):
    path = tmp_path / 'getattr.pth'
    torch.save({'meta': {'x': AsksForAnAttribute()}}, path)
    with pytest.raises(UnsafeCheckpointError,
                       match=r"getattr\(.*HistoryBuffer'>, '__init__'\).*only the statistics"):
        load_from_local(str(path))


def test_a_missing_checkpoint_file_is_a_file_not_found_error(tmp_path):
    with pytest.raises(FileNotFoundError, match='nothing.pth can not be found'):
        load_from_local(str(tmp_path / 'nothing.pth'))


# --- changed grouping on resume ---------------------------------------------------------------

def wrapper(arch='vit', freeze=(), constructor='LearningRateDecayOptimizerConstructor',
            **paramwise):
    torch.manual_seed(0)
    model = TinyClassifier(depth=3, arch=arch)
    for name, param in model.named_parameters():
        if name.startswith(tuple(freeze)):
            param.requires_grad_(False)
    cfg = dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-2, weight_decay=0.05),
               constructor=constructor, paramwise_cfg=dict(dict(decay_rate=0.75), **paramwise))
    return model, build_optim_wrapper(model, cfg)


def stepped_state(model, optim_wrapper):
    loss = model(torch.randn(2, 3, 16, 16), torch.tensor([0, 1]), mode='loss')['loss']
    optim_wrapper.update_params(loss)
    return optim_wrapper.state_dict()


@pytest.mark.parametrize('saved, resumed, message', [
    (dict(), dict(num_layers=5),
     r'cannot resume the optimizer: the checkpoint has 10 param groups, this run builds 10; '
     r'groups only in the checkpoint: layer_4_no_decay, layer_4_decay; groups only in this run: '
     r'layer_6_no_decay, layer_6_decay; parameters in another group: backbone\.norm\.weight '
     r'\(layer_4_no_decay -> layer_6_no_decay\)'),
    (dict(arch='convnext'), dict(arch='convnext', decay_type='stage_wise'),
     r'groups only in the checkpoint: layer_6_decay, layer_6_no_decay; groups only in this '
     r'run: layer_4_no_decay, layer_4_decay; parameters in another group: '
     r'backbone\.downsample_layers\.1\.0\.weight \(layer_2_decay -> layer_0_decay\)'),
    (dict(), dict(freeze=('backbone.blocks.0.',)),
     r'parameters optimized in the checkpoint but not in this run \(frozen or removed\): '
     r'backbone\.blocks\.0\.ls1, backbone\.blocks\.0\.ls2, '
     r'backbone\.blocks\.0\.norm1\.weight'),
    (dict(freeze=('backbone.cls_token', 'backbone.pos_embed')), dict(),
     r'parameters optimized in this run but not in the checkpoint \(frozen there or new\): '
     r'backbone\.cls_token, backbone\.pos_embed'),
], ids=['num_layers', 'decay_type', 'newly_frozen', 'newly_trainable'])
def test_resume_with_changed_grouping_names_the_groups_that_differ(saved, resumed, message):
    state = stepped_state(*wrapper(**saved))
    _, optim_wrapper = wrapper(**resumed)
    with pytest.raises(ParamGroupMismatchError, match=message):
        optim_wrapper.load_state_dict(state)


def test_resume_with_other_decay_rate_warns_and_keeps_the_checkpoints_lrs(log_records):
    state = stepped_state(*wrapper())
    _, optim_wrapper = wrapper(decay_rate=0.5)
    optim_wrapper.load_state_dict(state)
    assert [g['lr'] for g in optim_wrapper.optimizer.param_groups] == \
        [g['lr'] for g in state['param_groups']]
    assert any('other layer-decay scales' in m and 'layer_0_decay.lr_scale' in m
               for m in log_records.messages(30))


def test_a_checkpoint_of_mmdets_constructor_resumes_with_ours_in_the_same_groups():
    from mmdet.engine.optimizers.layer_decay_optimizer_constructor import \
        LearningRateDecayOptimizerConstructor as MMDetConstructor
    model, theirs = wrapper('convnext', constructor=MMDetConstructor, num_layers=6)
    state = stepped_state(model, theirs)
    _, ours = wrapper('convnext', num_layers=6)
    assert [(g['group_name'], g['param_names'], g['lr'], g['weight_decay'])
            for g in ours.optimizer.param_groups] == \
        [(g['group_name'], g['param_names'], g['lr'], g['weight_decay'])
         for g in state['param_groups']]
    ours.load_state_dict(state)
    groups = ours.optimizer.param_groups
    assert len(ours.optimizer.state) == sum(len(g['params']) for g in groups)


def test_runner_resume_with_other_num_layers_fails_naming_the_groups(tmp_path):
    train(tmp_path, '--ckpt-interval', '4', '--stop-after', '4', expect_rc=3)
    result = train(tmp_path, '--resume', '--num-layers', '5', expect_rc=1)
    assert 'ParamGroupMismatchError' in result.stderr
    assert 'groups only in the checkpoint: layer_4_no_decay, layer_4_decay' in result.stderr
    assert 'different number of parameter groups' not in result.stderr


def test_runner_resumes_a_checkpoint_written_with_mmdets_constructor(tmp_path):
    common = ('--arch', 'convnext', '--num-layers', '6', '--ckpt-interval', '4')
    train(tmp_path, *common, '--constructor', 'mmdet', '--stop-after', '4', expect_rc=3)
    result = train(tmp_path, *common, '--resume')
    assert 'resumed epoch: 0, iter: 4' in result.stdout + result.stderr
    assert (tmp_path / f'iter_{ITERS}.pth').exists()


# --- FSDP local checkpoints ---------------------------------------------------------------------

class AsksForAnotherShardedTensorAttribute:
    def __reduce__(self):
        from torch.distributed._shard.sharded_tensor.api import ShardedTensor
        return getattr, (ShardedTensor, '__init__')


def test_fsdp_local_checkpoint_types_are_allowed_and_nothing_more(tmp_path):
    # the resume of an FSDP run (state_dict_cfg='local') is in test_reliability_engines.py
    from torch.distributed._shard.sharded_tensor.api import ShardedTensor

    from mmcv_custom.compat.checkpoint_loading import (checkpoint_safe_globals,
                                                       sharded_tensor_globals)
    names = sorted(cls.__name__ for cls in sharded_tensor_globals())
    assert names == sorted(['ShardedTensor', 'ProcessGroupState', 'Shard', 'ShardMetadata',
                            'ShardedTensorMetadata', 'TensorProperties', 'MEM_FORMAT_ENCODING',
                            'ChunkShardingSpec', 'EnumerableShardingSpec', '_remote_device'])
    assert ShardedTensor in checkpoint_safe_globals()
    path = tmp_path / 'sharded_getattr.pth'
    torch.save({'state_dict': {'x': AsksForAnotherShardedTensorAttribute()}}, path)
    with pytest.raises(UnsafeCheckpointError,
                       match=r"getattr\(.*ShardedTensor'>, '__init__'\).*ProcessGroupState"):
        load_from_local(str(path))
