"""InternVL's linear-probing decode head for MMSegmentation 1.x.

InternVL's linear probing (OpenGVLab/InternVL ``segmentation/configs/intern_vit_6b/linear_probing/
linear_intern_vit_6b_504_80k_ade20k_bs16_lr4e-5_frozen.py``) uses its own ``FCNHead`` with
``num_convs=0``, ``concat_input=False``, ``dropout_ratio=0.0`` and ``with_norm=True``
(``segmentation/mmseg_custom/models/decode_heads/fcn_head.py``): no conv, a ``SyncBatchNorm`` over
the backbone's channels, then the 1x1 classifier. mmseg 1.x's ``FCNHead`` has no norm there, so
this head is that recipe, registered in mmseg's ``MODELS`` as ``LinearProbeHead``.

This module imports mmseg; ``import mmcv_custom`` does not import it. A config that uses the head
imports it: ``custom_imports = dict(imports=['mmcv_custom', 'mmcv_custom.models.seg_heads'])``.
"""
from typing import Any, List, Optional

import torch
from mmcv.cnn import build_norm_layer
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.registry import MODELS

__all__ = ['LinearProbeHead']


@MODELS.register_module()
class LinearProbeHead(BaseDecodeHead):
    """A norm over the feature's channels and mmseg's 1x1 classifier (``conv_seg``, after
    ``dropout_ratio``): InternVL's linear probe.

    Args:
        norm_cfg (dict, optional): the norm before the classifier (parameters ``norm.*``). Default
            ``dict(type='SyncBN', requires_grad=True)`` (InternVL's ``nn.SyncBatchNorm``); use
            ``'BN'`` on one process or the CPU.
        **kwargs: ``BaseDecodeHead``'s arguments; ``channels`` must equal ``in_channels`` (there
            is no conv to change the width), as in InternVL's config (3200 and 3200).

    Input: the backbone's maps (``in_index`` picks one), ``(B, in_channels, H, W)``; output the
    logits ``(B, num_classes, H, W)``. The feature is cast to the head's parameter dtype (an
    InternViT returns float32 maps; under DeepSpeed's or FSDP's bf16 the head is bf16). Raises
    ValueError when ``channels != in_channels``.
    """

    def __init__(self, norm_cfg: Optional[dict] = None, **kwargs: Any) -> None:
        norm_cfg = norm_cfg if norm_cfg is not None else dict(type='SyncBN', requires_grad=True)
        super().__init__(norm_cfg=norm_cfg, **kwargs)
        if self.channels != self.in_channels:
            raise ValueError(f'LinearProbeHead has no conv before its classifier: channels '
                             f'({self.channels}) must equal in_channels ({self.in_channels})')
        self.norm = build_norm_layer(norm_cfg, self.channels)[1]

    def forward(self, inputs: List[torch.Tensor]) -> torch.Tensor:
        x = self._transform_inputs(inputs)
        x = x.to(self.conv_seg.weight.dtype)
        return self.cls_seg(self.norm(x))
