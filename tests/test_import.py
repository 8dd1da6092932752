"""``import mmcv_custom`` registers names and does nothing else: it prints nothing, imports no
runner, strategy, DeepSpeed or model zoo, and installs no fix (``mmcv_custom.compat``) but the one
that must precede ``mmpretrain.models``; the tools that need the fixes install them, and a text
tool (``migrate_config.py``) imports no mmseg, mmdet, mmpretrain, runner or DeepSpeed.

The import's cost is measured by ``benchmarks/bench_import.py`` (``make bench``), not here."""
import json
import os
import os.path as osp
import subprocess
import sys

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
#: Modules a registration-only import must not pull in (each costs seconds or prints). (MMEngine's
#: optimizer builder itself imports transformers where installed, to register its optimizers.)
HEAVY = ('deepspeed', 'mmengine.runner', 'mmengine._strategy', 'mmseg', 'mmdet', 'mmpretrain',
         'matplotlib')


def python(code: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS='1')
    return subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=300)


def test_import_prints_nothing_and_loads_no_runner_deepspeed_or_model_zoo():
    result = python(
        'import json, sys\n'
        'import mmcv_custom\n'
        f'print(json.dumps([name for name in {HEAVY!r} if name in sys.modules]))\n')
    assert result.returncode == 0, result.stderr
    assert result.stderr == ''
    assert json.loads(result.stdout) == []


def test_import_installs_no_fix_and_install_installs_them_all():
    result = python(
        'import json\n'
        'import mmcv_custom, mmcv_custom.compat\n'
        'from mmengine.hooks import LoggerHook\n'
        'from mmengine._strategy.fsdp import FSDPStrategy\n'
        'from mmengine.runner.checkpoint import CheckpointLoader\n'
        'from mmcv_custom.compat import checkpoint_loading, mmengine_fsdp, mmengine_logger_hook\n'
        'def ours():\n'
        "    return [CheckpointLoader._schemes[''] is checkpoint_loading.load_from_local,\n"
        '            FSDPStrategy.load_optim_state_dict is mmengine_fsdp.load_optim_state_dict,\n'
        '            LoggerHook.after_test_epoch is mmengine_logger_hook.after_test_epoch,\n'
        '            LoggerHook.after_run is mmengine_logger_hook.after_run]\n'
        'before = ours()\n'
        'installed = mmcv_custom.compat.install()\n'
        'print(json.dumps([before, ours(), installed]))\n')
    assert result.returncode == 0, result.stderr
    before, after, installed = json.loads(result.stdout.strip().splitlines()[-1])
    assert before == [False, False, False, False]
    assert after == [True, True, True, True]
    assert installed == ['checkpoint_loading', 'mmengine_fsdp', 'mmengine_logger_hook']


def test_a_constructor_outside_a_runner_installs_nothing_and_inside_one_the_resume_fixes():
    result = python(
        'import json, sys\n'
        'import torch\n'
        'from mmengine.optim import build_optim_wrapper\n'
        'import mmcv_custom\n'
        'cfg = dict(optimizer=dict(type="AdamW", lr=1e-3, weight_decay=0.05),\n'
        '           constructor="LearningRateDecayOptimizerConstructor",\n'
        '           paramwise_cfg=dict(decay_rate=0.9, decay_type="layer_wise", num_layers=6))\n'
        'model = torch.nn.Module()\n'
        'model.backbone = torch.nn.Module()\n'
        'model.backbone.downsample_layers = torch.nn.ModuleList([torch.nn.Conv2d(3, 4, 1)])\n'
        'build_optim_wrapper(model, cfg)\n'
        'outside = [name for name in ("mmengine.runner", "deepspeed") if name in sys.modules]\n'
        'import mmengine.runner\n'
        'from mmengine._strategy.fsdp import FSDPStrategy\n'
        'from mmengine.runner.checkpoint import CheckpointLoader\n'
        'from mmcv_custom.compat import checkpoint_loading, mmengine_fsdp\n'
        'build_optim_wrapper(model, cfg)\n'
        "inside = [CheckpointLoader._schemes[''] is checkpoint_loading.load_from_local,\n"
        '          FSDPStrategy.load_optim_state_dict is mmengine_fsdp.load_optim_state_dict]\n'
        'print(json.dumps([outside, inside]))\n')
    assert result.returncode == 0, result.stderr
    outside, inside = json.loads(result.stdout.strip().splitlines()[-1])
    assert outside == []
    assert inside == [True, True]


def test_migrate_config_imports_no_openmmlab_registry_or_model(tmp_path):
    config = osp.join(ROOT, 'tests', 'fixtures', 'mmcv1_configs',
                      'upernet_beit_base_12_512_slide_160k_ade20k.py')
    result = python(
        'import json, runpy, sys\n'
        f'sys.argv = ["migrate_config.py", {config!r}, "-o", {str(tmp_path / "new.py")!r}]\n'
        'try:\n'
        '    runpy.run_path("tools/migrate_config.py", run_name="__main__")\n'
        'except SystemExit as stop:\n'
        '    assert not stop.code, stop.code\n'
        'loaded = [name for name in ("mmseg", "mmdet", "mmpretrain", "mmengine.runner",\n'
        '                            "deepspeed") if name in sys.modules]\n'
        'print(json.dumps(loaded))\n')
    assert result.returncode == 0, result.stderr
    assert result.stderr == f'migrate_config: wrote {tmp_path / "new.py"}\n'
    assert json.loads(result.stdout) == []
    assert "constructor='LayerDecayOptimizerConstructor'" in (tmp_path / 'new.py').read_text()
