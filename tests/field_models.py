"""Small modules with the real parameter names of the field's published models (where no
installed class has them): InternImage, mmdet's ViTDet ViT, an EVA ViT as ``img_backbone``, a DINO
head with deformable attention."""
from typing import Sequence

import torch
from torch import nn


class ChannelsLastNorm(nn.Sequential):
    """InternImage's ``build_norm_layer``: ``Sequential(to_channels_last, LayerNorm)`` -> ``.1``."""

    def __init__(self, dim: int) -> None:
        super().__init__(nn.Identity(), nn.LayerNorm(dim))


class DCNv3(nn.Module):
    """InternImage's DCNv3 parameters (``offset``, ``mask``, ``input_proj``, ``output_proj``)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dw_conv = nn.Sequential(nn.Conv2d(dim, dim, 3, padding=1, groups=dim),
                                     ChannelsLastNorm(dim))
        self.offset = nn.Linear(dim, 8)
        self.mask = nn.Linear(dim, 4)
        self.input_proj = nn.Linear(dim, dim)
        self.output_proj = nn.Linear(dim, dim)


class InternImageLayer(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.norm1 = ChannelsLastNorm(dim)
        self.dcn = DCNv3(dim)
        self.norm2 = ChannelsLastNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.Linear(2 * dim, dim))
        self.gamma1 = nn.Parameter(torch.ones(dim))
        self.gamma2 = nn.Parameter(torch.ones(dim))


class DownsampleLayer(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(dim, dim, 3, stride=2, padding=1, bias=False)
        self.norm = ChannelsLastNorm(dim)


class InternImageBlock(nn.Module):
    """One level: ``blocks.B``, ``norm`` and (except the last level) ``downsample``."""

    def __init__(self, dim: int, depth: int, downsample: bool) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(InternImageLayer(dim) for _ in range(depth))
        self.norm = ChannelsLastNorm(dim)
        self.downsample = DownsampleLayer(dim) if downsample else None


class StemLayer(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, dim, 3, stride=2, padding=1)
        self.norm1 = ChannelsLastNorm(dim)
        self.conv2 = nn.Conv2d(dim, dim, 3, stride=2, padding=1)
        self.norm2 = ChannelsLastNorm(dim)


class InternImage(nn.Module):
    """OpenGVLab/InternImage ``InternImage`` names: ``patch_embed``, ``levels.S.blocks.B``,
    ``levels.S.norm``, ``levels.S.downsample``."""

    def __init__(self, depths: Sequence[int] = (2, 2, 3, 2), dim: int = 8) -> None:
        super().__init__()
        self.patch_embed = StemLayer(dim)
        self.levels = nn.ModuleList(
            InternImageBlock(dim, depth, downsample=index < len(depths) - 1)
            for index, depth in enumerate(depths))


class MSDeformAttn(nn.Module):
    """Deformable attention's parameter names (mmcv ``MultiScaleDeformableAttention``)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.sampling_offsets = nn.Linear(dim, 8)
        self.attention_weights = nn.Linear(dim, 4)
        self.value_proj = nn.Linear(dim, dim)
        self.output_proj = nn.Linear(dim, dim)


class DINOTransformer(nn.Module):
    """InternImage's mmdet 2.x DINO: ``level_embeds``, encoder layers with deformable attention,
    ``reference_points``."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.level_embeds = nn.Parameter(torch.zeros(4, dim))
        self.encoder = nn.ModuleList(MSDeformAttn(dim) for _ in range(2))
        self.reference_points = nn.Linear(dim, 2)
        self.norm = nn.LayerNorm(dim)


class DINOHead(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.transformer = DINOTransformer(dim)
        self.cls_branches = nn.Linear(dim, 5)


class InternImageDINO(nn.Module):
    """An InternImage DINO detector: ``backbone``, ``neck``, ``bbox_head`` (no ``decode_head``)."""

    def __init__(self, depths: Sequence[int] = (2, 2, 3, 2), dim: int = 8) -> None:
        super().__init__()
        self.backbone = InternImage(depths, dim)
        self.neck = nn.Conv2d(dim, dim, 1)
        self.bbox_head = DINOHead(dim)


class InternImageUperNet(nn.Module):
    """An InternImage segmentor: ``backbone`` and a ``decode_head``."""

    def __init__(self, depths: Sequence[int] = (2, 2, 3, 2), dim: int = 8) -> None:
        super().__init__()
        self.backbone = InternImage(depths, dim)
        self.decode_head = nn.Sequential(nn.Conv2d(dim, dim, 3), nn.BatchNorm2d(dim),
                                         nn.Conv2d(dim, 4, 1))


class ViTDetBlock(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = nn.Module()
        self.attn.qkv = nn.Linear(dim, 3 * dim)
        self.attn.proj = nn.Linear(dim, dim)
        self.attn.rel_pos_h = nn.Parameter(torch.zeros(7, dim))
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, dim), nn.Linear(dim, dim))


class ViTDetViT(nn.Module):
    """mmdet ``projects/ViTDet`` ``ViT``: ``patch_embed.proj``, ``pos_embed``, ``blocks.N``."""

    def __init__(self, depth: int = 3, dim: int = 8) -> None:
        super().__init__()
        self.patch_embed = nn.Module()
        self.patch_embed.proj = nn.Conv2d(3, dim, 4, 4)
        self.pos_embed = nn.Parameter(torch.zeros(1, 17, dim))
        self.blocks = nn.ModuleList(ViTDetBlock(dim) for _ in range(depth))


class SimpleFPN(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(dim, dim, 1)
        self.norm = nn.LayerNorm(dim)


class ViTDetMaskRCNN(nn.Module):
    def __init__(self, depth: int = 3, dim: int = 8) -> None:
        super().__init__()
        self.backbone = ViTDetViT(depth, dim)
        self.neck = SimpleFPN(dim)
        self.rpn_head = nn.Conv2d(dim, 3, 1)


class EVABlock(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = nn.Linear(dim, 3 * dim)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Linear(dim, dim)


class EVAViT(nn.Module):
    """An EVA-02 ViT the way StreamPETR / Far3D / OmniDrive hold it as ``img_backbone``."""

    def __init__(self, depth: int = 3, dim: int = 8) -> None:
        super().__init__()
        self.patch_embed = nn.Module()
        self.patch_embed.proj = nn.Conv2d(3, dim, 4, 4)
        self.pos_embed = nn.Parameter(torch.zeros(1, 17, dim))
        self.blocks = nn.ModuleList(EVABlock(dim) for _ in range(depth))


class StreamPETRLike(nn.Module):
    """mmdet3d-style: ``img_backbone``, ``img_neck``, ``pts_bbox_head``, ``lm_head``."""

    def __init__(self, depth: int = 3, dim: int = 8) -> None:
        super().__init__()
        self.img_backbone = EVAViT(depth, dim)
        self.img_neck = nn.Conv2d(dim, dim, 1)
        self.pts_bbox_head = nn.Linear(dim, 10)
        self.lm_head = nn.Linear(dim, 11)
