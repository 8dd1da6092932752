"""Large-model engines through ``tools/dist_train.sh`` on 2 CPU processes (torchrun, gloo):
MMEngine's ``FlexibleRunner`` with ``FSDPStrategy`` (per-block wrap; local sharded checkpoints with
activation checkpointing, and a full state dict) and ``DeepSpeedStrategy`` (ZeRO-2, ZeRO-3), each
interrupted after 2 iterations and resumed to 4.

Every rank's groups must equal the bare model's; the per-iteration learning rates and the final
parameters must equal those of one uninterrupted single-process AdamW run (plain ``Runner``, the
two ranks' batches in one) with the same groups. A resume that lost the optimizer state or the
schedule would end far from it (AdamW moves each parameter by ~lr per step).
"""
import glob
import json
import os.path as osp
import sys

import pytest
import torch

from mmcv_custom.compat.checkpoint_loading import load_from_local

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), 'dist_scripts'))
from launch import PYTHON, ROOT, SCRIPTS, free_port, run, tail  # noqa: E402

ITERS, HALF, BATCH = 4, 2, 4
COMMON = f"""
custom_imports = dict(imports=['mmcv_custom', 'tiny_train', 'digest_hook', 'final_params'],
                      allow_failed_imports=False)
model = dict(type='ReliabilityTinyClassifier', depth=3, init_seed=0)
train_dataloader = dict(batch_size={{batch}}, num_workers=0,
                        dataset=dict(type='ReliabilityTinyData', length=64),
                        sampler=dict(type='DefaultSampler', shuffle=False),
                        collate_fn=dict(type='default_collate'))
train_cfg = dict(by_epoch=False, max_iters={ITERS})
optim_wrapper = dict(type='{{wrapper}}', optimizer=dict(type='AdamW', lr=1e-2, weight_decay=0.05),
                     constructor='LearningRateDecayOptimizerConstructor',
                     paramwise_cfg=dict(decay_rate=0.5))
# fixed ends: a run stopped at {HALF} iterations follows the same schedule
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end={HALF}),
    dict(type='PolyLRRatio', eta_min_ratio=0.01, power=1.0, by_epoch=False, begin={HALF},
         end={ITERS})]
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval={HALF}, by_epoch=False),
                     logger=dict(type='LoggerHook', interval=1))
custom_hooks = [dict(type='ReliabilityLrRecorder'), dict(type='ReliabilityGroupDigest'),
                dict(type='ReliabilityFinalParams')]
randomness = dict(seed=0, deterministic=True)
log_level = 'INFO'
"""
ENGINES = {
    'fsdp': ('OptimWrapper', """
runner_type = 'FlexibleRunner'
strategy = dict(
    type='FSDPStrategy',
    model_wrapper=dict(auto_wrap_policy=dict(type='wrap_modules_by_class_name',
                                             class_names=['Block'])),
    activation_checkpointing=dict(check_fn='is_vit_block'))
"""),
    # a full state dict on rank 0: torch converts the optimizer state (tools/train.py saves it
    # without offload_to_cpu on CPU processes)
    'fsdp_full': ('OptimWrapper', """
runner_type = 'FlexibleRunner'
strategy = dict(
    type='FSDPStrategy', state_dict_cfg='full',
    model_wrapper=dict(auto_wrap_policy=dict(type='wrap_modules_by_class_name',
                                             class_names=['Block'])))
"""),
    'zero2': ('DeepSpeedOptimWrapper', """
runner_type = 'FlexibleRunner'
strategy = dict(type='DeepSpeedStrategy', zero_optimization=dict(stage=2),
                config=dict(zero_allow_untested_optimizer=True))
"""),
    'zero3': ('DeepSpeedOptimWrapper', """
runner_type = 'FlexibleRunner'
strategy = dict(type='DeepSpeedStrategy', zero_optimization=dict(stage=3),
                config=dict(zero_allow_untested_optimizer=True))
"""),
}


def write_config(directory, engine: str) -> str:
    if engine == 'single':
        text = COMMON.format(batch=2 * BATCH, wrapper='OptimWrapper')
    else:
        wrapper, strategy = ENGINES[engine]
        text = COMMON.format(batch=BATCH, wrapper=wrapper) + strategy
    path = directory / f'{engine}.py'
    path.write_text(text)
    return str(path)


def lrs(work_dir) -> list:
    return [json.loads(line) for line in (work_dir / 'lrs.jsonl').read_text().splitlines()]


def final_params(work_dir, rank: int) -> dict:
    return load_from_local(str(work_dir / f'final_rank{rank}.pt'))


@pytest.fixture(scope='module')
def reference(tmp_path_factory):
    """One uninterrupted single-process run, batches of 2 x BATCH."""
    tmp = tmp_path_factory.mktemp('single')
    work_dir = tmp / 'work'
    result = run([PYTHON, osp.join(ROOT, 'tools', 'train.py'), write_config(tmp, 'single'),
                  '--work-dir', str(work_dir)], timeout=180, env_extra=dict(PYTHONPATH=SCRIPTS))
    assert result.returncode == 0, tail(result)
    return work_dir



@pytest.fixture(scope='module', params=list(ENGINES))
def resumed(request, tmp_path_factory):
    """(engine, work dir, console of both launches): 2 processes stopped after HALF iterations
    (the same schedule), then ``--resume`` to ITERS."""
    engine = request.param
    tmp = tmp_path_factory.mktemp(engine)
    work_dir = tmp / 'work'
    cmd = ['bash', osp.join(ROOT, 'tools', 'dist_train.sh'), write_config(tmp, engine), '2',
           '--work-dir', str(work_dir)]
    consoles = []
    for extra in (['--cfg-options', f'train_cfg.max_iters={HALF}'], ['--resume']):
        result = run(cmd + extra, timeout=300,
                     env_extra=dict(PORT=str(free_port()), PYTHONPATH=SCRIPTS))
        assert result.returncode == 0, tail(result, 60)
        consoles.append(result.stdout + result.stderr)
    return engine, work_dir, consoles


def bare_digest() -> dict:
    from digest_hook import group_digest
    from mmengine.optim import build_optim_wrapper
    from tiny_train import TinyClassifier
    cfg = dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-2, weight_decay=0.05),
               constructor='LearningRateDecayOptimizerConstructor',
               paramwise_cfg=dict(decay_rate=0.5))
    return group_digest(build_optim_wrapper(TinyClassifier(depth=3), cfg).optimizer.param_groups)


def test_every_rank_builds_the_bare_models_groups(resumed):
    engine, work_dir, _ = resumed
    want = bare_digest()
    assert len(want['layout']) == 10  # decay / no-decay for the embeddings, 3 blocks and head
    for rank in (0, 1):
        got = json.loads((work_dir / f'groups_rank{rank}.json').read_text())
        assert got['layout'] == want['layout'], f'{engine} rank {rank}'


def test_the_resumed_run_continues_the_schedule_of_the_uninterrupted_one(resumed, reference):
    engine, work_dir, consoles = resumed
    assert f'resumed epoch: 0, iter: {HALF}' in consoles[1]
    assert lrs(work_dir) == lrs(reference), engine


def test_the_resumed_run_ends_with_the_single_process_adamw_parameters(resumed, reference):
    engine, work_dir, _ = resumed
    want = final_params(reference, 0)
    start = {name: param.float() for name, param in
             load_from_local(str(reference / f'iter_{HALF}.pth'))['state_dict'].items()}
    for rank in (0, 1):
        got = final_params(work_dir, rank)
        assert sorted(got) == sorted(want)
        for name, param in want.items():
            assert torch.allclose(got[name], param, rtol=0, atol=1e-6), f'{engine} {name}'
    # the run moved every parameter after the resume (so the comparison is not vacuous)
    assert all(not torch.equal(want[name], start[name]) for name in want)


def test_layer_decay_logging_and_the_cpu_set_up_are_said_once(resumed, reference):
    engine, work_dir, consoles = resumed
    for console in consoles:
        assert console.count('tools/train.py, CPU processes: the gloo process group') == 1
        assert 'lr_head: ' in console and 'lr_embed: ' in console
    if engine.startswith('fsdp'):
        assert "FSDPStrategy: model_wrapper.device_id='cpu'" in consoles[0]
    if engine == 'fsdp_full':
        assert "state_dict_cfg='full' without offload_to_cpu" in consoles[0]
    records = json.loads((work_dir / 'param_groups.json').read_text())
    # the whole model's counts, not rank 0's shard (size 0 for some groups under FSDP)
    assert records == json.loads((reference / 'param_groups.json').read_text())
    assert len(records) == 10
    assert glob.glob(str(work_dir / f'iter_{ITERS}.pth*'))
