"""``tools/train.py`` prepares FlexibleRunner strategies for CPU processes (the 2-process runs are
in test_reliability_engines.py; these are the decisions, without launching anything)."""
import importlib.util
import os.path as osp

import pytest
from mmengine.config import Config

TRAIN = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'tools', 'train.py')


@pytest.fixture(scope='module')
def tool():
    spec = importlib.util.spec_from_file_location('engines_train_tool', TRAIN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def flexible(strategy: dict) -> Config:
    return Config(dict(runner_type='FlexibleRunner', strategy=strategy))


def test_fsdp_gets_the_cpu_device_and_the_log_says_so(tool):
    cfg = flexible(dict(type='FSDPStrategy', model_wrapper=dict(use_orig_params=True)))
    notes = tool.use_cpu_strategy(cfg)
    assert cfg.strategy['model_wrapper'] == dict(use_orig_params=True, device_id='cpu')
    assert "FSDPStrategy: model_wrapper.device_id='cpu'" in notes
    assert tool.is_flexible(cfg)


def test_a_full_fsdp_state_dict_is_saved_without_offload_to_cpu(tool):
    cfg = flexible(dict(type='FSDPStrategy', state_dict_cfg='full'))
    notes = tool.use_cpu_strategy(cfg)
    state_dict_cfg = cfg.strategy['state_dict_cfg']
    assert state_dict_cfg['state_dict_type'] == 'FULL_STATE_DICT'
    assert state_dict_cfg['state_dict_config']['offload_to_cpu'] is False
    assert state_dict_cfg['optim_state_dict_config']['offload_to_cpu'] is False
    assert any('without offload_to_cpu' in note for note in notes)


def test_deepspeed_needs_only_the_gloo_group(tool):
    cfg = flexible(dict(type='DeepSpeedStrategy', zero_optimization=dict(stage=3)))
    assert tool.use_cpu_strategy(cfg) == [
        'the gloo process group was created before the runner (no CUDA device)']
    assert cfg.strategy == dict(type='DeepSpeedStrategy', zero_optimization=dict(stage=3))


@pytest.mark.parametrize('strategy, message', [
    (dict(type='ColossalAIStrategy'), r"strategy type 'ColossalAIStrategy' is not prepared for "
     r'CPU processes'),
    (dict(type='FSDPStrategy', model_wrapper=dict(device_id=0)),
     r'strategy.model_wrapper.device_id=0 needs a GPU'),
])
def test_what_cannot_run_on_cpu_processes_stops_with_the_setting_to_change(tool, strategy,
                                                                            message):
    with pytest.raises(SystemExit, match=message):
        tool.use_cpu_strategy(flexible(strategy))


def test_flexible_runner_without_a_strategy_gets_cpu_ddp(tool):
    cfg = flexible(None)
    notes = tool.use_cpu_strategy(cfg)
    assert cfg.strategy == dict(type='DDPStrategy', model_wrapper=dict(device_ids=None))
    assert 'DDPStrategy: model_wrapper.device_ids=None' in notes
