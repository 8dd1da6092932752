"""``make demo-internvit`` at small size: a tiny random transformers ``InternVLVisionModel``
(tools/demo_internvit_weights.py) -> the converter -> InternViT + InternVL's feature pyramid +
UPerNet trained with CustomLayerDecayOptimizerConstructor through ``tools/dist_train.sh`` on 2 CPU
processes under torch FSDP (the demo config: per-block units, activation checkpointing) ->
``tools/test.py`` on the checkpoint. And the same model under DeepSpeed ZeRO-1 with bf16, the
strategy of the InternViT-6B configs (the model cast to bf16, buffers included; float32 backbone
maps into a bf16 neck)."""
import json
import os.path as osp
import re
import subprocess
import sys

import pytest
import torch

from mmcv_custom.models import convert_internvit

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), 'dist_scripts'))
from launch import PYTHON, ROOT, free_port, run, tail  # noqa: E402

DEMO = 'configs/demo/upernet_internvit-tiny_ld0.9_200it_shapes-seg.py'
ITERS = 2
ZERO1_BF16 = """
_base_ = ['{demo}']
strategy = dict(_delete_=True, type='DeepSpeedStrategy', zero_optimization=dict(stage=1),
                bf16=dict(enabled=True), inputs_to_half=['inputs'],
                config=dict(zero_allow_untested_optimizer=True,
                            data_types=dict(buffer_dtype='bf16')))
optim_wrapper = dict(type='DeepSpeedOptimWrapper')
"""


@pytest.fixture(scope='module')
def prepared(tmp_path_factory):
    """Demo data (8 + 4 images) and the converted random transformers model."""
    out = tmp_path_factory.mktemp('internvit_demo')
    subprocess.run([sys.executable, osp.join(ROOT, 'tools', 'make_demo_data.py'), '--out',
                    str(out / 'data'), '--tasks', 'seg', '--train', '8', '--val', '4'],
                   check=True, cwd=ROOT, capture_output=True)
    sys.path.insert(0, osp.join(ROOT, 'tools'))
    try:
        import demo_internvit_weights
    finally:
        sys.path.remove(osp.join(ROOT, 'tools'))
    hf_dir = demo_internvit_weights.write(str(out / 'hf_random'))
    checkpoint = str(out / 'internvit-tiny.pth')
    result = convert_internvit(hf_dir, checkpoint)
    assert result.layout == 'transformers' and result.arch.num_heads == 4
    return out, checkpoint


def options(data_root: str, checkpoint: str) -> list:
    loaders = ('train_dataloader', 'val_dataloader', 'test_dataloader')
    return [*(f'{loader}.dataset.data_root={data_root}/' for loader in loaders),
            f'model.backbone.init_cfg.checkpoint={checkpoint}',
            f'train_cfg.max_iters={ITERS}', f'train_cfg.val_interval={ITERS}',
            f'default_hooks.checkpoint.interval={ITERS}', 'default_hooks.logger.interval=1']


def dist_train(config: str, work_dir, data_root: str, checkpoint: str):
    result = run(['bash', osp.join(ROOT, 'tools', 'dist_train.sh'), config, '2', '--work-dir',
                  str(work_dir), '--cfg-options', *options(data_root, checkpoint)],
                 timeout=400, env_extra=dict(PYTHON=PYTHON, PORT=str(free_port())))
    assert result.returncode == 0, tail(result, 60)
    return result.stdout + result.stderr


def check_run(log: str, work_dir, checkpoint: str) -> None:
    assert f'InternViT: loaded all 56 tensors of {checkpoint} (strict)' in log
    assert re.search(rf'Iter\(train\) \[{ITERS}/{ITERS}\]', log)
    assert re.search(r'Iter\(val\) .* mIoU: ', log)
    with open(work_dir / 'param_groups.json') as file:
        records = json.load(file)
    ids = {name: record['layer_id'] for record in records.values()
           for name in record['param_names']}
    # InternVL's ids on the canonical names, whatever the engine wrapped
    assert ids['backbone.pos_embed'] == ids['backbone.patch_embed.proj.weight'] == 0
    assert ids['backbone.blocks.3.attn.qkv.weight'] == 4
    assert ids['neck.up1.0.weight'] == ids['decode_head.conv_seg.weight'] == 5


def test_the_demo_converts_trains_under_fsdp_on_2_processes_and_tests(prepared, tmp_path):
    out, checkpoint = prepared
    work_dir = tmp_path / 'work'
    log = dist_train(DEMO, work_dir, str(out / 'data' / 'seg'), checkpoint)
    check_run(log, work_dir, checkpoint)
    assert 'FSDPStrategy' in log and osp.isfile(work_dir / f'iter_{ITERS}.pth')
    tested = run([PYTHON, osp.join(ROOT, 'tools', 'test.py'), DEMO,
                  str(work_dir / f'iter_{ITERS}.pth'), '--work-dir', str(tmp_path / 'test'),
                  '--cfg-options', *options(str(out / 'data' / 'seg'), checkpoint)],
                 timeout=300)  # one process: tools/test.py takes the plain Runner by itself
    assert tested.returncode == 0, tail(tested, 40)
    assert re.search(r'Iter\(test\) .* mIoU: ', tested.stdout + tested.stderr)
    assert 'instead of FlexibleRunner with FSDPStrategy' in tested.stdout + tested.stderr


def test_the_demo_model_trains_under_deepspeed_zero1_bf16(prepared, tmp_path):
    out, checkpoint = prepared
    config = tmp_path / 'zero1_bf16.py'
    config.write_text(ZERO1_BF16.format(demo=osp.join(ROOT, DEMO)))
    work_dir = tmp_path / 'work'
    log = dist_train(str(config), work_dir, str(out / 'data' / 'seg'), checkpoint)
    check_run(log, work_dir, checkpoint)
    assert 'DeepSpeedStrategy' in log
    assert not torch.isnan(torch.tensor([float(v) for v in re.findall(r' loss: ([0-9.]+)',
                                                                        log)])).any()
