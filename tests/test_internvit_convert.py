"""tools/model_converters/internvit.py and its library (``mmcv_custom.models.internvit_convert``):
strictness (every key that does not fit is named), the 45-block truncation, layouts it refuses,
the command line. (Every released layout read and compared with transformers:
``test_internvit_equivalence.py``.)"""
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch

from mmcv_custom.models import CheckpointKeyError, InternViT, convert_internvit
from mmcv_custom.models.internvit_convert import (detect_layout, read_state_dict,
                                                  select_vision_part, to_internvl_names)

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
TOOL = osp.join(ROOT, 'tools', 'model_converters', 'internvit.py')
ARCH = dict(embed_dims=16, num_layers=4, num_heads=2, feedforward_channels=32)


def timm_state(num_layers: int = 4) -> dict:
    torch.manual_seed(0)
    model = InternViT(arch=dict(ARCH, num_layers=num_layers), pretrain_img_size=28)
    return {key: value.clone() for key, value in model.state_dict().items()}


def write(tmp_path, state, name='src.pth'):
    path = tmp_path / name
    torch.save(state, path)
    return str(path)


def test_a_48_block_file_needs_the_truncation_to_become_a_45_block_model(tmp_path):
    src = write(tmp_path, timm_state(num_layers=4))
    three = dict(ARCH, num_layers=3)
    with pytest.raises(CheckpointKeyError, match=r'the checkpoint has 4 blocks \(blocks.0-3\), '
                       r".* has 3: pass truncate_to=3 \(--truncate-to 3\)"):
        convert_internvit(src, arch=three)
    result = convert_internvit(src, str(tmp_path / 'out.pth'), arch=three, truncate_to=3)
    assert not any(key.startswith('blocks.3.') for key in result.state_dict)
    assert 'kept blocks 0-2 of 4 (truncate_to=3); dropped blocks 3-3' in result.notes
    model = InternViT(arch=three, pretrain_img_size=28,
                      init_cfg=dict(type='Pretrained', checkpoint=str(tmp_path / 'out.pth')))
    model.init_weights()
    assert torch.equal(model.blocks[2].mlp.fc2.weight, timm_state()['blocks.2.mlp.fc2.weight'])
    with pytest.raises(ValueError, match=r"truncate_to=2 must equal the arch's block count \(3\)"):
        convert_internvit(src, arch=three, truncate_to=2)
    with pytest.raises(CheckpointKeyError, match='has 4 blocks .* has 5: choose an arch with 4'):
        convert_internvit(src, arch=dict(ARCH, num_layers=5))


def test_every_key_that_does_not_fit_is_named(tmp_path):
    state = timm_state()
    state.pop('blocks.1.ls2.gamma')
    state['blocks.0.attn.extra.weight'] = torch.zeros(2)
    state['head.fc.weight'] = torch.zeros(2)
    state['blocks.3.mlp.fc1.weight'] = torch.zeros(3, 16)
    with pytest.raises(CheckpointKeyError) as error:
        convert_internvit(write(tmp_path, state))
    message = str(error.value)
    assert 'missing (1): blocks.1.ls2.gamma' in message
    assert 'unexpected (2): blocks.0.attn.extra.weight, head.fc.weight' in message
    assert 'blocks.3.mlp.fc1.weight: checkpoint (3, 16), model (32, 16)' in message


def test_an_incomplete_q_k_v_triple_names_the_missing_projection():
    state = {'encoder.layer.0.attention.q_proj.weight': torch.zeros(4, 4),
             'encoder.layer.0.attention.k_proj.weight': torch.zeros(4, 4)}
    with pytest.raises(ValueError, match=r"block 0: .* missing "
                       r"\['encoder.layer.0.attention.v_proj.weight'\]"):
        to_internvl_names(state, 'transformers')


def test_q_k_v_are_joined_in_that_order():
    q, k, v = (torch.full((2, 2), float(i)) for i in range(3))
    state, notes = to_internvl_names({'encoder.layer.5.attention.k_proj.bias': k[0],
                                      'encoder.layer.5.attention.v_proj.bias': v[0],
                                      'encoder.layer.5.attention.q_proj.bias': q[0]},
                                     'transformers')
    assert state['blocks.5.attn.qkv.bias'].tolist() == [0, 0, 1, 1, 2, 2]
    assert notes == ['joined q_proj, k_proj, v_proj into attn.qkv (rows q, k, v) in 1 blocks']


def test_an_unknown_layout_lists_what_is_expected():
    with pytest.raises(ValueError, match=r"not an InternViT checkpoint in a known layout: .* "
                       r'first keys: conv1.weight, fc.weight'):
        detect_layout(['fc.weight', 'conv1.weight'])


def test_a_whole_vlm_keeps_only_its_vision_part_and_says_what_was_dropped():
    state = {'module.vision_model.embeddings.class_embedding': torch.zeros(1),
             'module.language_model.x': torch.zeros(1), 'module.mlp1.0.weight': torch.zeros(1)}
    selected, prefix, notes = select_vision_part(state)
    assert (list(selected), prefix) == (['embeddings.class_embedding'], 'vision_model.')
    assert notes == ["removed the 'module.' prefix (DDP)",
                     "kept the 1 keys under 'vision_model.'; dropped language_model.* (1), "
                     'mlp1.* (1)']
    with pytest.raises(ValueError, match=r"no key starts with prefix 'vision_tower.'; top-level "
                       r"names: \['module'\]"):
        select_vision_part(state, 'vision_tower.')


def test_pickled_objects_other_than_tensors_need_trust_pickle(tmp_path):
    path = write(tmp_path, {'state_dict': timm_state(), 'optimizer': torch.optim.SGD(
        [torch.nn.Parameter(torch.zeros(1))], lr=0.1)})
    with pytest.raises(ValueError, match=r'holds pickled objects other than tensors.*'
                       r'--trust-pickle'):
        read_state_dict(path)
    state, notes = read_state_dict(path, trust_pickle=True)
    assert set(state) == set(timm_state()) and notes == ["took the tensors under 'state_dict'"]


def test_a_folder_without_a_checkpoint_is_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match='is a directory without '
                       'model.safetensors.index.json'):
        read_state_dict(tmp_path)


def test_the_command_line_converts_prints_the_backbone_config_and_fails_with_status_1(
        tmp_path, capsys):
    src = write(tmp_path, {'module': timm_state()})
    dst = str(tmp_path / 'sub' / 'converted.pth')
    env = dict(os.environ, OMP_NUM_THREADS='1')
    done = subprocess.run([sys.executable, TOOL, src, dst, '--dtype', 'bfloat16'], cwd=ROOT,
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "read " in done.stdout and "layout 'internvl'" in done.stdout
    assert "backbone=dict(type='InternViT', arch={" in done.stdout
    assert "init_cfg=dict(type='Pretrained', checkpoint=" in done.stdout
    saved = torch.load(dst, weights_only=True)
    assert saved['meta']['layout'] == 'internvl' and saved['meta']['pretrain_img_size'] == 28
    assert all(value.dtype == torch.bfloat16 for value in saved['state_dict'].values())
    import importlib.util
    spec = importlib.util.spec_from_file_location('internvit_converter_tool', TOOL)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    assert tool.main([src, dst, '--arch', '6b']) == 1
    assert capsys.readouterr().err.startswith('error: the checkpoint has 4 blocks')
