"""Models mmcv_custom registers: the InternViT backbone and InternVL's feature-pyramid neck.

Importing this package registers ``InternViT`` and ``InternVLFeaturePyramid`` in MMEngine's root
``MODELS`` (found under every default scope: ``mmseg``, ``mmdet``, ``mmpretrain``) and in
mmcv_custom's own registry (``type='mmcv_custom.InternViT'``); see :mod:`.registry`. It imports only
torch and MMEngine. The weight converter is :mod:`.internvit_convert`
(``tools/model_converters/internvit.py``).
"""
from .internvit import InternViT, InternVisionEncoderLayer
from .internvit_arch import ARCHS, InternViTArch, count_params, param_shapes, resolve_arch
from .internvit_convert import (CheckpointFileError, CheckpointKeyError, convert_internvit,
                               load_backbone_checkpoint)
from .internvl_pyramid import InternVLFeaturePyramid, LayerNorm2d
from .registry import MODELS

__all__ = ['InternViT', 'InternVisionEncoderLayer', 'InternVLFeaturePyramid', 'LayerNorm2d',
           'ARCHS', 'InternViTArch', 'count_params', 'param_shapes', 'resolve_arch',
           'convert_internvit', 'load_backbone_checkpoint', 'CheckpointKeyError',
           'CheckpointFileError', 'MODELS']
