"""The offline demos train end to end through tools/train.py in mmseg, mmdet and mmpretrain, and
LayerDecayLrHook logs the head / embedding lr and writes param_groups.json (group_records of the
groups as built) truthfully."""
import json
import os
import os.path as osp
import re
import subprocess
import sys
from types import SimpleNamespace

import pytest
import torch
from mmengine.logging import MessageHub, MMLogger
from mmengine.optim import build_optim_wrapper

from mmcv_custom import LayerDecayLrHook
from mmcv_custom import group_records
from mmcv_custom.hooks._lr_hook import head_and_embed_groups
from toy_models import toy_vit_segmentor

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
TRAIN = osp.join(ROOT, 'tools', 'train.py')
DEMOS = {
    'seg': 'configs/demo/upernet_vit-tiny_ld0.9_200it_shapes-seg.py',
    'det': 'configs/demo/mask-rcnn_convnext-tiny-w32_lrd0.95_200it_shapes-coco.py',
    'cls': 'configs/demo/vit-tiny-p4_ld0.75_150it_shapes-cls.py',
}
ITERS = 4
#: The fields of every group in param_groups.json (``mmcv_custom.group_records``).
RECORD_KEYS = {'param_names', 'lr_scale', 'lr', 'weight_decay', 'layer_id', 'num_tensors',
               'num_params'}


@pytest.fixture(scope='module')
def demo_data(tmp_path_factory):
    """A few images per task, made by tools/make_demo_data.py."""
    out = tmp_path_factory.mktemp('demo_data')
    subprocess.run([sys.executable, osp.join(ROOT, 'tools', 'make_demo_data.py'), '--out',
                    str(out), '--train', '8', '--val', '4'], check=True, cwd=ROOT,
                   capture_output=True)
    return out


def data_options(task: str, root: str) -> list:
    loaders = ('train_dataloader', 'val_dataloader', 'test_dataloader')
    options = [f'{loader}.dataset.data_root={root}/' for loader in loaders]
    if task == 'det':
        options.append(f'val_evaluator.ann_file={root}/annotations/instances_val.json')
    return options


def train(task: str, data_root: str, work_dir, *extra: str) -> subprocess.CompletedProcess:
    options = [f'train_cfg.max_iters={ITERS}', f'train_cfg.val_interval={ITERS}',
               f'default_hooks.checkpoint.interval={ITERS}', 'default_hooks.logger.interval=1',
               *data_options(task, data_root), *extra]
    result = subprocess.run(
        [sys.executable, TRAIN, DEMOS[task], '--work-dir', str(work_dir), '--cfg-options',
         *options], cwd=ROOT, capture_output=True, text=True, timeout=300,
        env=dict(os.environ, OMP_NUM_THREADS='1'))  # robust on a shared 2-core machine
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def run_files(work_dir):
    (stamp,) = [name for name in os.listdir(work_dir)
                if osp.isdir(osp.join(work_dir, name, 'vis_data'))]
    run = osp.join(work_dir, stamp)
    with open(osp.join(run, 'vis_data', 'scalars.json')) as file:
        scalars = [json.loads(line) for line in file]
    with open(osp.join(run, f'{stamp}.log')) as file:
        log = file.read()
    return scalars, log


def checkpoint_groups(work_dir):
    """The optimizer's param groups as saved in the final checkpoint (without tensors)."""
    checkpoint = torch.load(osp.join(work_dir, f'iter_{ITERS}.pth'), map_location='cpu',
                            weights_only=False)
    return checkpoint['optimizer']['param_groups']


def logged_lrs(log: str, key: str) -> list:
    return [float(value) for value in re.findall(rf'\b{key}: ([0-9.e+-]+)', log)]


@pytest.mark.parametrize('task', ['seg', 'det', 'cls'])
def test_demo_trains_and_logs_head_and_embed_lr(task, demo_data, tmp_path):
    """The config's own warm-up schedule: every logged lr_embed / lr_head ratio is the ratio of
    the embedding and head groups' lr_scale, and param_groups.json holds the optimizer's groups
    as built (``group_records``: the inspector's schema)."""
    work_dir = tmp_path / 'work'
    train(task, str(demo_data / task), work_dir)

    assert osp.exists(work_dir / f'iter_{ITERS}.pth')
    groups = checkpoint_groups(work_dir)
    with open(work_dir / 'param_groups.json') as file:
        records = json.load(file)
    assert list(records) == [group['group_name'] for group in groups]
    for group in groups:
        record = records[group['group_name']]
        assert set(record) == RECORD_KEYS
        assert record['param_names'] == group['param_names']
        assert record['lr'] == group['initial_lr']
        assert record['lr_scale'] == group['lr_scale']
        assert record['weight_decay'] == group['weight_decay']
        assert record['layer_id'] == group['layer_id']
        assert record['num_tensors'] == len(group['params'])  # indices in a saved state dict

    scalars, log = run_files(work_dir)
    train_records = [record for record in scalars if 'lr_head' in record]
    assert [record['iter'] for record in train_records] == list(range(1, ITERS + 1))
    head, embed = head_and_embed_groups(groups)
    assert head['lr_scale'] == 1.0 and embed['lr_scale'] < 1.0
    for record in train_records:
        assert record['lr_embed'] / record['lr_head'] == pytest.approx(embed['lr_scale'])
    # The text log prints the same values in scientific notation (not rounded to 0.0000).
    assert logged_lrs(log, 'lr_head') == pytest.approx(
        [record['lr_head'] for record in train_records], rel=1e-4)
    assert logged_lrs(log, 'lr_embed') == pytest.approx(
        [record['lr_embed'] for record in train_records], rel=1e-4)
    # The final validation ran and was recorded.
    metric = {'seg': 'mIoU', 'det': 'coco/bbox_mAP', 'cls': 'accuracy/top1'}[task]
    assert any(metric in record for record in scalars)


def test_constant_schedule_logs_exactly_the_groups_lrs(demo_data, tmp_path):
    """Without schedulers, lr_head / lr_embed are the head and embedding groups' built lr."""
    work_dir = tmp_path / 'work'
    train('cls', str(demo_data / 'cls'), work_dir, 'param_scheduler=None')
    groups = checkpoint_groups(work_dir)
    head, embed = head_and_embed_groups(groups)
    with open(work_dir / 'param_groups.json') as file:
        records = json.load(file)
    assert records[head['group_name']]['lr'] == head['lr'] == 2e-3
    assert records[embed['group_name']]['lr'] == embed['lr'] == pytest.approx(2e-3 * 0.75 ** 5)
    scalars, _ = run_files(work_dir)
    records = [record for record in scalars if 'lr_head' in record]
    assert len(records) == ITERS
    assert all(record['lr_head'] == head['lr'] for record in records)
    assert all(record['lr_embed'] == embed['lr'] for record in records)


# ----- LayerDecayLrHook on its own -----

def fake_runner(tmp_path, optim_wrapper, name):
    return SimpleNamespace(optim_wrapper=optim_wrapper, work_dir=str(tmp_path),
                           logger=MMLogger.get_current_instance(),
                           message_hub=MessageHub.get_instance(name))


def layer_decay_wrapper(lr=1e-3):
    return build_optim_wrapper(toy_vit_segmentor(depth=3), dict(
        type='OptimWrapper', optimizer=dict(type='AdamW', lr=lr, weight_decay=0.05),
        constructor='CustomLayerDecayOptimizerConstructor',
        paramwise_cfg=dict(layer_decay_rate=0.5)))


def test_hook_pushes_head_and_embed_lr_by_layer_id(tmp_path):
    wrapper = layer_decay_wrapper()
    runner = fake_runner(tmp_path, wrapper, 'test_hook_by_layer_id')
    LayerDecayLrHook().after_train_iter(runner, 0)
    assert runner.message_hub.get_scalar('train/lr_head').current() == 1e-3
    assert runner.message_hub.get_scalar('train/lr_embed').current() == pytest.approx(
        1e-3 * 0.5 ** 4)  # 3 blocks: embeddings id 0, head id 4


def test_hook_falls_back_to_max_and_min_lr_without_layer_id(tmp_path):
    params = [torch.nn.Parameter(torch.zeros(2)) for _ in range(3)]
    optimizer = torch.optim.SGD([{'params': [params[0]], 'lr': 0.2},
                                 {'params': [params[1]], 'lr': 0.5},
                                 {'params': [params[2]], 'lr': 0.1}], lr=0.3)
    runner = fake_runner(tmp_path, SimpleNamespace(optimizer=optimizer), 'test_hook_fallback')
    LayerDecayLrHook().after_train_iter(runner, 0)
    assert runner.message_hub.get_scalar('train/lr_head').current() == 0.5
    assert runner.message_hub.get_scalar('train/lr_embed').current() == 0.1


def test_hook_writes_group_records_with_the_built_lr_under_a_warmup(tmp_path):
    wrapper = layer_decay_wrapper()
    built = group_records(wrapper.optimizer.param_groups)
    for group in wrapper.optimizer.param_groups:  # what a warm-up scheduler does at build time
        group['initial_lr'] = group['lr']
        group['lr'] *= 0.1
    LayerDecayLrHook().before_train(fake_runner(tmp_path, wrapper, 'test_hook_summary'))
    with open(tmp_path / 'param_groups.json') as file:
        assert json.load(file) == json.loads(json.dumps(built))


def test_hook_skips_param_groups_json_for_groups_not_built_by_layer_decay(tmp_path):
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=0.1)
    LayerDecayLrHook().before_train(
        fake_runner(tmp_path, SimpleNamespace(optimizer=optimizer), 'test_hook_plain'))
    assert not osp.exists(tmp_path / 'param_groups.json')


# ----- tools/train.py and tools/dist_train.sh argument handling -----

def load_train_module():
    import importlib.util
    spec = importlib.util.spec_from_file_location('demo_train_tool', TRAIN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize('argv, resume, load_from', [
    ([], False, None),
    (['--resume'], True, None),
    (['--resume', 'ckpt/iter_4.pth'], True, 'ckpt/iter_4.pth'),
])
def test_train_resume_argument(argv, resume, load_from):
    tool = load_train_module()
    cfg = tool.build_config(tool.parse_args([osp.join(ROOT, DEMOS['cls']), *argv]))
    assert bool(cfg.get('resume')) is resume
    assert cfg.get('load_from') == load_from
    assert cfg.work_dir == osp.join('./work_dirs', 'vit-tiny-p4_ld0.75_150it_shapes-cls')


def test_train_adds_the_hook_once_for_layer_decay_constructors():
    tool = load_train_module()
    cfg = tool.build_config(tool.parse_args(
        [osp.join(ROOT, DEMOS['seg']), '--cfg-options', 'custom_hooks=[]',
         'log_processor.type=LogProcessor']))
    assert [hook['type'] for hook in cfg.custom_hooks] == ['LayerDecayLrHook']
    assert cfg.log_processor.type == 'LayerDecayLogProcessor'
    assert tool.add_layer_decay_logging(cfg)
    assert [hook['type'] for hook in cfg.custom_hooks] == ['LayerDecayLrHook']


def test_train_leaves_other_constructors_alone():
    tool = load_train_module()
    cfg = tool.build_config(tool.parse_args(
        [osp.join(ROOT, DEMOS['cls']), '--cfg-options', 'custom_hooks=[]',
         'optim_wrapper.constructor=DefaultOptimWrapperConstructor',
         'optim_wrapper.paramwise_cfg=None']))
    assert cfg.custom_hooks == []


def test_train_amp_without_an_accelerator_is_refused_before_anything_is_built(monkeypatch):
    tool = load_train_module()
    monkeypatch.setattr(tool, 'amp_device_available', lambda: False)
    with pytest.raises(SystemExit, match='--amp: .*AmpOptimWrapper trains on a GPU, NPU, MLU'):
        tool.build_config(tool.parse_args([osp.join(ROOT, DEMOS['seg']), '--amp']))


def test_train_amp_turns_the_optim_wrapper_into_amp_with_dynamic_loss_scale(monkeypatch):
    tool = load_train_module()
    monkeypatch.setattr(tool, 'amp_device_available', lambda: True)
    cfg = tool.build_config(tool.parse_args([osp.join(ROOT, DEMOS['seg']), '--amp']))
    assert (cfg.optim_wrapper.type, cfg.optim_wrapper.loss_scale) == ('AmpOptimWrapper',
                                                                      'dynamic')
    assert cfg.optim_wrapper.constructor == 'CustomLayerDecayOptimizerConstructor'


def test_dist_train_sh_builds_the_torchrun_command():
    env = dict(os.environ, DIST_TRAIN_DRY_RUN='1', NNODES='2', NODE_RANK='1',
               MASTER_ADDR='10.0.0.1', PORT='29123')
    result = subprocess.run(['bash', osp.join(ROOT, 'tools', 'dist_train.sh'), DEMOS['seg'], '2',
                             '--work-dir', 'w d', '--amp'], cwd=ROOT, env=env,
                            capture_output=True, text=True, check=True)
    command = result.stdout.strip().splitlines()[-1]
    assert '-m torch.distributed.run' in command
    for part in ('--nnodes=2', '--node_rank=1', '--master_addr=10.0.0.1',
                 '--master_port=29123', '--nproc_per_node=2', DEMOS['seg'],
                 '--launcher pytorch', '--work-dir w\\ d', '--amp'):
        assert part in command


def test_dist_train_sh_refuses_missing_arguments():
    result = subprocess.run(['bash', osp.join(ROOT, 'tools', 'dist_train.sh'), DEMOS['seg']],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 2
    assert 'usage' in result.stderr.lower()


# ----- tools/make_demo_data.py and tools/demo_summary.py -----

def test_demo_data_is_the_same_for_the_same_seed(tmp_path):
    def make(out):
        subprocess.run([sys.executable, osp.join(ROOT, 'tools', 'make_demo_data.py'), '--out',
                        str(out), '--train', '3', '--val', '2'], check=True, capture_output=True)
        return {osp.relpath(osp.join(folder, name), out): open(osp.join(folder, name), 'rb').read()
                for folder, _, names in os.walk(out) for name in names}
    first, second = make(tmp_path / 'a'), make(tmp_path / 'b')
    assert first == second
    assert 'det/annotations/instances_val.json' in first
    assert 'seg/annotations/validation/val_00001.png' in first


def test_seg_baseline_is_the_majority_class_miou(tmp_path):
    import cv2
    import numpy as np
    sys.path.insert(0, osp.join(ROOT, 'tools'))
    try:
        import demo_summary
    finally:
        sys.path.remove(osp.join(ROOT, 'tools'))
    folder = tmp_path / 'annotations' / 'validation'
    folder.mkdir(parents=True)
    label = np.zeros((4, 4), np.uint8)
    label[0, :2] = 1  # 2 pixels of class 1, 14 of class 0, one 255 (ignored)
    label[3, 3] = 255
    cv2.imwrite(str(folder / 'a.png'), label)
    miou, how = demo_summary.seg_baseline(str(tmp_path))
    # class 0 everywhere: IoU(0) = 13 / 15, IoU(1) = 0, over the 2 classes present.
    assert miou == pytest.approx(13 / 15 / 2 * 100)
    assert 'class 0' in how


def test_the_summary_shows_the_checkpoint_under_the_work_dir_as_given(tmp_path, monkeypatch):
    sys.path.insert(0, osp.join(ROOT, 'tools'))
    try:
        import demo_summary
    finally:
        sys.path.remove(osp.join(ROOT, 'tools'))
    monkeypatch.chdir(tmp_path)
    os.makedirs('work_dirs/seg')
    # MMEngine writes the absolute path into last_checkpoint
    with open('work_dirs/seg/last_checkpoint', 'w') as file:
        file.write(str(tmp_path / 'work_dirs' / 'seg' / 'iter_200.pth'))
    assert demo_summary.checkpoint_path('work_dirs/seg') == 'work_dirs/seg/iter_200.pth'
    with open('work_dirs/seg/last_checkpoint', 'w') as file:
        file.write('/elsewhere/iter_200.pth')
    assert demo_summary.checkpoint_path('work_dirs/seg') == '/elsewhere/iter_200.pth'


@pytest.mark.parametrize('constructor', [
    'CustomLayerDecayOptimizerConstructor', 'LearningRateDecayOptimizerConstructor',
    'LayerDecayOptimizerConstructor', 'mmcv_custom.LayerDecayOptimizerConstructor'])
def test_train_adds_layer_decay_logging_for_every_layer_decay_constructor(constructor):
    """BEiT, ViT-Adapter, EVA and ViTDet configs use LayerDecayOptimizerConstructor."""
    from mmengine.config import Config
    tool = load_train_module()
    cfg = Config(dict(optim_wrapper=dict(constructor=constructor), custom_hooks=[],
                      log_processor=dict(type='LogProcessor')))
    assert tool.add_layer_decay_logging(cfg)
    assert [hook['type'] for hook in cfg.custom_hooks] == ['LayerDecayLrHook']
    assert cfg.log_processor.type == 'LayerDecayLogProcessor'
