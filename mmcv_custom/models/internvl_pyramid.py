"""InternVL's feature pyramid for a plain ViT: four same-size maps upsampled x4, x2, x1, x0.5.

InternVL's segmentation backbone builds this inside ``InternViT6B`` when ``with_fpn=True``
(OpenGVLab/InternVL ``segmentation/mmseg_custom/models/backbones/intern_vit_6b.py``, modules
``up1``-``up4``); here it is a neck, so the backbone stays a plain ViT and the neck's parameters
(``neck.up1.*``) get the head's layer id, as ``backbone.up1.*`` do under InternVL's
layer-decay rule (every backbone name outside the embeddings and blocks takes the head id).
The module names and indices are InternVL's, so its trained ``backbone.up*`` weights map to
``neck.up*`` one to one. Only torch and MMEngine are imported here.
"""
import math
from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import nn

from .registry import register_model

__all__ = ['InternVLFeaturePyramid', 'LayerNorm2d']


class LayerNorm2d(nn.Module):
    """LayerNorm over the channels of a ``(B, C, H, W)`` map, computed in float32, eps 1e-6, with
    ``weight`` and ``bias`` (InternVL's channels-first ``LayerNorm``); the output keeps the input
    dtype."""

    def __init__(self, channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dtype = x.dtype
        y = F.layer_norm(x.float().permute(0, 2, 3, 1), (x.shape[1], ), self.weight.float(),
                         self.bias.float(), self.eps)
        return y.permute(0, 3, 1, 2).to(dtype)


@register_model
class InternVLFeaturePyramid(BaseModule):
    """Four ViT maps of one stride (14 for InternViT) -> strides 3.5, 7, 14 and 28.

    - ``up1`` (x4): ConvTranspose2d(2, 2) -> LayerNorm2d -> GELU -> ConvTranspose2d(2, 2);
    - ``up2`` (x2): ConvTranspose2d(2, 2);
    - ``up3`` (x1): identity;
    - ``up4`` (x0.5): MaxPool2d(2, 2);
    each followed by a LayerNorm2d when ``final_norm`` (InternVL's ``with_final_norm``, off in its
    ADE20K configs), else an identity.

    Args:
        in_channels (int): channels of every input map (the backbone's width; kept). Default 3200.
        final_norm (bool): a LayerNorm2d at the end of each branch. Default False.
        init_cfg (dict, optional): MMEngine init config. Without it, ``init_weights`` initialises
            the transposed convs as InternVL does (normal, std ``sqrt(2 / (k * k * C))``, zero
            bias).

    Input: a sequence of exactly 4 maps ``(B, C, H, W)`` (an InternViT gives float32); output: a
    tuple of 4 maps ``(B, C, 4H, 4W)``, ``(B, C, 2H, 2W)``, ``(B, C, H, W)``,
    ``(B, C, H // 2, W // 2)`` in the neck's parameter dtype: float32, or bf16 when an engine cast
    the whole model (DeepSpeed's ``bf16``, FSDP's ``mixed_precision``), so the heads after it get
    their own dtype. (InternVL keeps only its backbone in bf16 and casts these maps to float32
    for float32 heads.) Raises ValueError for another number of inputs.
    """

    def __init__(self, in_channels: int = 3200, final_norm: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        c = in_channels
        self.in_channels = in_channels

        def last() -> nn.Module:
            return LayerNorm2d(c) if final_norm else nn.Identity()

        self.up1 = nn.Sequential(nn.ConvTranspose2d(c, c, 2, 2), LayerNorm2d(c), nn.GELU(),
                                 nn.ConvTranspose2d(c, c, 2, 2), last())
        self.up2 = nn.Sequential(nn.ConvTranspose2d(c, c, 2, 2), last())
        self.up3 = nn.Sequential(nn.Identity(), last())
        self.up4 = nn.Sequential(nn.MaxPool2d(kernel_size=2, stride=2), last())

    def init_weights(self) -> None:
        if self.init_cfg is not None:
            super().init_weights()
            return
        for module in self.modules():
            if isinstance(module, nn.ConvTranspose2d):
                fan_out = module.kernel_size[0] * module.kernel_size[1] * module.out_channels
                nn.init.normal_(module.weight, 0.0, math.sqrt(2.0 / (fan_out // module.groups)))
                nn.init.zeros_(module.bias)
        self._is_init = True

    def forward(self, inputs: Sequence[torch.Tensor]) -> Tuple[torch.Tensor, ...]:
        if len(inputs) != 4:
            raise ValueError(f'InternVLFeaturePyramid takes 4 maps (the backbone\'s out_indices '
                             f'must name 4 blocks), got {len(inputs)}')
        dtype = self.up2[0].weight.dtype
        return tuple(branch(x.to(dtype)).contiguous()
                     for branch, x in zip((self.up1, self.up2, self.up3, self.up4), inputs))
