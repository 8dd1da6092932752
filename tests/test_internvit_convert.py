"""tools/model_converters/internvit.py and its library (``mmcv_custom.models.internvit_convert``):
strictness (every key that does not fit is named), the 45-block truncation, layouts it refuses,
the command line. (Every released layout read and compared with transformers:
``test_internvit_equivalence.py``.)"""
import hashlib
import json
import os
import os.path as osp
import re
import subprocess
import sys

import pytest
import torch

from mmcv_custom.models import CheckpointFileError, CheckpointKeyError, InternViT, convert_internvit
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


# ----- "nothing silent": what the converter refuses, and what it says -----

def remote(state: dict) -> dict:
    """InternVL-named tensors under the remote code's names."""
    out = {}
    for key, value in state.items():
        new = {'cls_token': 'embeddings.class_embedding',
               'pos_embed': 'embeddings.position_embedding'}.get(key)
        if new is None:
            new = re.sub(r'^patch_embed\.proj\.', 'embeddings.patch_embedding.', key)
            new = re.sub(r'^blocks\.(\d+)\.ls([12])\.gamma$', r'encoder.layers.\1.ls\2', new)
            new = re.sub(r'^blocks\.(\d+)\.', r'encoder.layers.\1.', new)
        out[new] = value
    return out


def native(state: dict) -> dict:
    """InternVL-named tensors under transformers' names (q, k, v split)."""
    rules = ((r'^cls_token$', 'embeddings.cls_token'),
             (r'^pos_embed$', 'embeddings.position_embeddings'),
             (r'^patch_embed\.proj\.', 'embeddings.patch_embeddings.projection.'),
             (r'^blocks\.(\d+)\.ls([12])\.gamma$', r'encoder.layer.\1.lambda_\2'),
             (r'^blocks\.(\d+)\.norm1\.', r'encoder.layer.\1.layernorm_before.'),
             (r'^blocks\.(\d+)\.norm2\.', r'encoder.layer.\1.layernorm_after.'),
             (r'^blocks\.(\d+)\.attn\.proj\.', r'encoder.layer.\1.attention.projection_layer.'),
             (r'^blocks\.(\d+)\.mlp\.', r'encoder.layer.\1.mlp.'))
    out = {}
    for key, value in state.items():
        match = re.match(r'^blocks\.(\d+)\.attn\.qkv\.(weight|bias)$', key)
        if match:
            for part, tensor in zip('qkv', value.chunk(3, 0)):
                out[f'encoder.layer.{match.group(1)}.attention.{part}_proj.{match.group(2)}'] = \
                    tensor.clone()
            continue
        new = next((re.sub(p, r, key) for p, r in rules if re.match(p, key)), key)
        out[new] = value
    return out


def sharded(folder, state: dict, duplicate: str = None) -> str:
    """A Hugging Face folder with two safetensors shards and their index; ``duplicate`` is also
    written into the shard the index does not name for it."""
    from safetensors.torch import save_file
    os.makedirs(folder, exist_ok=True)
    keys = sorted(state)
    weight_map = {}
    parts = {}
    for i in range(2):
        name = f'model-{i + 1:05d}-of-00002.safetensors'
        parts[name] = {key: state[key].contiguous() for key in keys[i::2]}
        weight_map.update({key: name for key in keys[i::2]})
    if duplicate is not None:
        other = next(name for name in parts if name != weight_map[duplicate])
        parts[other][duplicate] = state[duplicate] + 1
    for name, part in parts.items():
        save_file(part, osp.join(folder, name))
    with open(osp.join(folder, 'model.safetensors.index.json'), 'w') as file:
        json.dump({'metadata': {}, 'weight_map': weight_map}, file)
    return str(folder)


def digest(path) -> str:
    with open(path, 'rb') as file:
        return hashlib.sha256(file.read()).hexdigest()


@pytest.fixture
def tiny_presets(monkeypatch):
    """Two presets at test size in one family (4 and 3 blocks), as '6b' and '6b-45' are."""
    from mmcv_custom.models.internvit_arch import ARCHS, InternViTArch
    monkeypatch.setitem(ARCHS, 'tiny', InternViTArch(**ARCH, pretrain_img_size=28))
    monkeypatch.setitem(ARCHS, 'tiny-3', InternViTArch(**dict(ARCH, num_layers=3),
                                                       pretrain_img_size=28))


@pytest.mark.parametrize('how', ['same path', 'symlink', 'hardlink'])
def test_the_output_is_never_the_file_being_read(tmp_path, how):
    src = write(tmp_path, timm_state())
    dst = {'same path': src, 'symlink': str(tmp_path / 'link.pth'),
           'hardlink': str(tmp_path / 'hard.pth')}[how]
    if how == 'symlink':
        os.symlink(src, dst)
    elif how == 'hardlink':
        os.link(src, dst)
    before = digest(src)
    with pytest.raises(CheckpointFileError, match=rf'the output {re.escape(dst)} is the input file '
                       rf'{re.escape(src)}.*writing it would destroy the source'):
        convert_internvit(src, dst)
    assert digest(src) == before


def test_the_output_is_never_a_file_of_the_source_folder(tmp_path):
    folder = sharded(tmp_path / 'hf', remote(timm_state()))
    shard = osp.join(folder, 'model-00002-of-00002.safetensors')
    before = digest(shard)
    for dst in (shard, osp.join(folder, 'model.safetensors.index.json')):
        with pytest.raises(CheckpointFileError, match='is the input file'):
            convert_internvit(folder, dst)
    assert digest(shard) == before
    with pytest.raises(CheckpointFileError, match=r'the output .*hf is a directory; give the file '
                       'to write'):
        convert_internvit(folder, folder)
    convert_internvit(folder, osp.join(folder, 'converted.pth'))  # beside the shards is fine


@pytest.mark.parametrize('change, message', [
    ('sum', r'encoder\.layer\.1\.attention\.q_proj\.weight has shape \(20, 16\), expected '
     r'\(16, 16\) \(the width of embeddings\.cls_token\)'),
    ('input width', r'encoder\.layer\.1\.attention\.k_proj\.weight has shape \(16, 5\), expected '
     r'\(16, 16\)'),
    ('height', r'encoder\.layer\.1\.attention\.k_proj\.weight has shape \(5, 16\), expected '
     r'\(16, 16\)'),
])
def test_each_q_k_v_part_is_checked_before_they_are_joined(tmp_path, change, message):
    state = native(timm_state())
    q, k = (state[f'encoder.layer.1.attention.{p}_proj.weight'] for p in 'qk')
    if change == 'sum':  # 20 + 12 + 16 rows: 3 C in all, split wrongly
        state['encoder.layer.1.attention.q_proj.weight'] = torch.cat([q, k[:4]])
        state['encoder.layer.1.attention.k_proj.weight'] = k[4:]
    else:
        state['encoder.layer.1.attention.k_proj.weight'] = torch.zeros(
            (16, 5) if change == 'input width' else (5, 16))
    with pytest.raises(CheckpointKeyError, match=message):
        convert_internvit(write(tmp_path, state))


def test_a_renamed_key_is_reported_under_the_files_own_name(tmp_path):
    state = native(timm_state())
    for part in 'qkv':
        state[f'encoder.layer.0.attention.{part}_proj.bias'] = torch.zeros(16)
    with pytest.raises(CheckpointKeyError, match=r'unexpected \(1\): blocks\.0\.attn\.qkv\.bias '
                       r'\(encoder\.layer\.0\.attention\.\{q,k,v\}_proj\.bias in the file\)'):
        convert_internvit(write(tmp_path, state), arch=ARCH)


@pytest.mark.parametrize('reverse', [False, True])
def test_two_file_keys_that_become_one_name_are_an_error(tmp_path, reverse):
    state = remote(timm_state())
    state['encoder.layers.0.ls1.gamma'] = torch.full((16, ), 123.0)
    if reverse:
        state = dict(reversed(list(state.items())))
    with pytest.raises(CheckpointKeyError, match=r'encoder\.layers\.0\.ls1(\.gamma)? and '
                       r'encoder\.layers\.0\.ls1(\.gamma)? both become blocks\.0\.ls1\.gamma'):
        convert_internvit(write(tmp_path, state))


def test_a_key_in_a_shard_the_index_does_not_name_for_it_is_an_error(tmp_path):
    state = remote(timm_state())
    folder = sharded(tmp_path / 'dup', state, duplicate='embeddings.class_embedding')
    with pytest.raises(CheckpointFileError, match=r'embeddings\.class_embedding is in '
                       r'model-0000\d-of-00002\.safetensors, but .*model\.safetensors\.index\.json '
                       r'assigns it to model-0000\d-of-00002\.safetensors'):
        convert_internvit(folder)


def test_a_shard_outside_its_folder_is_refused(tmp_path):
    folder = sharded(tmp_path / 'hf', remote(timm_state()))
    index = osp.join(folder, 'model.safetensors.index.json')
    with open(index) as file:
        data = json.load(file)
    data['weight_map'] = {key: '../outside.safetensors' for key in data['weight_map']}
    with open(index, 'w') as file:
        json.dump(data, file)
    with pytest.raises(CheckpointFileError, match=r"names shard '\.\./outside\.safetensors' .*, "
                       'outside its folder'):
        convert_internvit(folder)


def test_a_presets_widths_with_another_shape_need_an_explicit_arch(tmp_path, tiny_presets):
    assert convert_internvit(write(tmp_path, timm_state())).arch_name == 'tiny'
    src = write(tmp_path, timm_state(num_layers=2), 'two.pth')
    with pytest.raises(CheckpointKeyError) as error:
        convert_internvit(src)
    message = str(error.value)
    assert "has the widths of preset 'tiny' (embed_dims 16, MLP 32) but matches no preset" in \
        message
    assert "'tiny': 2 blocks (preset: 4); 'tiny-3': 2 blocks (preset: 3)" in message
    assert ('arch=dict(embed_dims=16, num_layers=2, num_heads=2, feedforward_channels=32, '
            "norm_type='rms_norm', qk_norm=False, qkv_bias=False)") in message
    assert '--arch \'{"embed_dims": 16, "num_layers": 2, "num_heads": 2' in message
    result = convert_internvit(src, arch=dict(ARCH, num_layers=2))  # what the message says
    assert result.arch.num_layers == 2 and result.arch_name is None
    state = timm_state()
    for index in range(4):
        state[f'blocks.{index}.attn.qkv.bias'] = torch.zeros(48)
    with pytest.raises(CheckpointKeyError, match=r"'tiny': qkv_bias=True \(preset: False\)"):
        convert_internvit(write(tmp_path, state, 'bias.pth'))


def test_a_width_no_preset_has_converts_as_a_custom_arch_with_a_note(tmp_path):
    result = convert_internvit(write(tmp_path, timm_state()))
    assert result.arch_name is None
    assert any(note.startswith('custom arch: the checkpoint matches no preset') for note in
               result.notes)
    assert any('set arch num_heads yourself' in note for note in result.notes)
    given = convert_internvit(write(tmp_path, timm_state()), arch=ARCH)
    assert not any('num_heads' in note for note in given.notes)  # given: nothing to say


def test_truncate_to_picks_the_preset_and_refuses_what_it_cannot_do(tmp_path, tiny_presets):
    src = write(tmp_path, timm_state())
    assert convert_internvit(src, truncate_to=3).arch_name == 'tiny-3'
    with pytest.raises(ValueError, match=r'truncate_to=5 asks for the first 5 blocks, but the '
                       r'checkpoint has only 4 .* cannot add any\. Leave truncate_to out'):
        convert_internvit(src, truncate_to=5)
    assert convert_internvit(src).arch_name == 'tiny'  # leaving it out works, as said
    with pytest.raises(ValueError, match=r"truncate_to=5 .* use an arch with 4 blocks \(preset "
                       r"'tiny'\)"):
        convert_internvit(src, arch='tiny-3', truncate_to=5)
    for bad in (0, -1):
        with pytest.raises(ValueError, match=rf'truncate_to must be a positive int, got {bad}'):
            convert_internvit(src, truncate_to=bad)
    with pytest.raises(ValueError, match=r"choose the arch with 2 blocks"):
        convert_internvit(src, arch='tiny-3', truncate_to=2)


def test_norms_and_biases_are_read_from_every_block_so_one_missing_key_is_named(tmp_path):
    layer_norm = dict(norm_type='layer_norm', qk_norm=False, qkv_bias=True)
    torch.manual_seed(0)
    model = InternViT(arch=dict(ARCH, **layer_norm), pretrain_img_size=28)
    for key in ('blocks.0.norm1.bias', 'blocks.0.attn.qkv.bias'):
        state = dict(model.state_dict())
        state.pop(key)
        with pytest.raises(CheckpointKeyError) as error:
            convert_internvit(write(tmp_path, state))
        assert f'missing (1): {key}' in str(error.value)
        assert 'unexpected' not in str(error.value)


def test_an_embedding_of_the_wrong_rank_is_named(tmp_path):
    state = remote(timm_state())
    state['embeddings.position_embedding'] = torch.zeros(5, 16)
    with pytest.raises(CheckpointKeyError, match=r'pos_embed \(embeddings\.position_embedding in '
                       r'the file\) has shape \(5, 16\); expected \(1, 1 \+ grid \* grid, 16\)'):
        convert_internvit(write(tmp_path, state))


def test_an_explicit_arch_grid_must_be_the_checkpoints(tmp_path):
    src = write(tmp_path, timm_state())  # 28 px
    with pytest.raises(CheckpointKeyError, match=r"arch pretrain_img_size=56, but the checkpoint's "
                       r'position embedding is for 28 px: set pretrain_img_size=28'):
        convert_internvit(src, arch=dict(ARCH, pretrain_img_size=56))
    assert convert_internvit(src, arch=dict(ARCH, pretrain_img_size=28)).arch.pretrain_img_size \
        == 28


def test_two_state_dicts_in_one_file_are_an_error(tmp_path):
    state = timm_state()
    src = write(tmp_path, {'model': state, 'state_dict': {k: v * 0 for k, v in state.items()}})
    with pytest.raises(CheckpointFileError, match=r"holds two state dicts, under 'state_dict' and "
                       r"'model', and which one is meant cannot be told"):
        convert_internvit(src)


def test_config_json_heads_come_from_its_vision_config(tmp_path):
    from safetensors.torch import save_file
    folder = tmp_path / 'hf'
    folder.mkdir()
    save_file({k: v.contiguous() for k, v in remote(timm_state()).items()},
              str(folder / 'model.safetensors'))
    config = folder / 'config.json'
    config.write_text(json.dumps({'num_attention_heads': 8,  # the language model's
                                  'vision_config': {'num_attention_heads': 2}}))
    assert convert_internvit(str(folder)).arch.num_heads == 2
    config.write_text(json.dumps({'num_attention_heads': 8, 'vision_config': {}}))
    result = convert_internvit(str(folder))
    assert result.arch.num_heads == 1 and not result.num_heads_known
    assert any("the top-level one (the language model's) is not used" in note
               for note in result.notes)
    config.write_text(json.dumps({'vision_config': {'num_attention_heads': 3}}))
    with pytest.raises(CheckpointKeyError, match=r'config\.json vision_config\.num_attention_heads '
                       r'is 3, which does not divide the width 16'):
        convert_internvit(str(folder))
    config.write_text('{bad')
    with pytest.raises(CheckpointFileError, match=r'hf/config\.json is not valid JSON'):
        convert_internvit(str(folder))


def _bad_files(tmp_path) -> dict:
    """Files (or folders) that are not checkpoints, by what is wrong with them."""
    from safetensors.torch import save_file
    good = write(tmp_path, timm_state(), 'good.pth')
    data = open(good, 'rb').read()
    save_file({k: v.contiguous() for k, v in timm_state().items()}, str(tmp_path / 'st'))
    safetensors = open(tmp_path / 'st', 'rb').read()
    files = {'random.pth': os.urandom(1000), 'empty.pth': b'', 'cut.pth': data[:len(data) // 2],
             'cut.safetensors': safetensors[:len(safetensors) // 2]}
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    for name, text in (('list', '[1, 2]'), ('corrupt', '{not json')):
        (tmp_path / name).mkdir()
        (tmp_path / name / 'model.safetensors.index.json').write_text(text)
    return {'random.pth': 'is not a checkpoint: neither a torch.save file',
            'empty.pth': r'is empty \(0 bytes\)',
            'cut.pth': 'is a damaged torch checkpoint, truncated or not fully downloaded',
            'cut.safetensors': 'is not a readable safetensors file, truncated',
            'list': r'model\.safetensors\.index\.json is not a shard index: .* got list',
            'corrupt': r'model\.safetensors\.index\.json is not valid JSON'}


def test_files_that_are_not_checkpoints_are_named_without_pointing_at_trust_pickle(tmp_path):
    for name, message in _bad_files(tmp_path).items():
        with pytest.raises(CheckpointFileError) as error:
            convert_internvit(str(tmp_path / name))
        assert re.search(re.escape(str(tmp_path / name)) + '.*' + message, str(error.value)), \
            (name, str(error.value))
        assert 'trust' not in str(error.value), name


def test_a_safetensors_file_named_pth_is_read_as_one_with_a_note(tmp_path):
    from safetensors.torch import save_file
    path = str(tmp_path / 'weights.pth')
    save_file({k: v.contiguous() for k, v in timm_state().items()}, path)
    result = convert_internvit(path)
    assert f'{path} is a safetensors file (whatever its name says): read as one' in result.notes


def load_tool():
    import importlib.util
    spec = importlib.util.spec_from_file_location('internvit_converter_tool', TOOL)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool


def test_the_command_line_reports_each_bad_input_in_one_line_naming_it(tmp_path, capsys):
    tool = load_tool()
    cases = {str(tmp_path / name): message for name, message in _bad_files(tmp_path).items()}
    good = str(tmp_path / 'good.pth')
    cases[good] = None
    for src, message in cases.items():
        dst = str(tmp_path) if message is None else str(tmp_path / 'out.pth')  # DST a directory
        assert tool.main([src, dst]) == 1, src
        err = capsys.readouterr().err
        assert err.startswith('error: ') and err.count('\n') == 1, err
        assert re.search(message or r'the output .* is a directory', err), err
    assert tool.main([good, good]) == 1
    assert 'is the input file' in capsys.readouterr().err
    arch = json.dumps(ARCH)
    assert tool.main([good, str(tmp_path / 'ok.pth'), '--arch', arch]) == 0
    assert 'note: ' not in capsys.readouterr().out  # heads given: no note about them
    with pytest.raises(SystemExit):
        tool.main([good, str(tmp_path / 'ok.pth'), '--arch', '7b'])
    assert "'7b' is not a preset" in capsys.readouterr().err
