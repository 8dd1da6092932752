"""InternViT against an implementation someone else wrote: transformers' native
``InternVLVisionModel`` (``transformers/models/internvl/modeling_internvl.py``, transformers
4.57.6, eager attention).

For both styles (InternViT-6B: RMSNorm, full-width QK-norm, no qkv bias; InternViT-300M:
LayerNorm, no QK-norm, qkv bias) a tiny transformers model has **every** parameter randomised
(transformers initialises layer scales to 0.1, norms to 1 and the embeddings to 0, which would
hide swapped names), is saved in each released layout -- transformers' own sharded
``save_pretrained`` folder, its keys under ``vision_tower.`` / ``model.vision_tower.`` beside a
language model, the remote code's layout (``embeddings.class_embedding``,
``encoder.layers.N.attn.qkv``, ``ls1``) bare and as an InternVL chat checkpoint under
``vision_model.`` wrapped in ``module``, and InternVL's timm-style ``.pth`` with ``clip_projector``
-- converted with ``tools/model_converters/internvit.py``'s library, loaded through
``init_cfg=dict(type='Pretrained')`` (strict), and the features at every block equal
transformers' ``hidden_states[i + 1]`` (class token dropped, reshaped to a map) within 1e-5, at the
pretraining grid (4 x 4) and at larger and non-square crops (the position embedding resized by
both implementations: transformers always interpolates when the grid differs).

Negative controls, in the same tests: a per-head QK-norm, k and v rows swapped in ``qkv``, and an
antialiased resize must each FAIL the comparison (max difference above 1e-3).
"""
import math
import os.path as osp
from typing import Dict, List, Tuple

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from transformers import InternVLVisionConfig, InternVLVisionModel

from mmcv_custom.models import InternViT, convert_internvit
from mmcv_custom.models import internvit as internvit_module
from mmcv_custom.models.internvit import InternAttention

TOLERANCE = 1e-5
#: A negative control must miss the reference by more than this.
CONTROL_MARGIN = 1e-3
WIDTH, HEADS, MLP, BLOCKS, PATCH, PRETRAIN = 48, 4, 96, 3, 14, 56
#: (height, width) of the inputs: the pretraining grid, a larger square crop, a non-square one.
SIZES = ((56, 56), (84, 84), (70, 98))
STYLES = {
    '6b': dict(norm_type='rms_norm', use_qk_norm=True, attention_bias=False),
    '300m': dict(norm_type='layer_norm', use_qk_norm=False, attention_bias=True),
}


def reference(style: str) -> InternVLVisionModel:
    config = InternVLVisionConfig(
        hidden_size=WIDTH, num_hidden_layers=BLOCKS, num_attention_heads=HEADS,
        intermediate_size=MLP, image_size=PRETRAIN, patch_size=PATCH, layer_norm_eps=1e-6,
        attn_implementation='eager', output_hidden_states=True, **STYLES[style])
    model = InternVLVisionModel(config).eval()
    generator = torch.Generator().manual_seed(1234)
    with torch.no_grad():
        for name, param in model.named_parameters():
            noise = torch.randn(param.shape, generator=generator)
            if name.endswith('.bias'):
                param.copy_(0.1 * noise)
            elif 'norm' in name or 'lambda' in name:  # norm weights and layer scales near 1
                param.copy_(1.0 + 0.2 * noise)
            elif name in ('embeddings.cls_token', 'embeddings.position_embeddings'):
                param.copy_(0.5 * noise)
            else:  # linear and patch-conv weights, scaled by their fan-in
                param.copy_(noise / math.sqrt(param[0].numel()))
    return model


def arch(style: str) -> dict:
    options = STYLES[style]
    return dict(embed_dims=WIDTH, num_layers=BLOCKS, num_heads=HEADS, feedforward_channels=MLP,
                norm_type=options['norm_type'], qk_norm=options['use_qk_norm'],
                qkv_bias=options['attention_bias'])


def native_to_remote(state: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """transformers' names -> InternVL's remote-code names (``modeling_intern_vit.py``)."""
    out = {'embeddings.class_embedding': state['embeddings.cls_token'],
           'embeddings.position_embedding': state['embeddings.position_embeddings']}
    for kind in ('weight', 'bias'):
        out[f'embeddings.patch_embedding.{kind}'] = \
            state[f'embeddings.patch_embeddings.projection.{kind}']
    for i in range(BLOCKS):
        n, r = f'encoder.layer.{i}.', f'encoder.layers.{i}.'
        for kind in ('weight', 'bias'):
            parts = [state.get(f'{n}attention.{x}_proj.{kind}') for x in 'qkv']
            if parts[0] is not None:
                out[f'{r}attn.qkv.{kind}'] = torch.cat(parts, 0)
            out[f'{r}attn.proj.{kind}'] = state[f'{n}attention.projection_layer.{kind}']
            for fc in ('fc1', 'fc2'):
                out[f'{r}mlp.{fc}.{kind}'] = state[f'{n}mlp.{fc}.{kind}']
            for theirs, ours in (('layernorm_before', 'norm1'), ('layernorm_after', 'norm2')):
                if f'{n}{theirs}.{kind}' in state:
                    out[f'{r}{ours}.{kind}'] = state[f'{n}{theirs}.{kind}']
        for x in 'qk':
            if f'{n}attention.{x}_norm.weight' in state:
                out[f'{r}attn.{x}_norm.weight'] = state[f'{n}attention.{x}_norm.weight']
        out[f'{r}ls1'] = state[f'{n}lambda_1']
        out[f'{r}ls2'] = state[f'{n}lambda_2']
    return out


def remote_to_timm(state: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Remote-code names -> InternVL's timm-style ``.pth`` names (``intern_vit_6b.py``)."""
    out = {}
    for key, value in state.items():
        key = (key.replace('embeddings.class_embedding', 'cls_token')
               .replace('embeddings.position_embedding', 'pos_embed')
               .replace('embeddings.patch_embedding.', 'patch_embed.proj.')
               .replace('encoder.layers.', 'blocks.'))
        if key.endswith(('.ls1', '.ls2')):
            key += '.gamma'
        out[key] = value
    return out


def released_layouts(model: InternVLVisionModel, folder) -> List[Tuple[str, str]]:
    """``(layout name, path)`` of the same weights written in every released layout."""
    native = {k: v.detach().clone() for k, v in model.state_dict().items()}
    remote = native_to_remote(native)
    language = {'language_model.model.embed_tokens.weight': torch.randn(10, 8),
                'multi_modal_projector.linear_1.weight': torch.randn(8, WIDTH)}
    paths = []

    sharded = folder / 'hf_native'
    model.save_pretrained(str(sharded), max_shard_size='20KB')
    assert osp.exists(sharded / 'model.safetensors.index.json')
    paths.append(('transformers, sharded save_pretrained', str(sharded)))

    path = folder / 'internvl3_hf.safetensors'
    save_file({**{f'vision_tower.{k}': v for k, v in native.items()}, **language}, str(path))
    paths.append(('transformers under vision_tower. (InternVL3 -hf)', str(path)))

    path = folder / 'internvl35_hf.pth'
    torch.save({**{f'model.vision_tower.{k}': v for k, v in native.items()}, **language}, path)
    paths.append(('transformers under model.vision_tower.', str(path)))

    remote_dir = folder / 'hf_remote'
    remote_dir.mkdir()
    save_file({k: v.contiguous() for k, v in remote.items()}, str(remote_dir / 'model.safetensors'))
    paths.append(('remote code (InternViT-*-448px-V2_5)', str(remote_dir)))

    path = folder / 'internvl_chat.pth'
    torch.save({'module': {**{f'vision_model.{k}': v for k, v in remote.items()},
                           'mlp1.1.weight': torch.randn(8, WIDTH),
                           'language_model.lm_head.weight': torch.randn(10, 8)}}, path)
    paths.append(('remote code under vision_model. in module (InternVL chat)', str(path)))

    path = folder / 'intern_vit_6b_224px.pth'
    torch.save({**remote_to_timm(remote), 'clip_projector.norm1_q.weight': torch.randn(WIDTH)},
               path)
    paths.append(("InternVL's timm-style .pth with clip_projector", str(path)))
    return paths


def features_of(backbone: InternViT, pixels: torch.Tensor) -> List[torch.Tensor]:
    with torch.no_grad():
        return list(backbone(pixels))


def reference_maps(model: InternVLVisionModel, pixels: torch.Tensor) -> List[torch.Tensor]:
    grid = (pixels.shape[2] // PATCH, pixels.shape[3] // PATCH)
    with torch.no_grad():
        hidden = model(pixels).hidden_states
    assert len(hidden) == BLOCKS + 1  # the embeddings, then each block's output
    return [h[:, 1:].reshape(pixels.shape[0], *grid, WIDTH).permute(0, 3, 1, 2)
            for h in hidden[1:]]


def max_difference(backbone: InternViT, model: InternVLVisionModel) -> float:
    worst = 0.0
    generator = torch.Generator().manual_seed(7)
    for height, width in SIZES:
        pixels = torch.randn(2, 3, height, width, generator=generator)
        ours, theirs = features_of(backbone, pixels), reference_maps(model, pixels)
        assert [o.shape for o in ours] == [t.shape for t in theirs]
        assert all(o.dtype == torch.float32 for o in ours)
        worst = max([worst] + [(o - t).abs().max().item() for o, t in zip(ours, theirs)])
    return worst


def backbone_from(style: str, checkpoint: str) -> InternViT:
    backbone = InternViT(arch=arch(style), pretrain_img_size=PRETRAIN, patch_size=PATCH,
                         out_indices=tuple(range(BLOCKS)),
                         init_cfg=dict(type='Pretrained', checkpoint=checkpoint))
    backbone.init_weights()
    return backbone.eval()


def per_head_qk_norm_forward(self: InternAttention, x: torch.Tensor) -> torch.Tensor:
    """The wrong reading of InternViT's QK-norm: RMSNorm over each head's channels."""
    batch, length, width = x.shape
    q, k, v = self.qkv(x).chunk(3, dim=-1)
    shape = (batch, length, self.num_heads, self.head_dims)

    def per_head(t, norm):
        t = t.reshape(shape)
        t = t * torch.rsqrt(t.pow(2).mean(-1, keepdim=True) + norm.eps)
        return t.reshape(batch, length, width) * norm.weight

    q, k = per_head(q, self.q_norm), per_head(k, self.k_norm)
    q, k, v = (t.reshape(shape).transpose(1, 2) for t in (q, k, v))
    out = F.scaled_dot_product_attention(q, k, v)
    return self.proj(out.transpose(1, 2).reshape(batch, length, width))


def antialiased_resize(pos_embed, grid, new_grid):
    if tuple(grid) == tuple(new_grid):
        return pos_embed
    cls_pos, patch_pos = pos_embed[:, :1], pos_embed[:, 1:]
    patch_pos = patch_pos.reshape(1, *grid, -1).permute(0, 3, 1, 2)
    patch_pos = F.interpolate(patch_pos, size=tuple(new_grid), mode='bicubic',
                              align_corners=False, antialias=True)
    return torch.cat([cls_pos, patch_pos.permute(0, 2, 3, 1).reshape(1, -1, cls_pos.shape[-1])],
                     1)


def swap_k_and_v(checkpoint: str, out: str) -> None:
    saved = torch.load(checkpoint, weights_only=True)
    for key, value in saved['state_dict'].items():
        if key.endswith('attn.qkv.weight') or key.endswith('attn.qkv.bias'):
            q, k, v = value.chunk(3, dim=0)
            saved['state_dict'][key] = torch.cat([q, v, k], 0)
    torch.save(saved, out)


@pytest.mark.parametrize('style', sorted(STYLES))
def test_converted_weights_give_transformers_features_in_every_layout(style, tmp_path,
                                                                       monkeypatch):
    model = reference(style)
    results = {}
    converted = {}
    for name, src in released_layouts(model, tmp_path):
        dst = str(tmp_path / f'converted_{len(converted)}.pth')
        result = convert_internvit(src, dst)
        converted[name] = result.state_dict
        results[name] = max_difference(backbone_from(style, dst), model)
    first = next(iter(converted.values()))
    for name, state in converted.items():  # every layout gives the same tensors
        assert list(state) == list(first), name
        assert all(torch.equal(state[k], first[k]) for k in first), name
    assert results == {name: pytest.approx(0.0, abs=TOLERANCE) for name in results}, results

    # ----- negative controls: each wrong reading must fail the same comparison -----
    checkpoint = str(tmp_path / 'converted_0.pth')
    swapped = str(tmp_path / 'k_v_swapped.pth')
    swap_k_and_v(checkpoint, swapped)
    controls = {'k and v rows swapped': max_difference(backbone_from(style, swapped), model)}
    with monkeypatch.context() as patch:
        patch.setattr(internvit_module, 'resize_pos_embed', antialiased_resize)
        controls['antialiased resize'] = max_difference(backbone_from(style, checkpoint), model)
    if STYLES[style]['use_qk_norm']:
        with monkeypatch.context() as patch:
            patch.setattr(InternAttention, 'forward', per_head_qk_norm_forward)
            controls['per-head QK-norm'] = max_difference(backbone_from(style, checkpoint),
                                                          model)
    assert all(diff > CONTROL_MARGIN for diff in controls.values()), controls


def test_the_antialiased_control_only_differs_where_the_grid_changes():
    """At the pretraining grid no resize happens, so only the resize path can tell the kernels
    apart (the equivalence tests include larger crops for that reason)."""
    pos = torch.randn(1, 17, 8)
    assert torch.equal(internvit_module.resize_pos_embed(pos, (4, 4), (4, 4)), pos)
    plain = internvit_module.resize_pos_embed(pos, (4, 4), (6, 6))
    assert (plain - antialiased_resize(pos, (4, 4), (6, 6))).abs().max() > CONTROL_MARGIN
