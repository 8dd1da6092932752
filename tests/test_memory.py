"""Per-GPU memory of weights, gradients and optimizer states (``mmcv_custom.analysis.memory``) and
the inspector's ``--memory``: the formulas against hand-computed numbers, the engines read from
the configs, and the real InternViT-6B full-tuning config on ``meta``."""
import json

import pytest
from mmengine.config import Config

from mmcv_custom.analysis.memory import (ENGINES, engine_of_config, estimate_memory,
                                         optimizer_state_bytes)
from mmcv_custom.analysis import build_model, inspect_config, load_config
from test_internvit_configs import CONFIG_DIR, FULL

# P = 1000 parameters, T = 600 trainable, N = 4 GPUs, AdamW (8 B of fp32 states per parameter):
#   ddp_amp: weights 4 * 1000, grads 4 * 600, states 8 * 600, DDP buckets 4 * 600
#   zero1:   weights 2 * 1000, grads 2 * 600, (4 master + 8) * 600 / 4
#   zero2:   weights 2 * 1000, grads 2 * 600 / 4, 12 * 600 / 4
#   zero3:   weights 2 * 1000 / 4, grads 2 * 600 / 4, 12 * 600 / 4
#   fsdp:    weights 4 * 1000 / 4, grads 4 * 600 / 4, states 8 * 600 / 4
HAND = {
    'ddp_amp': (4000, 2400, 4800, 2400, 13600),
    'zero1': (2000, 1200, 1800, 0, 5000),
    'zero2': (2000, 300, 1800, 0, 4100),
    'zero3': (500, 300, 1800, 0, 2600),
    'fsdp': (1000, 600, 1200, 0, 2800),
}


@pytest.mark.parametrize('engine', ENGINES)
def test_each_engine_follows_its_formula(engine):
    got = estimate_memory(engine, params=1000, trainable=600, gpus=4, state_bytes=8)
    assert (got.weights, got.gradients, got.optimizer_states, got.buffers, got.total) == \
        HAND[engine]


def test_optimizer_state_bytes_and_refusals():
    assert optimizer_state_bytes(dict(type='AdamW')) == 8
    assert optimizer_state_bytes(dict(type='SGD', momentum=0.9)) == 4
    assert optimizer_state_bytes(dict(type='SGD')) == 0
    with pytest.raises(ValueError, match="knows the optimizer states of .* not 'Lamb'"):
        optimizer_state_bytes(dict(type='Lamb'))
    with pytest.raises(ValueError, match="engine must be one of .* got 'zero4'"):
        estimate_memory('zero4', 10, 10, 1)
    with pytest.raises(ValueError, match=r'trainable \(11\) must be between 0 and params \(10\)'):
        estimate_memory('fsdp', 10, 11, 1)


@pytest.mark.parametrize('stem, engine', [
    (FULL, 'zero1'), ('upernet_internvit-6b_ld0.95_80k_ade20k-504x504_fsdp', 'fsdp'),
    ('upernet_internvit-300m-448px-v2.5_ld0.9_80k_ade20k-504x504', 'ddp_amp')])
def test_the_engine_is_read_from_the_config(stem, engine):
    assert engine_of_config(Config.fromfile(str(CONFIG_DIR / f'{stem}.py'))) == engine


def test_internvit_6b_full_tuning_on_8_gpus():
    """InternVL's setting: 8 GPUs, 2 images each, DeepSpeed ZeRO-1 bf16, AdamW."""
    from mmcv_custom.analysis.memory import memory_report
    cfg = load_config(CONFIG_DIR / f'{FULL}.py')
    report = memory_report(build_model(cfg, meta=True), cfg, gpus=8)
    counts = report['counts']
    assert counts['params.backbone'] == 5_902_793_600
    # neck: up1 = 2 deconvs (3200 * 3200 * 2 * 2 + 3200) + LayerNorm (2 * 3200); up2 = 1 deconv
    assert counts['params.neck'] == 3 * (3200 * 3200 * 4 + 3200) + 2 * 3200 == 122_896_000
    p = counts['params']
    assert p == counts['trainable'] == sum(v for k, v in counts.items() if k.startswith('params.'))
    assert (report['config_engine'], report['gpus'], report['images_per_gpu']) == ('zero1', 8, 2)
    rows = {row['engine']: row for row in report['estimates']}
    assert rows['zero1']['weights'] == rows['zero1']['gradients'] == 2 * p  # bf16, replicated
    assert rows['zero1']['optimizer_states'] == 12 * p / 8  # fp32 master + AdamW, sharded
    assert rows['fsdp']['total'] == 16 * p / 8
    assert rows['ddp_amp']['total'] == 20 * p  # 119 GiB: more than an 80 GB GPU holds
    assert rows['ddp_amp']['total'] / 2 ** 30 > 80 > rows['zero1']['total'] / 2 ** 30


def test_the_inspector_writes_memory_json(tmp_path):
    config = CONFIG_DIR.parent / 'demo' / 'upernet_internvit-tiny_ld0.9_200it_shapes-seg.py'
    result = inspect_config(config, out_dir=tmp_path, meta=True, draw=False, memory_gpus=2)
    saved = json.loads((tmp_path / 'memory.json').read_text())
    assert saved == json.loads(json.dumps(result.memory))
    assert saved['config_engine'] == 'fsdp' and saved['gpus'] == 2
    fsdp = next(row for row in saved['estimates'] if row['engine'] == 'fsdp')
    assert fsdp['total'] == 16 * saved['counts']['trainable'] / 2
