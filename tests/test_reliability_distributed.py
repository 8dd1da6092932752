"""Two CPU processes (``tools/dist_train.sh``, torchrun + gloo) on the segmentation demo (tiny ViT +
UPerNet, ADE-style synthetic data), and resume through ``tools/train.py`` on the same demo."""
import glob
import json
import os.path as osp
import re
import sys

import pytest
import torch

from mmcv_custom.compat.checkpoint_loading import load_from_local

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), 'dist_scripts'))
from launch import PYTHON, ROOT, SCRIPTS, free_port, run, tail  # noqa: E402

DEMO = osp.join(ROOT, 'configs', 'demo', 'upernet_vit-tiny_ld0.9_200it_shapes-seg.py')
ITERS = 6
TITLE = re.compile(r'CustomLayerDecayOptimizerConstructor: \d+ param groups; layer ids')

@pytest.fixture(scope='module')
def demo_data(tmp_path_factory):
    out = tmp_path_factory.mktemp('demo_data')
    result = run([PYTHON, osp.join(ROOT, 'tools', 'make_demo_data.py'), '--tasks', 'seg',
                  '--out', str(out), '--train', '16', '--val', '4'])
    assert result.returncode == 0, tail(result)
    return out / 'seg'


def short_config(tmp_path, data_root, deterministic=False) -> str:
    """The demo, ITERS iterations on batches of 2; deterministic: no flips, no dropout."""
    lines = [
        f'_base_ = [{DEMO!r}]',
        "custom_imports = dict(imports=['mmcv_custom', 'digest_hook'], "
        'allow_failed_imports=False)',
        f'data_root = {str(data_root)!r}',
        'train_dataloader = dict(batch_size=2, dataset=dict(data_root=data_root))',
        'val_dataloader = dict(dataset=dict(data_root=data_root))',
        'test_dataloader = val_dataloader',
        f'train_cfg = dict(max_iters={ITERS}, val_interval={ITERS})',
        f"default_hooks = dict(checkpoint=dict(interval={ITERS // 2 if deterministic else ITERS}),"
        ' logger=dict(interval=1), visualization=dict(type="SegVisualizationHook", draw=False))',
        "custom_hooks = [dict(type='LayerDecayLrHook'), dict(type='ReliabilityGroupDigest')]",
    ]
    if deterministic:
        lines += [
            # update() replaces the whole dataset dict, so data_root is given again
            'train_dataloader.update(dataset=dict(data_root=data_root, pipeline=['
            'dict(type="LoadImageFromFile"), dict(type="LoadAnnotations"), '
            'dict(type="PackSegInputs")]))',
            'model = dict(decode_head=dict(dropout_ratio=0.0))',
            'randomness = dict(seed=0, deterministic=True)',
            'train_cfg.update(val_interval=1000)',
        ]
    path = tmp_path / ('short_det.py' if deterministic else 'short.py')
    path.write_text('\n'.join(lines) + '\n')
    return str(path)


@pytest.fixture(scope='module')
def two_process_run(demo_data, tmp_path_factory):
    tmp = tmp_path_factory.mktemp('dist')
    work_dir = tmp / 'work'
    cmd = ['bash', osp.join(ROOT, 'tools', 'dist_train.sh'), short_config(tmp, demo_data), '2',
           '--work-dir', str(work_dir)]
    result = run(cmd, timeout=240, env_extra=dict(PORT=str(free_port()),
                                                  PYTHONPATH=SCRIPTS))
    assert result.returncode == 0, tail(result, 80)
    return work_dir, result.stdout + result.stderr


def test_both_ranks_build_identical_groups(two_process_run):
    work_dir, _ = two_process_run
    digests = [json.loads((work_dir / f'groups_rank{rank}.json').read_text())
               for rank in (0, 1)]
    assert digests[0]['sha256'] == digests[1]['sha256']
    assert len(digests[0]['layout']) > 4


def test_the_group_report_appears_once_in_the_console_and_once_in_the_log_file(two_process_run):
    work_dir, console = two_process_run
    assert len(TITLE.findall(console)) == 1
    assert console.count('Param groups = {') == 1
    logs = glob.glob(str(work_dir / '*' / '*.log'))
    assert logs
    assert sum(len(TITLE.findall(open(log).read())) for log in logs) == 1


def test_the_run_finishes_and_writes_its_checkpoint_once(two_process_run):
    work_dir, console = two_process_run
    assert sorted(osp.basename(p) for p in glob.glob(str(work_dir / '*.pth'))) == \
        [f'iter_{ITERS}.pth']
    assert console.count(f'Saving checkpoint at {ITERS} iterations') == 1
    assert load_from_local(str(work_dir / f'iter_{ITERS}.pth'))['meta']['iter'] == ITERS


def test_demo_resumed_through_tools_train_ends_like_the_uninterrupted_run(demo_data, tmp_path):
    config = short_config(tmp_path, demo_data, deterministic=True)
    train = [PYTHON, osp.join(ROOT, 'tools', 'train.py'), config]
    straight, resumed = tmp_path / 'straight', tmp_path / 'resumed'
    result = run(train + ['--work-dir', str(straight)], timeout=180,
                 env_extra=dict(PYTHONPATH=SCRIPTS))
    assert result.returncode == 0, tail(result)
    # an interrupted run: train to ITERS // 2 (same schedule), then resume to ITERS
    half = ['--cfg-options', f'train_cfg.max_iters={ITERS // 2}']
    result = run(train + ['--work-dir', str(resumed)] + half, timeout=180,
                 env_extra=dict(PYTHONPATH=SCRIPTS))
    assert result.returncode == 0, tail(result)
    result = run(train + ['--work-dir', str(resumed), '--resume'], timeout=180,
                 env_extra=dict(PYTHONPATH=SCRIPTS))
    assert result.returncode == 0, tail(result)
    assert f'resumed epoch: 0, iter: {ITERS // 2}' in result.stdout + result.stderr
    want = load_from_local(str(straight / f'iter_{ITERS}.pth'))
    got = load_from_local(str(resumed / f'iter_{ITERS}.pth'))
    for name, tensor in want['state_dict'].items():
        assert torch.allclose(got['state_dict'][name], tensor, rtol=0, atol=1e-6), name
    assert [g['lr'] for g in got['optimizer']['param_groups']] == \
        [g['lr'] for g in want['optimizer']['param_groups']]
