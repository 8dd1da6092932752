"""Groups of a 6-billion-parameter ViT are built on the meta device, without memory."""
import torch
from mmengine.optim import build_optim_wrapper
from torch import nn

from helpers import optim_cfg


class Block(nn.Module):
    def __init__(self, dim: int, mlp: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = nn.Module()
        self.attn.qkv = nn.Linear(dim, 3 * dim)
        self.attn.proj = nn.Linear(dim, dim)
        self.ls1 = nn.Parameter(torch.ones(dim))
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Module()
        self.mlp.fc1 = nn.Linear(dim, mlp)
        self.mlp.fc2 = nn.Linear(mlp, dim)
        self.ls2 = nn.Parameter(torch.ones(dim))


def internvit_6b_like() -> nn.Module:
    """InternViT-6B's layout: 48 blocks of width 3200 and MLP 12800, on `meta`."""
    with torch.device('meta'):
        model = nn.Module()
        model.backbone = nn.Module()
        backbone = model.backbone
        backbone.cls_token = nn.Parameter(torch.zeros(1, 1, 3200))
        backbone.pos_embed = nn.Parameter(torch.zeros(1, 1025, 3200))
        backbone.patch_embed = nn.Module()
        backbone.patch_embed.proj = nn.Conv2d(3, 3200, 14, 14)
        backbone.blocks = nn.ModuleList(Block(3200, 12800) for _ in range(48))
        model.decode_head = nn.Conv2d(3200, 150, 1)
    return model


def test_6b_vit_groups_build_on_meta():
    model = internvit_6b_like()
    total = sum(p.numel() for p in model.parameters())
    assert total > 5.9e9
    wrapper = build_optim_wrapper(model, optim_cfg(
        'CustomLayerDecayOptimizerConstructor', dict(num_layers=48, layer_decay_rate=0.95),
        lr=4e-5))
    groups = wrapper.optimizer.param_groups
    assert len(groups) == 2 * 50
    assert all(p.is_meta for g in groups for p in g['params'])
    by_layer = {g['layer_id']: g['lr'] for g in groups}
    assert by_layer[0] == 4e-5 * 0.95 ** 49
    assert by_layer[49] == 4e-5
    assert sum(len(g['params']) for g in groups) == len(list(model.parameters()))
