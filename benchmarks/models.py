"""The models the benchmark builds: an InternViT-6B-like ViT in a segmentor, mmpretrain's
ConvNeXt-XLarge in a detector-like wrapper, mmseg's BEiT-large in a segmentor.

Construction is timed on models whose parameters live on the ``meta`` device (no memory, no
initialisation). mmpretrain's ``ConvNeXt`` and mmseg's ``BEiT`` call
``torch.linspace(...).item()`` in ``__init__`` (their drop-path rates), which fails under
``with torch.device('meta')``; ``meta_device()`` sends every tensor factory to ``meta`` except
``torch.linspace``, so those few rate tensors stay on the CPU and every parameter and buffer is on
``meta``.
"""
from typing import Callable, Dict, Optional, Sequence, Tuple

import torch
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils._device import _device_constructors

#: Factories whose result the backbones read back as Python numbers during ``__init__``.
CPU_FACTORIES = frozenset({torch.linspace})


class meta_device(TorchFunctionMode):
    """Like ``with torch.device('meta')``, but ``torch.linspace`` stays on the CPU."""

    def __init__(self) -> None:
        super().__init__()
        self.factories = _device_constructors() - CPU_FACTORIES

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        if func in self.factories and kwargs.get('device') is None:
            kwargs['device'] = 'meta'
        return func(*args, **kwargs)


class LayerScale(nn.Module):
    def __init__(self, dim: int, init_value: float = 0.1) -> None:
        super().__init__()
        self.gamma = nn.Parameter(init_value * torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gamma


class Attention(nn.Module):
    """InternViT-6B's attention: qkv without bias, RMS-normalised queries and keys."""

    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f'width {dim} is not divisible by num_heads={num_heads}')
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=False)
        self.q_norm = nn.RMSNorm(dim)
        self.k_norm = nn.RMSNorm(dim)
        self.proj = nn.Linear(dim, dim)


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)


class Block(nn.Module):
    def __init__(self, dim: int, num_heads: int, mlp_dim: int) -> None:
        super().__init__()
        self.norm1 = nn.RMSNorm(dim)
        self.attn = Attention(dim, num_heads)
        self.ls1 = LayerScale(dim)
        self.norm2 = nn.RMSNorm(dim)
        self.mlp = Mlp(dim, mlp_dim)
        self.ls2 = LayerScale(dim)


class InternViTLike(nn.Module):
    """A ViT with InternViT-6B's parameter names (13 tensors per block), not its forward pass.

    Implements mmpretrain's ``get_layer_depth`` so that mmpretrain's constructor can run on it.
    """

    def __init__(self, depth: int, dim: int, num_heads: int, mlp_dim: int, img_size: int = 224,
                 patch_size: int = 14) -> None:
        super().__init__()
        self.depth = depth
        self.patch_embed = nn.Module()
        self.patch_embed.proj = nn.Conv2d(3, dim, patch_size, patch_size)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, (img_size // patch_size) ** 2 + 1, dim))
        self.blocks = nn.ModuleList(Block(dim, num_heads, mlp_dim) for _ in range(depth))

    def get_layer_depth(self, param_name: str, prefix: str = '') -> Tuple[int, int]:
        """mmpretrain's protocol: ``(layer_id, num_layers + 2)``; embeddings 0, block i -> i + 1."""
        max_layer_id = self.depth + 2
        if not param_name.startswith(prefix):
            return max_layer_id - 1, max_layer_id
        name = param_name[len(prefix):]
        if name in ('cls_token', 'pos_embed') or name.startswith('patch_embed'):
            return 0, max_layer_id
        if name.startswith('blocks.'):
            return int(name.split('.')[1]) + 1, max_layer_id
        return max_layer_id - 1, max_layer_id


class SegmentorLike(nn.Module):
    """``backbone`` + ``decode_head`` (+ ``auxiliary_head``), named as in mmseg's EncoderDecoder.

    Offers ``get_layer_depth`` (mmpretrain's protocol) only where the backbone does.
    """

    def __init__(self, backbone: nn.Module, in_channels: Sequence[int], channels: int,
                 num_classes: int = 150) -> None:
        super().__init__()
        from mmseg.models.decode_heads import FCNHead, UPerHead
        norm_cfg = dict(type='BN', requires_grad=True)
        self.backbone = backbone
        self.decode_head = UPerHead(in_channels=list(in_channels), in_index=[0, 1, 2, 3],
                                    channels=channels, num_classes=num_classes,
                                    norm_cfg=norm_cfg)
        self.auxiliary_head = FCNHead(in_channels=in_channels[2], in_index=2, channels=256,
                                      num_convs=1, num_classes=num_classes, norm_cfg=norm_cfg)
        if hasattr(backbone, 'get_layer_depth'):
            self.get_layer_depth = self._backbone_layer_depth

    def _backbone_layer_depth(self, param_name: str) -> Tuple[int, int]:
        return self.backbone.get_layer_depth(param_name, 'backbone.')


class DetectorLike(nn.Module):
    """``backbone`` + FPN ``neck`` + ``rpn_head`` + a three-stage ``roi_head`` with box and mask
    heads, named as in mmdet's Cascade Mask R-CNN; ``get_layer_depth`` from the backbone."""

    def __init__(self, backbone: nn.Module, in_channels: Sequence[int], num_classes: int = 80,
                 channels: int = 256, fc_dim: int = 1024, stages: int = 3) -> None:
        super().__init__()
        from mmdet.models.necks import FPN
        self.backbone = backbone
        self.neck = FPN(in_channels=list(in_channels), out_channels=channels, num_outs=5)
        self.rpn_head = nn.Module()
        self.rpn_head.rpn_conv = nn.Conv2d(channels, channels, 3, padding=1)
        self.rpn_head.rpn_cls = nn.Conv2d(channels, 3, 1)
        self.rpn_head.rpn_reg = nn.Conv2d(channels, 12, 1)
        self.roi_head = nn.Module()
        self.roi_head.bbox_head = nn.ModuleList()
        self.roi_head.mask_head = nn.ModuleList()
        for _ in range(stages):
            box = nn.Module()
            box.shared_fcs = nn.ModuleList([nn.Linear(channels * 49, fc_dim),
                                            nn.Linear(fc_dim, fc_dim)])
            box.fc_cls = nn.Linear(fc_dim, num_classes + 1)
            box.fc_reg = nn.Linear(fc_dim, 4)
            self.roi_head.bbox_head.append(box)
            mask = nn.Module()
            mask.convs = nn.ModuleList(nn.Conv2d(channels, channels, 3, padding=1)
                                       for _ in range(4))
            mask.upsample = nn.ConvTranspose2d(channels, channels, 2, 2)
            mask.conv_logits = nn.Conv2d(channels, num_classes, 1)
            self.roi_head.mask_head.append(mask)

    def get_layer_depth(self, param_name: str) -> Tuple[int, int]:
        return self.backbone.get_layer_depth(param_name, 'backbone.')


def internvit_6b_seg(width: int = 3200, num_heads: int = 25, mlp_dim: int = 12800,
                     depth: int = 48, channels: int = 512) -> nn.Module:
    """InternViT-6B (48 blocks, width 3200) in an UPerNet segmentor, as InternVL's seg configs."""
    backbone = InternViTLike(depth, width, num_heads, mlp_dim)
    return SegmentorLike(backbone, [width] * 4, channels)


def convnext_xlarge_det() -> nn.Module:
    """mmpretrain's ConvNeXt-XLarge in a Cascade Mask R-CNN-like detector (mmdet's config)."""
    from mmpretrain.models.backbones import ConvNeXt
    backbone = ConvNeXt(arch='xlarge', out_indices=[0, 1, 2, 3], drop_path_rate=0.7,
                        layer_scale_init_value=1.0, gap_before_final_norm=False)
    return DetectorLike(backbone, [256, 512, 1024, 2048])


def beit_large_seg() -> nn.Module:
    """mmseg's BEiT-large in UPerNet, as ``beit-large_upernet_8xb1-amp-160k_ade20k-640x640``."""
    from mmseg.models.backbones import BEiT
    backbone = BEiT(img_size=(640, 640), patch_size=16, embed_dims=1024, num_layers=24,
                    num_heads=16, mlp_ratio=4, qv_bias=True, init_values=1e-6,
                    drop_path_rate=0.2, out_indices=[7, 11, 15, 23])
    return SegmentorLike(backbone, [1024] * 4, 1024)


#: Construction benchmark models: name -> (description, factory).
CONSTRUCTION_MODELS: Dict[str, Tuple[str, Callable[[], nn.Module]]] = {
    'internvit_6b': ('InternViT-6B-like ViT (48 blocks, width 3200) + UPerNet', internvit_6b_seg),
    'convnext_xl': ('mmpretrain ConvNeXt-XLarge + Cascade Mask R-CNN-like heads',
                    convnext_xlarge_det),
    'beit_large': ('mmseg BEiT-large + UPerNet', beit_large_seg),
}


def build_on_meta(factory: Callable[[], nn.Module]) -> nn.Module:
    """``factory()`` with every parameter and buffer on ``meta`` (see ``meta_device``)."""
    with meta_device():
        model = factory()
    on_cpu = [name for name, tensor in [*model.named_parameters(), *model.named_buffers()]
              if tensor.device.type != 'meta']
    if on_cpu:
        raise RuntimeError(f'tensors left off the meta device: {on_cpu[:5]}')
    return model


def build_on_cpu(factory: Callable[[], nn.Module], seed: int = 0,
                 grad_scale: Optional[float] = 1e-3) -> nn.Module:
    """``factory()`` with real CPU tensors: built on ``meta``, materialised, filled with small
    random values (and random gradients, for optimizer steps). Skips the layers' slow init."""
    model = build_on_meta(factory).to_empty(device='cpu')
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in model.parameters():
            param.normal_(0, 0.02, generator=generator)
            if grad_scale is not None:
                param.grad = torch.randn(param.shape, generator=generator) * grad_scale
        for buffer in model.buffers():
            if buffer.is_floating_point():
                buffer.zero_()
    return model
