"""Small models with the real parameter-name layouts of the backbones the constructors serve."""
import torch
from torch import nn


class PatchEmbed(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(3, dim, kernel_size=4, stride=4)


class Block(nn.Module):
    """An InternViT-style block: norms, attention, MLP and 1-D layer-scale vectors."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = nn.Linear(dim, 3 * dim)
        self.ls1 = nn.Parameter(torch.ones(dim))
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Linear(dim, dim)
        self.ls2 = nn.Parameter(torch.ones(dim))


class ViTBackbone(nn.Module):
    """``cls_token``, ``pos_embed``, ``patch_embed``, ``<blocks_attr>.N``, final ``norm``."""

    def __init__(self, depth: int = 3, dim: int = 8, blocks_attr: str = 'blocks') -> None:
        super().__init__()
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 5, dim))
        self.patch_embed = PatchEmbed(dim)
        setattr(self, blocks_attr, nn.ModuleList(Block(dim) for _ in range(depth)))
        self.norm = nn.LayerNorm(dim)


class Segmentor(nn.Module):
    """A model the way OpenMMLab builds one: ``backbone`` plus a head."""

    def __init__(self, backbone: nn.Module, dim: int = 8) -> None:
        super().__init__()
        self.backbone = backbone
        self.decode_head = nn.Conv2d(dim, 4, kernel_size=1)


class TimmViT(nn.Module):
    """MAE's / timm's ViT layout: unprefixed names, ``head`` on top, ``no_weight_decay()``."""

    def __init__(self, depth: int = 3, dim: int = 8, num_classes: int = 5) -> None:
        super().__init__()
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 5, dim))
        self.patch_embed = PatchEmbed(dim)
        self.blocks = nn.ModuleList(Block(dim) for _ in range(depth))
        self.fc_norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)

    def no_weight_decay(self):
        return {'pos_embed', 'cls_token'}


def toy_vit_segmentor(depth: int = 3, dim: int = 8, blocks_attr: str = 'blocks') -> Segmentor:
    return Segmentor(ViTBackbone(depth, dim, blocks_attr), dim)
