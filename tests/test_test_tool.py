"""Training and testing on the seg demo: tools/test.py and tools/dist_test.sh evaluate a trained
checkpoint and get the metric of the validation at the end of training; LayerDecayLrHook works
from a config run by a plain ``Runner.from_cfg`` (what mmseg's / mmdet's / mmpretrain's own
tools/train.py do); a schedule converted by tools/migrate_config.py drives a real run with mmcv
1.x's learning rates."""
import glob
import json
import os
import os.path as osp
import pickle
import socket
import subprocess
import sys

import pytest

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
TRAIN = osp.join(ROOT, 'tools', 'train.py')
TEST = osp.join(ROOT, 'tools', 'test.py')
DIST_TEST = osp.join(ROOT, 'tools', 'dist_test.sh')
SEG_DEMO = osp.join(ROOT, 'configs', 'demo', 'upernet_vit-tiny_ld0.9_200it_shapes-seg.py')
CLS_DEMO = osp.join(ROOT, 'configs', 'demo', 'vit-tiny-p4_ld0.75_150it_shapes-cls.py')
ITERS = 4
#: One intra-op thread per process: robust on a shared 2-core machine.
ENV = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=ROOT)


@pytest.fixture(scope='module')
def demo_data(tmp_path_factory):
    out = tmp_path_factory.mktemp('demo_data')
    subprocess.run([sys.executable, osp.join(ROOT, 'tools', 'make_demo_data.py'), '--out',
                    str(out), '--tasks', 'seg', 'cls', '--train', '8', '--val', '4'], check=True,
                   cwd=ROOT, capture_output=True)
    return out


@pytest.fixture(scope='module')
def seg_data(demo_data):
    return str(demo_data / 'seg')


def data_options(root: str) -> list:
    return [f'{loader}.dataset.data_root={root}/'
            for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')]


def run(command: list, timeout: int = 300, env=None) -> subprocess.CompletedProcess:
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                            env=env or ENV)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


@pytest.fixture(scope='module')
def trained(seg_data, tmp_path_factory):
    """The seg demo trained for a few iterations, validated and saved at the end."""
    work_dir = tmp_path_factory.mktemp('train')
    run([sys.executable, TRAIN, SEG_DEMO, '--work-dir', str(work_dir), '--cfg-options',
         f'train_cfg.max_iters={ITERS}', f'train_cfg.val_interval={ITERS}',
         f'default_hooks.checkpoint.interval={ITERS}', *data_options(seg_data)])
    (scalars,) = glob.glob(str(work_dir / '*' / 'vis_data' / 'scalars.json'))
    with open(scalars) as file:
        val = [json.loads(line) for line in file if '"mIoU"' in line]
    assert len(val) == 1
    return str(work_dir / f'iter_{ITERS}.pth'), val[0]


def logged_test_metrics(work_dir) -> dict:
    """The metrics LoggerHook wrote at the end of the test (``<timestamp>/<timestamp>.json``)."""
    paths = [path for path in glob.glob(osp.join(work_dir, '*', '*.json'))
             if osp.basename(path)[:-5] == osp.basename(osp.dirname(path))]
    assert len(paths) == 1, paths
    with open(paths[0]) as file:
        return json.loads(file.read().strip().splitlines()[-1])


def test_test_py_gets_the_miou_of_the_final_validation(trained, seg_data, tmp_path):
    checkpoint, val = trained
    work_dir, out, show = tmp_path / 'test', tmp_path / 'pred', tmp_path / 'show'
    run([sys.executable, TEST, SEG_DEMO, checkpoint, '--work-dir', str(work_dir),
         '--out', str(out), '--show-dir', str(show), '--cfg-options', *data_options(seg_data),
         'default_hooks.visualization.interval=1'])  # mmseg draws every interval-th batch
    metrics = logged_test_metrics(str(work_dir))
    assert metrics['mIoU'] == val['mIoU']
    assert metrics['aAcc'] == val['aAcc']
    # --out: mmseg writes the predicted label maps; --show-dir: the painted predictions
    assert len(glob.glob(str(out / '*.png'))) == 4
    assert len(glob.glob(str(show / '**' / '*.png'), recursive=True)) == 4


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def test_dist_test_sh_on_two_cpu_processes_gets_the_same_miou(trained, seg_data, tmp_path):
    checkpoint, val = trained
    work_dir = tmp_path / 'dist'
    env = dict(ENV, PYTHON=sys.executable, PORT=str(free_port()))
    result = run(['bash', DIST_TEST, SEG_DEMO, checkpoint, '2', '--work-dir', str(work_dir),
                  '--cfg-options', *data_options(seg_data)], env=env)
    assert metrics_equal(logged_test_metrics(str(work_dir)), val), result.stdout[-2000:]
    (log,) = glob.glob(str(work_dir / '*' / '*.log'))
    with open(log) as file:
        assert 'Distributed training: True\n    GPU number: 2\n' in file.read()


def test_dist_test_sh_copies_the_complete_log_to_out_dir(trained, seg_data, tmp_path):
    """``default_hooks.logger.out_dir`` with ``keep_local=False`` on 2 processes: the log folder
    is copied once, whole (the copied log holds the test's metrics line, the metrics file
    parses), and deleted once. MMEngine 0.10.7 copies and deletes it on every rank; its copied
    log lacked the metrics line, or a rank crashed, in 5 runs of 7
    (``mmcv_custom/compat/mmengine_logger_hook.py``)."""
    checkpoint, val = trained
    work_dir, out_dir = tmp_path / 'dist', tmp_path / 'uploaded'
    env = dict(ENV, PYTHON=sys.executable, PORT=str(free_port()))
    run(['bash', DIST_TEST, SEG_DEMO, checkpoint, '2', '--work-dir', str(work_dir),
         '--cfg-options', *data_options(seg_data), f'default_hooks.logger.out_dir={out_dir}',
         'default_hooks.logger.keep_local=False'], env=env)
    copied = out_dir / 'dist'
    (log,) = copied.glob('*.log')
    (metrics,) = copied.glob('*.json')
    assert metrics_equal(json.loads(metrics.read_text()), val)
    (summary,) = [line for line in log.read_text().splitlines() if 'Iter(test) [1/1]' in line]
    assert f"mIoU: {val['mIoU']:.4f}" in summary, summary
    assert (copied / 'vis_data' / 'config.py').exists()
    assert glob.glob(str(work_dir / '*' / '*.log')) + glob.glob(str(work_dir / '*' / '*.json')) \
        == []


def metrics_equal(metrics: dict, val: dict) -> bool:
    return (metrics['mIoU'], metrics['aAcc']) == (val['mIoU'], val['aAcc'])


def test_test_py_on_mmpretrain_dumps_the_predictions_and_gets_the_final_accuracy(
        demo_data, tmp_path):
    root = str(demo_data / 'cls')
    work_dir = tmp_path / 'train'
    run([sys.executable, TRAIN, CLS_DEMO, '--work-dir', str(work_dir), '--cfg-options',
         'train_cfg.max_iters=2', 'train_cfg.val_interval=2', 'default_hooks.checkpoint.interval=2',
         *data_options(root)])
    (scalars,) = glob.glob(str(work_dir / '*' / 'vis_data' / 'scalars.json'))
    with open(scalars) as file:
        (val,) = [json.loads(line) for line in file if '"accuracy/top1"' in line]
    test_dir, out = tmp_path / 'test', tmp_path / 'predictions.pkl'
    run([sys.executable, TEST, CLS_DEMO, str(work_dir / 'iter_2.pth'), '--work-dir',
         str(test_dir), '--out', str(out), '--cfg-options', *data_options(root)])
    assert logged_test_metrics(str(test_dir))['accuracy/top1'] == val['accuracy/top1']
    with open(out, 'rb') as file:
        predictions = pickle.load(file)
    assert len(predictions) == len(glob.glob(osp.join(root, 'val', '*', '*')))


# ----- argument handling -----

def load_test_module():
    import importlib.util
    spec = importlib.util.spec_from_file_location('test_tool_under_test', TEST)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_checkpoint_becomes_load_from_and_work_dir_defaults_to_the_config_stem():
    tool = load_test_module()
    cfg = tool.build_config(tool.parse_args([SEG_DEMO, 'ckpt/iter_4.pth']))
    assert (cfg.load_from, cfg.resume) == ('ckpt/iter_4.pth', False)
    assert cfg.work_dir == osp.join('./work_dirs', 'upernet_vit-tiny_ld0.9_200it_shapes-seg')


def test_out_for_mmseg_sets_the_evaluator_output_dir_and_show_dir_the_visualizer():
    tool = load_test_module()
    cfg = tool.build_config(tool.parse_args([SEG_DEMO, 'c.pth', '--out', 'preds',
                                             '--show-dir', 'painted']))
    assert (cfg.test_evaluator.output_dir, cfg.test_evaluator.keep_results) == ('preds', True)
    assert cfg.default_hooks.visualization.draw is True
    assert cfg.visualizer.save_dir == 'painted'


def test_out_for_mmdet_must_be_a_pickle_file():
    tool = load_test_module()
    det = osp.join(ROOT, 'configs', 'demo',
                   'mask-rcnn_convnext-tiny-w32_lrd0.95_200it_shapes-coco.py')
    with pytest.raises(SystemExit, match='--out must be a .pkl / .pickle file for mmdet'):
        tool.build_config(tool.parse_args([det, 'c.pth', '--out', 'preds']))
    cfg = tool.build_config(tool.parse_args([det, 'c.pth', '--show-dir', 'painted']))
    assert cfg.default_hooks.visualization.test_out_dir == 'painted'


def test_tta_without_tta_model_in_the_config_is_refused():
    tool = load_test_module()
    with pytest.raises(SystemExit, match=r"--tta needs \['tta_model', 'tta_pipeline'\]"):
        tool.build_config(tool.parse_args([SEG_DEMO, 'c.pth', '--tta']))


def test_tta_wraps_the_model_and_uses_the_tta_pipeline(tmp_path):
    config = tmp_path / 'tta.py'
    config.write_text(f"_base_ = [{SEG_DEMO!r}]\n"
                      "tta_model = dict(type='SegTTAModel')\n"
                      "tta_pipeline = [dict(type='LoadImageFromFile')]\n")
    tool = load_test_module()
    cfg = tool.build_config(tool.parse_args([str(config), 'c.pth', '--tta']))
    assert cfg.model.type == 'SegTTAModel'
    assert cfg.model.module.type == 'EncoderDecoder'
    assert cfg.test_dataloader.dataset.pipeline == [dict(type='LoadImageFromFile')]


def test_dist_test_sh_builds_the_torchrun_command():
    env = dict(os.environ, DIST_TEST_DRY_RUN='1', NNODES='2', NODE_RANK='1',
               MASTER_ADDR='10.0.0.1', PORT='29123')
    result = subprocess.run(['bash', DIST_TEST, SEG_DEMO, 'c.pth', '2', '--out', 'o d'],
                            cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    command = result.stdout.strip().splitlines()[-1]
    for part in ('-m torch.distributed.run', '--nnodes=2', '--node_rank=1',
                 '--master_addr=10.0.0.1', '--master_port=29123', '--nproc_per_node=2',
                 f'{SEG_DEMO} c.pth --launcher pytorch', '--out o\\ d'):
        assert part in command


def test_dist_test_sh_refuses_missing_arguments():
    result = subprocess.run(['bash', DIST_TEST, SEG_DEMO, 'c.pth'], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert 'usage' in result.stderr.lower()


# ----- LayerDecayLrHook under a plain Runner.from_cfg -----

PLAIN_RUNNER = '''
import argparse
from mmengine.config import Config, DictAction
from mmengine.runner import Runner
parser = argparse.ArgumentParser()
parser.add_argument('config')
parser.add_argument('work_dir')
parser.add_argument('--cfg-options', nargs='+', action=DictAction)
args = parser.parse_args()
cfg = Config.fromfile(args.config)
cfg.work_dir = args.work_dir
cfg.merge_from_dict(args.cfg_options)
Runner.from_cfg(cfg).train()
'''


def test_custom_hooks_line_gives_a_plain_runner_lr_head_and_param_groups_json(seg_data, tmp_path):
    """A user config for mmseg's own tools/train.py: the demo's model and data with MMEngine's
    plain LogProcessor, plus the README's two lines (``custom_imports`` and ``custom_hooks``);
    the runner is built by ``Runner.from_cfg`` and only ``custom_imports`` imports mmcv_custom."""
    with open(osp.join(ROOT, 'README.md')) as file:
        section = file.read().split("## Training with mmseg's, mmdet's or mmpretrain's own", 1)[1]
    readme_lines = section.split('```python\n', 1)[1].split('```', 1)[0].splitlines()
    two_lines = [line for line in readme_lines
                 if line.startswith(('custom_imports', 'custom_hooks'))]
    assert two_lines == [
        "custom_imports = dict(imports=['mmcv_custom'], allow_failed_imports=False)",
        "custom_hooks = [dict(type='LayerDecayLrHook')]"]
    config = tmp_path / 'user_config.py'
    config.write_text('\n'.join([f"_base_ = [{SEG_DEMO!r}]", *two_lines,
                                 "log_processor = dict(_delete_=True, by_epoch=False)", '']))
    work_dir = tmp_path / 'work'
    script = tmp_path / 'plain_train.py'
    script.write_text(PLAIN_RUNNER)
    result = run([sys.executable, str(script), str(config), str(work_dir), '--cfg-options',
                  f'train_cfg.max_iters={ITERS}', f'train_cfg.val_interval={ITERS}',
                  f'default_hooks.checkpoint.interval={ITERS}', 'default_hooks.logger.interval=1',
                  *data_options(seg_data)])
    with open(work_dir / 'param_groups.json') as file:
        records = json.load(file)
    assert records['layer_0_decay']['layer_id'] == 0
    (scalars,) = glob.glob(str(work_dir / '*' / 'vis_data' / 'scalars.json'))
    with open(scalars) as file:
        logged = [json.loads(line) for line in file if '"lr_head"' in line]
    assert [record['iter'] for record in logged] == list(range(1, ITERS + 1))
    head_lr = max(record['lr'] for record in records.values())
    embed_lr = min(record['lr'] for record in records.values())
    for record in logged:
        assert record['lr_embed'] / record['lr_head'] == pytest.approx(embed_lr / head_lr)
    (log,) = glob.glob(str(work_dir / '*' / '*.log'))
    with open(log) as file:
        text = file.read()
    assert 'lr_head: ' in text and 'lr_embed: ' in text, result.stdout[-2000:]


# ----- a converted mmcv 1.x schedule in a real training run -----

def test_converted_schedule_gives_mmcv1_lrs_in_a_real_run(seg_data, tmp_path):
    """The demo (AdamW 1e-3, 4 blocks, decay 0.9) trained with the conversion of an mmcv 1.x
    ``lr_config`` that needs ``LrUpdaterLR`` (a floor under a linear warm-up). mmcv 1.x's rule:
    ``lr(t) = (1 - (1 - t / 3) * 0.9) * ((base - 1e-4) * (1 - t / 6) + 1e-4)`` for ``t < 3``, the
    bracket alone after; the head starts at 1e-3, the embeddings at 1e-3 * 0.9 ** 5."""
    from mmcv_custom.migrate._render import format_value
    from mmcv_custom.migrate._schedule import RunLength, convert_lr_config
    lr_config = dict(policy='poly', power=1.0, min_lr=1e-4, by_epoch=False, warmup='linear',
                     warmup_iters=3, warmup_ratio=0.1)
    schedulers, _ = convert_lr_config(lr_config, RunLength(by_epoch=False, length=6),
                                      dict(type='AdamW', lr=1e-3),
                                      dict(num_layers=4, layer_decay_rate=0.9))
    assert [scheduler['type'] for scheduler in schedulers] == ['mmcv_custom.LrUpdaterLR']
    config = tmp_path / 'converted_schedule.py'
    config.write_text(f"_base_ = [{SEG_DEMO!r}]\n"
                      f"param_scheduler = {format_value(schedulers)}\n")
    work_dir = tmp_path / 'work'
    run([sys.executable, TRAIN, str(config), '--work-dir', str(work_dir), '--cfg-options',
         'train_cfg.max_iters=6', 'train_cfg.val_interval=6',
         'default_hooks.checkpoint.interval=6', 'default_hooks.logger.interval=1',
         *data_options(seg_data)])
    (scalars,) = glob.glob(str(work_dir / '*' / 'vis_data' / 'scalars.json'))
    with open(scalars) as file:
        logged = [json.loads(line) for line in file if '"lr_head"' in line]
    assert [record['iter'] for record in logged] == list(range(1, 7))

    def mmcv1(base, t):
        regular = (base - 1e-4) * (1 - t / 6) + 1e-4
        return regular * (1 - (1 - t / 3) * 0.9) if t < 3 else regular

    for record in logged:
        t = record['iter'] - 1
        assert record['lr_head'] == pytest.approx(mmcv1(1e-3, t), rel=1e-9)
        assert record['lr_embed'] == pytest.approx(mmcv1(1e-3 * 0.9 ** 5, t), rel=1e-9)


def test_a_flexible_runner_config_tested_in_one_process_uses_the_plain_runner_and_says_so():
    # the FSDP demo config: FlexibleRunner + FSDPStrategy, which needs a process group
    tool = load_test_module()
    config = osp.join(osp.dirname(SEG_DEMO), 'upernet_internvit-tiny_ld0.9_200it_shapes-seg.py')
    cfg, notes = tool.build_config_and_notes(tool.parse_args([config, 'ckpt.pth']))
    assert cfg.runner_type == 'Runner' and 'strategy' not in cfg
    assert len(notes) == 1 and 'instead of FlexibleRunner with FSDPStrategy' in notes[0]
