"""The param-group inspector (tools/analysis_tools/param_groups.py, mmcv_custom.analysis).

Its outputs hold the optimizer's numbers (``param_groups.json`` in the schema training runs write),
and its lr simulation equals the schedule's formula.
"""
import importlib.util
import json
import logging
import math
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.optim import build_optim_wrapper
from mmengine.registry import MODELS, DefaultScope

from mmcv_custom import LayerDecayLrHook
from mmcv_custom import analysis as inspector

ROOT = Path(__file__).resolve().parents[1]
TOOL = ROOT / 'tools' / 'analysis_tools' / 'param_groups.py'
VIT_B = ROOT / 'configs' / 'upernet_vit-b16_ld0.65_160k_ade20k-512x512.py'
MAE_FT = ROOT / 'configs' / 'mae-finetune_vit-b16_ld0.65_100e_in1k-224.py'
MASK_RCNN = ROOT / 'configs' / 'mask-rcnn_convnext-t_lrd0.95-layer6_3x_coco.py'


def _load_tool():
    spec = importlib.util.spec_from_file_location('param_groups_tool', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def vit_b_outputs(tmp_path_factory):
    """The command line run on the ViT-B UPerNet config (meta device)."""
    out_dir = tmp_path_factory.mktemp('vit_b')
    assert _load_tool().main([str(VIT_B), '--meta', '--out-dir', str(out_dir)]) == 0
    return out_dir


@pytest.fixture(scope='module')
def vit_b_reference_groups():
    """The ViT-B config's groups built with MMEngine's own calls, not through the inspector."""
    cfg = Config.fromfile(str(VIT_B))
    with DefaultScope.overwrite_default_scope(cfg.default_scope), inspector.MetaAllocation():
        model = MODELS.build(cfg.model)
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        return build_optim_wrapper(model, cfg.optim_wrapper).optimizer.param_groups


def test_cli_writes_every_output(vit_b_outputs):
    for name in ('param_groups.json', 'inspection.json', 'lr_schedule.json', 'lr_by_layer.png',
                 'lr_schedule.png'):
        assert (vit_b_outputs / name).is_file(), name


def test_param_groups_json_equals_the_optimizer_groups(vit_b_outputs, vit_b_reference_groups):
    records = json.loads((vit_b_outputs / 'param_groups.json').read_text())
    assert list(records) == [group['group_name'] for group in vit_b_reference_groups]
    for group in vit_b_reference_groups:
        assert records[group['group_name']] == {
            'param_names': group['param_names'], 'lr_scale': group['lr_scale'],
            'lr': group['lr'], 'weight_decay': group['weight_decay'],
            'layer_id': group['layer_id'], 'num_tensors': len(group['params']),
            'num_params': sum(p.numel() for p in group['params'])}
    assert records['layer_0_decay']['lr'] == pytest.approx(1e-4 * 0.65 ** 13)


def test_inspection_json_holds_the_run_metadata(vit_b_outputs, vit_b_reference_groups):
    inspection = json.loads((vit_b_outputs / 'inspection.json').read_text())
    assert inspection == {
        'config': str(VIT_B), 'device': 'meta', 'optim_wrapper': 'OptimWrapper',
        'constructor': 'CustomLayerDecayOptimizerConstructor',
        'paramwise_cfg': {'num_layers': 12, 'layer_decay_rate': 0.65},
        'optimizer': {'type': 'AdamW', 'lr': 1e-4, 'betas': [0.9, 0.999], 'weight_decay': 0.05},
        'num_groups': len(vit_b_reference_groups),
        'num_params': sum(p.numel() for g in vit_b_reference_groups for p in g['params']),
        'notes': []}


def test_training_hook_writes_the_same_param_groups_json(vit_b_outputs, vit_b_reference_groups,
                                                          tmp_path):
    """A training run of the same config writes the inspector's file (with the built lr, though
    a warm-up has lowered the current one)."""
    groups = [dict(group, initial_lr=group['lr'], lr=group['lr'] * 1e-6)
              for group in vit_b_reference_groups]
    runner = SimpleNamespace(optim_wrapper=SimpleNamespace(optimizer=SimpleNamespace(
        param_groups=groups)), work_dir=str(tmp_path), logger=MMLogger.get_current_instance())
    LayerDecayLrHook().before_train(runner)
    from_hook = json.loads((tmp_path / 'param_groups.json').read_text())
    from_inspector = json.loads((vit_b_outputs / 'param_groups.json').read_text())
    assert {name: sorted(record) for name, record in from_hook.items()} == {
        name: sorted(record) for name, record in from_inspector.items()}
    assert from_hook == from_inspector


def _vit_b_expected_lr(group_lr: float, iteration: int) -> float:
    """LinearLR(start_factor=1e-6, 0..1500) then PolyLR(power=1, eta_min=0, 1500..160000)."""
    if iteration < 1500:
        return group_lr * (1e-6 + (1 - 1e-6) * iteration / 1499)
    return group_lr * (1 - (iteration - 1500) / (160000 - 1500 - 1))


def test_lr_schedule_json_matches_warmup_then_poly(vit_b_outputs, vit_b_reference_groups):
    schedule = json.loads((vit_b_outputs / 'lr_schedule.json').read_text())
    assert schedule['total_iters'] == 160000 and schedule['by_epoch'] is False
    assert [g['label'].split(':')[0] for g in schedule['groups']] == [
        'embedding', 'middle', 'head']
    assert [g['layer_id'] for g in schedule['groups']] == [0, 6, 13]
    initial = {g['group_name']: g['lr'] for g in vit_b_reference_groups}
    iterations = schedule['iterations']
    checked = (0, 640, 1499, 1500, 80000, 159999)
    assert set(checked) <= set(iterations)
    for group in schedule['groups']:
        values = dict(zip(iterations, schedule['lr'][group['group_name']]))
        for iteration in checked:
            expected = _vit_b_expected_lr(initial[group['group_name']], iteration)
            assert values[iteration] == pytest.approx(expected, rel=1e-6, abs=1e-15), iteration
    head = dict(zip(iterations, schedule['lr']['layer_13_decay']))
    assert head[1499] == pytest.approx(1e-4) and head[159999] == pytest.approx(0, abs=1e-15)


@pytest.mark.parametrize('name', ['lr_by_layer.png', 'lr_schedule.png'])
def test_figures_are_real_images(vit_b_outputs, name):
    import matplotlib.image

    path = vit_b_outputs / name
    assert path.stat().st_size > 20_000
    pixels = matplotlib.image.imread(str(path))
    height, width = pixels.shape[:2]
    assert width >= 800 and height >= 400
    assert float(pixels[..., :3].std()) > 0.05  # not a blank canvas


@pytest.fixture(scope='module')
def mae_cfg_and_wrapper():
    cfg = inspector.load_config(MAE_FT)
    model = inspector.build_model(cfg, meta=True)
    optim_wrapper, _ = inspector.build_optim_wrapper_for_inspection(model, cfg)
    return cfg, optim_wrapper


def test_epoch_based_schedule_is_converted_with_the_given_epoch_length(mae_cfg_and_wrapper):
    cfg, optim_wrapper = mae_cfg_and_wrapper
    schedule = inspector.simulate_lr_schedule(cfg, optim_wrapper, iters_per_epoch=10)
    assert schedule.by_epoch and schedule.total_iters == 1000
    assert schedule.iters_per_epoch == 10 and schedule.iters_per_epoch_source == 'option'
    assert schedule.boundaries == [50]
    groups = optim_wrapper.optimizer.param_groups
    for index, values in zip(schedule.group_indices, schedule.lr):
        lr = groups[index]['lr']

        def expected(t):
            if t < 50:  # LinearLR(start_factor=1e-4) over epochs 0..5
                return lr * (1e-4 + (1 - 1e-4) * t / 49)
            # CosineAnnealingLR(T_max=95 epochs, eta_min_ratio=1e-6 / 2e-3) over epochs 5..100
            floor = lr * 1e-6 / 2e-3
            return floor + (lr - floor) * (1 + math.cos(math.pi * (t - 50) / 950)) / 2

        for t in (0, 25, 49, 50, 500, 999):
            assert values[t] == pytest.approx(expected(t), rel=1e-6), (index, t)


def test_simulation_leaves_the_optimizer_as_built(mae_cfg_and_wrapper):
    cfg, optim_wrapper = mae_cfg_and_wrapper
    before = [group['lr'] for group in optim_wrapper.param_groups]
    inspector.simulate_lr_schedule(cfg, optim_wrapper, iters_per_epoch=2)
    assert [group['lr'] for group in optim_wrapper.param_groups] == before
    assert not any('initial_lr' in group for group in optim_wrapper.param_groups)


def test_unknown_epoch_length_falls_back_to_the_default(mae_cfg_and_wrapper, tmp_path,
                                                        monkeypatch):
    cfg, _ = mae_cfg_and_wrapper
    monkeypatch.chdir(tmp_path)  # no data/imagenet here
    length, source = inspector.resolve_iters_per_epoch(cfg, None)
    assert (length, source) == (inspector.DEFAULT_ITERS_PER_EPOCH, 'default')


def test_epoch_schedulers_step_at_epoch_ends_and_amp_is_built_without_gpu():
    cfg = inspector.load_config(MASK_RCNN)
    model = inspector.build_model(cfg, meta=True)
    assert all(p.is_meta for p in model.parameters())
    optim_wrapper, notes = inspector.build_optim_wrapper_for_inspection(model, cfg)
    if not torch.cuda.is_available():
        assert type(optim_wrapper).__name__ == 'OptimWrapper'
        assert any('AmpOptimWrapper' in note for note in notes)
    schedule = inspector.simulate_lr_schedule(cfg, optim_wrapper, iters_per_epoch=40)
    assert schedule.total_iters == 36 * 40
    head = schedule.lr[-1]
    base = optim_wrapper.optimizer.param_groups[schedule.group_indices[-1]]['lr']
    assert head[0] == pytest.approx(base * 0.001)
    # MultiStepLR at epochs 27 and 33, stepped after each epoch
    assert head[27 * 40 - 1] == pytest.approx(base)
    assert head[27 * 40] == pytest.approx(base * 0.1)
    assert head[33 * 40] == pytest.approx(base * 0.01)
    assert head[-1] == pytest.approx(base * 0.01)


class NeedsValues(torch.nn.Module):
    """A constructor that reads the value of an allocated tensor (meta cannot give it)."""

    def __init__(self):
        super().__init__()
        self.scale = float(torch.ones(2).sum().item())
        self.proj = torch.nn.Linear(2, 2)


def test_meta_build_of_values_it_cannot_give_falls_back_to_cpu(log_records):
    model = inspector.build_model(Config(dict(model=dict(type=NeedsValues))), meta=True)
    assert model.scale == 2.0 and model.proj.weight.device.type == 'cpu'
    assert any('meta device' in message for message in log_records.messages(logging.WARNING))


def test_meta_build_keeps_value_factories_on_cpu():
    cfg = inspector.load_config(VIT_B)
    model = inspector.build_model(cfg, meta=True)  # mmseg's ViT reads torch.linspace(...).item()
    assert all(p.is_meta for p in model.parameters())


def test_representative_groups_pick_embedding_middle_and_head():
    groups = [dict(group_name=f'layer_{i}_{kind}', layer_id=i, params=[torch.zeros(n)])
              for i in range(6) for kind, n in (('no_decay', 1), ('decay', 4))]
    chosen = inspector.representative_groups(groups)
    assert [groups[index]['group_name'] for _, index in chosen] == [
        'layer_0_decay', 'layer_2_decay', 'layer_5_decay']


def test_importing_the_package_pulls_in_no_plotting_or_downstream_library():
    code = ('import sys, mmcv_custom, mmcv_custom.analysis; '
            "print(sorted(m for m in ('matplotlib', 'mmdet', 'mmseg', 'mmpretrain') "
            'if m in sys.modules))')
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                            cwd=ROOT, check=True)
    # the last line: DeepSpeed (imported by mmengine.runner once it is installed) prints its
    # accelerator choice to stdout first
    assert result.stdout.strip().splitlines()[-1] == '[]'
