"""InternViT (the vision transformer of InternVL) as an OpenMMLab 2.x backbone.

The network follows OpenGVLab/InternVL ``segmentation/mmseg_custom/models/backbones/
intern_vit_6b.py`` (``InternViT6B``) and the remote code of ``OpenGVLab/InternViT-6B-448px-V2_5`` /
``InternViT-300M-448px-V2_5`` (``modeling_intern_vit.py``): patch embedding (a stride-14 conv),
a class token, a learned position embedding at the pretraining grid, and pre-norm blocks

    x = x + drop_path(ls1 * attn(norm1(x)))
    x = x + drop_path(ls2 * mlp(norm2(x)))

with RMSNorm (6B) or LayerNorm (300M), eps 1e-6; q and k normalised by RMSNorm over the whole
width *before* the heads are split (6B); GELU (erf) MLP; layer scale. It is written here from those
facts (no code copied) and checked against transformers' own ``InternVLVisionModel``
(``tests/test_internvit_equivalence.py``).

Parameter names are InternVL's (timm-style): ``cls_token``, ``pos_embed``, ``patch_embed.proj``,
``blocks.N.{norm1, attn.qkv, attn.q_norm, attn.k_norm, attn.proj, ls1.gamma, norm2, mlp.fc1,
mlp.fc2, ls2.gamma}``; so InternVL's ``.pth`` files load as they are (except
``intern_vit_6b_224px.pth``, whose ``clip_projector.*`` the strict loader refuses, saying to convert
the file first with ``tools/model_converters/internvit.py``, which drops it with a note), and the
layer-decay constructors give InternVL's layer ids with no new recipe.

Only torch and MMEngine are imported here.
"""
import numbers
import os
import re
from typing import Iterable, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
import torch.utils.checkpoint
from mmengine.model import BaseModule
from torch import nn

from .._checks import Interval, check_bool, check_number, check_positive_int
from .internvit_arch import ARCHS, InternViTArch, block_param_shapes, resolve_arch
from .registry import register_model

__all__ = ['InternViT', 'InternVisionEncoderLayer', 'InternAttention', 'RMSNorm', 'LayerScale',
           'DropPath', 'resize_pos_embed', 'drop_path_rates']

#: Epsilon of every norm of InternViT (RMSNorm and LayerNorm).
NORM_EPS = 1e-6
#: The parameters at layer depth 0 (mmpretrain's protocol): the embeddings.
EMBEDDING_PARAMS = ('cls_token', 'pos_embed', 'patch_embed.proj.weight', 'patch_embed.proj.bias')
_BLOCK_PARAM = re.compile(r'blocks\.(\d+)\.(.+)')
#: The keys of ``init_cfg=dict(type='Pretrained', ...)`` this backbone reads.
PRETRAINED_KEYS = ('type', 'checkpoint', 'prefix')


class RMSNorm(nn.Module):
    """``weight * x / sqrt(mean(x ** 2, -1) + eps)``, computed in float32 and cast back to the
    input dtype before the weight is applied (InternVL's ``RMSNorm`` / ``InternRMSNorm``)."""

    def __init__(self, dims: int, eps: float = NORM_EPS) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dims))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dtype = x.dtype
        x = x.float()
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x.to(dtype)

    def extra_repr(self) -> str:
        return f'{self.weight.shape[0]}, eps={self.eps}'


def build_norm(norm_type: str, dims: int) -> nn.Module:
    """RMSNorm or ``nn.LayerNorm`` of width ``dims`` with eps 1e-6."""
    if norm_type == 'rms_norm':
        return RMSNorm(dims)
    return nn.LayerNorm(dims, eps=NORM_EPS)


class LayerScale(nn.Module):
    """``x * gamma``, one learned factor per channel (parameter ``gamma``)."""

    def __init__(self, dims: int, init_value: float) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.full((dims, ), float(init_value)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gamma


class DropPath(nn.Module):
    """Stochastic depth: in training, zero the whole residual branch of a sample with probability
    ``drop_prob`` and scale the kept ones by ``1 / (1 - drop_prob)``; identity in eval."""

    def __init__(self, drop_prob: float) -> None:
        super().__init__()
        self.drop_prob = float(drop_prob)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.drop_prob == 0.0:
            return x
        keep = 1.0 - self.drop_prob
        mask = x.new_empty((x.shape[0], ) + (1, ) * (x.dim() - 1)).bernoulli_(keep)
        return x * mask / keep

    def extra_repr(self) -> str:
        return f'drop_prob={self.drop_prob}'


class InternAttention(nn.Module):
    """Multi-head self-attention with a joint ``qkv`` projection (rows q, k, v), optional RMSNorm
    of q and k over the full width (``q_norm`` / ``k_norm``, before the heads are split), and
    ``torch.nn.functional.scaled_dot_product_attention`` (scale ``head_dim ** -0.5``).

    Input and output ``(B, N, C)``."""

    def __init__(self, embed_dims: int, num_heads: int, qkv_bias: bool, qk_norm: bool) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.head_dims = embed_dims // num_heads
        self.qkv = nn.Linear(embed_dims, 3 * embed_dims, bias=qkv_bias)
        self.proj = nn.Linear(embed_dims, embed_dims)
        self.qk_norm = qk_norm
        if qk_norm:
            self.q_norm = RMSNorm(embed_dims)
            self.k_norm = RMSNorm(embed_dims)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, width = x.shape
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        if self.qk_norm:
            q, k = self.q_norm(q), self.k_norm(k)
        shape = (batch, length, self.num_heads, self.head_dims)
        q, k, v = (t.reshape(shape).transpose(1, 2) for t in (q, k, v))
        out = F.scaled_dot_product_attention(q, k, v)
        return self.proj(out.transpose(1, 2).reshape(batch, length, width))


class InternMLP(nn.Module):
    """``fc2(gelu(fc1(x)))`` with the exact (erf) GELU."""

    def __init__(self, embed_dims: int, feedforward_channels: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(embed_dims, feedforward_channels)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(feedforward_channels, embed_dims)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class InternVisionEncoderLayer(nn.Module):
    """One InternViT block (the class name of InternVL's remote code, which
    ``is_vit_block`` (``mmcv_custom.distributed``) and FSDP wrap policies by class name know)."""

    def __init__(self, arch: InternViTArch, drop_path: float,
                 layer_scale_init_value: float) -> None:
        super().__init__()
        c = arch.embed_dims
        self.norm1 = build_norm(arch.norm_type, c)
        self.attn = InternAttention(c, arch.num_heads, arch.qkv_bias, arch.qk_norm)
        self.ls1 = LayerScale(c, layer_scale_init_value)
        self.norm2 = build_norm(arch.norm_type, c)
        self.mlp = InternMLP(c, arch.feedforward_channels)
        self.ls2 = LayerScale(c, layer_scale_init_value)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path(self.ls1(self.attn(self.norm1(x))))
        return x + self.drop_path(self.ls2(self.mlp(self.norm2(x))))


class PatchEmbed(nn.Module):
    """``proj``: a ``patch_size``-strided conv from ``in_channels`` to the width."""

    def __init__(self, in_channels: int, embed_dims: int, patch_size: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_channels, embed_dims, patch_size, patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x)


def drop_path_rates(drop_path_rate: float, num_layers: int) -> List[float]:
    """Stochastic depth per block, rising linearly from 0 (first block) to ``drop_path_rate``
    (last block), as ``torch.linspace(0, drop_path_rate, num_layers)`` (computed without tensors,
    so the model also builds on ``meta``)."""
    if num_layers == 1:
        return [0.0]
    return [drop_path_rate * i / (num_layers - 1) for i in range(num_layers)]


def resize_pos_embed(pos_embed: torch.Tensor, grid: Tuple[int, int],
                     new_grid: Tuple[int, int]) -> torch.Tensor:
    """A ``(1, 1 + gh * gw, C)`` position embedding (class position first) resized to
    ``new_grid``: the patch positions bicubic, ``align_corners=False``, no antialias (as InternVL,
    transformers' ``InternVLVisionEmbeddings`` and mmpretrain's ``resize_pos_embed`` do), computed
    in float32 and returned in the input's dtype; the class position unchanged."""
    if tuple(grid) == tuple(new_grid):
        return pos_embed
    width = pos_embed.shape[-1]
    cls_pos, patch_pos = pos_embed[:, :1], pos_embed[:, 1:]
    patch_pos = patch_pos.reshape(1, grid[0], grid[1], width).permute(0, 3, 1, 2)
    patch_pos = F.interpolate(patch_pos.float(), size=tuple(new_grid), mode='bicubic',
                              align_corners=False, antialias=False)
    patch_pos = patch_pos.to(pos_embed.dtype).permute(0, 2, 3, 1).reshape(1, -1, width)
    return torch.cat([cls_pos, patch_pos], dim=1)


@register_model
class InternViT(BaseModule):
    """InternViT-6B / 300M (InternVL's vision encoder) as a backbone for MMSeg, MMDet, MMPretrain.

    Args:
        arch (str | dict): a preset, ``'6b'`` (48 blocks, width 3200, 25 heads, MLP 12800,
            RMSNorm, QK-norm, no qkv bias; 5,902,793,600 parameters at 224 px), ``'6b-45'`` (the
            448 px V1-2 / V1-5 / V2-5 releases: 45 blocks; 5,536,496,000) or ``'300m'`` (24
            blocks, 1024, 16 heads, MLP 4096, LayerNorm, qkv bias, no QK-norm; 304,012,288); or a
            dict with ``embed_dims``, ``num_layers``, ``num_heads``, ``feedforward_channels`` and
            optionally ``norm_type`` (``'rms_norm'`` | ``'layer_norm'``, default ``'rms_norm'``),
            ``qk_norm`` (False), ``qkv_bias`` (False). Default ``'6b'``.
        img_size (int, optional): the crop the model is trained at (pixels): a positive multiple
            of ``patch_size`` (a crop that is not one would lose its edge pixels, see below), kept
            as ``self.img_size`` and shown in the repr; nothing else reads it. Inputs of any size
            work: the position embedding is resized to each input's grid. Default: the
            pretraining size (``pretrain_img_size``).
        patch_size (int): pixels per patch side (a positive int). Default 14.
        in_channels (int): input channels (a positive int). Default 3.
        pretrain_img_size (int, optional): the image size the weights' position embedding was
            trained at; the parameter ``pos_embed`` holds ``(pretrain_img_size / patch_size) ** 2
            + 1`` positions. Default: the preset's (224 for ``6b``, 448 for ``6b-45`` and
            ``300m``; 224 for a dict arch). Use 448 for the 48-block ``intern_vit_6b_448px_v1_0``.
        out_indices (Sequence[int] | int): blocks whose outputs are returned (negative counts
            from the end; numpy ints and arrays are accepted); each block at most once after
            negative indices are resolved. Default: the last block.
        drop_path_rate (float): stochastic depth of the last block, in [0, 1); block ``i`` gets
            ``drop_path_rate * i / (num_layers - 1)``. Default 0.
        layer_scale_init_value (float): initial layer-scale factor (InternVL's ``init_values``;
            a finite number). Default 0.1.
        with_cp (bool): activation checkpointing of each block while training (recompute in the
            backward pass). Leave False when the engine checkpoints the blocks itself (FSDP's
            ``activation_checkpointing``). Default False.
        frozen (bool): no parameter of the backbone trains (``requires_grad=False``, always in
            eval mode); blocks after the last of ``out_indices`` are not run. InternVL's head
            tuning and linear probing. Default False.
        init_cfg (dict | list[dict], optional): ``dict(type='Pretrained', checkpoint=PATH,
            prefix=None)`` loads a checkpoint with this backbone's names
            (``tools/model_converters/internvit.py`` writes one from every released layout)
            **strictly**: a missing, unexpected or mis-shaped key is a ``ValueError`` naming it,
            and so is an arch field the converter recorded (``num_heads``, which the weights do
            not show) that differs from this backbone's. ``checkpoint`` is a local path (no
            URL); it may also be an MMEngine training checkpoint (loaded with
            ``weights_only=True``, MMEngine's types allowed), and a wrapping ``module`` /
            ``state_dict`` / ``model`` entry is unwrapped (logged). ``prefix`` selects a
            sub-dict (``'backbone.'`` of a trained segmentor; ``'backbone'`` means the same); a
            segmentor checkpoint loaded without it is refused with the prefix to set. A list
            (as MMEngine allows) may hold one ``Pretrained`` entry, loaded after MMEngine runs
            the others. Pretrained weights cannot be loaded into a model on the ``meta`` device
            (RuntimeError: materialise it first). Without ``init_cfg``, weights are initialised
            as InternVL does (truncated normal, std 0.02, for linear layers and embeddings).

    Input ``(B, in_channels, H, W)``; output: a tuple with one ``(B, C, H // patch_size,
    W // patch_size)`` float32 map per ``out_indices`` entry (the class token dropped, no final
    norm), in the order of ``out_indices``. H and W need not be multiples of ``patch_size``, but
    then, as in InternVL and transformers (a stride-``patch_size`` conv), the last
    ``H % patch_size`` rows and ``W % patch_size`` columns are not seen: crop or pad inputs to
    multiples of ``patch_size`` (504 = 36 x 14) to use every pixel.

    Raises KeyError for an unknown preset or arch key or an ``init_cfg`` key that is not read,
    TypeError for an argument of the wrong type, ValueError for values out of range (each naming
    the argument).
    """

    def __init__(self,
                 arch: Union[str, dict] = '6b',
                 img_size: Optional[int] = None,
                 patch_size: int = 14,
                 in_channels: int = 3,
                 pretrain_img_size: Optional[int] = None,
                 out_indices: Union[int, Sequence[int]] = -1,
                 drop_path_rate: float = 0.0,
                 layer_scale_init_value: float = 0.1,
                 with_cp: bool = False,
                 frozen: bool = False,
                 init_cfg: Union[dict, List[dict], None] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        patch_size = check_positive_int('InternViT patch_size', patch_size)
        in_channels = check_positive_int('InternViT in_channels', in_channels)
        self.arch = resolve_arch(arch, pretrain_img_size)
        self.arch_name = arch if isinstance(arch, str) and arch.lower() in ARCHS else None
        if self.arch.pretrain_img_size % patch_size:
            raise ValueError(f'pretrain_img_size ({self.arch.pretrain_img_size}) must be a '
                             f'multiple of patch_size ({patch_size})')
        if img_size is None:
            img_size = self.arch.pretrain_img_size
        img_size = check_positive_int('InternViT img_size', img_size)
        if img_size % patch_size:
            low = img_size // patch_size * patch_size
            raise ValueError(
                f'InternViT img_size ({img_size}) must be a multiple of patch_size ({patch_size}): '
                f'the last {img_size % patch_size} pixels of such a crop are never seen; use '
                + (f'{low} or ' if low else '') + f'{low + patch_size}')
        drop_path_rate = check_number('InternViT drop_path_rate', drop_path_rate,
                                      Interval(low=0, high=1, high_open=True),
                                      'a number in [0, 1)')
        layer_scale_init_value = check_number('InternViT layer_scale_init_value',
                                              layer_scale_init_value)
        self.num_layers = self.arch.num_layers
        self.embed_dims = self.arch.embed_dims
        self.img_size = img_size
        self.patch_size = patch_size
        self.pretrain_grid = self.arch.pretrain_img_size // patch_size
        self.out_indices = self._check_out_indices(out_indices)
        self.drop_path_rate = drop_path_rate
        self.with_cp = check_bool('InternViT with_cp', with_cp)
        self.frozen = check_bool('InternViT frozen', frozen)
        self._block_params = frozenset(
            name[len('blocks.0.'):] for name in block_param_shapes(self.arch, 0))
        _pretrained_cfg(init_cfg)  # its errors at build time, not when the weights are loaded

        c = self.embed_dims
        self.cls_token = nn.Parameter(torch.zeros(1, 1, c))
        self.pos_embed = nn.Parameter(torch.zeros(1, self.pretrain_grid ** 2 + 1, c))
        self.patch_embed = PatchEmbed(in_channels, c, patch_size)
        self.blocks = nn.ModuleList(
            InternVisionEncoderLayer(self.arch, rate, layer_scale_init_value)
            for rate in drop_path_rates(drop_path_rate, self.num_layers))
        if frozen:
            for param in self.parameters():
                param.requires_grad = False

    def _check_out_indices(self, out_indices: Union[int, Iterable[int]]) -> Tuple[int, ...]:
        if isinstance(out_indices, numbers.Integral) and not isinstance(out_indices, bool):
            indices = [out_indices]
        elif isinstance(out_indices, Iterable) and not isinstance(out_indices, (str, bytes)):
            indices = list(out_indices)
        else:
            raise TypeError(f'InternViT out_indices must be an int or a sequence of ints (block '
                            f'indices), got {out_indices!r} ({type(out_indices).__name__})')
        if not indices:
            raise ValueError('out_indices must name at least one block')
        checked = {}
        for index in indices:
            if not isinstance(index, numbers.Integral) or isinstance(index, bool):
                raise TypeError(f'InternViT out_indices entry {index!r} must be an int (a block '
                                f'index), got {type(index).__name__}')
            if not -self.num_layers <= index < self.num_layers:
                raise ValueError(f'out_indices entry {index!r} is not a block of this '
                                 f'{self.num_layers}-block InternViT (use 0..{self.num_layers - 1} '
                                 'or negative indices)')
            block = int(index) % self.num_layers
            if block in checked:
                raise ValueError(
                    f'InternViT out_indices {tuple(int(i) for i in indices)} name block {block} '
                    f'twice ({checked[block]} and {int(index)}); list each block once')
            checked[block] = int(index)
        return tuple(checked)

    # ----- weights -----

    def init_weights(self) -> None:
        """Load ``init_cfg``'s checkpoint strictly (type ``'Pretrained'``; in a list, after
        MMEngine has run the other entries), or initialise as InternVL: truncated normal (std
        0.02) for linear weights, ``pos_embed`` and ``cls_token``, zero biases, unit norms,
        layer scales at their initial value."""
        pretrained = _pretrained_cfg(self.init_cfg)
        if pretrained is not None:
            from mmengine.model.weight_init import initialize

            from .internvit_convert import load_backbone_checkpoint
            cfgs = self.init_cfg if isinstance(self.init_cfg, list) else [self.init_cfg]
            others = [cfg for cfg in cfgs if cfg is not pretrained]
            if others:
                initialize(self, others)
            load_backbone_checkpoint(self, pretrained['checkpoint'],
                                     prefix=pretrained.get('prefix'))
            self._is_init = True
            return
        if self.init_cfg is not None:
            super().init_weights()
            return
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.trunc_normal_(module.weight, std=0.02)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        self._is_init = True

    # ----- forward -----

    def train(self, mode: bool = True) -> 'InternViT':
        """As ``nn.Module.train``; a frozen backbone stays in eval mode."""
        return super().train(mode and not self.frozen)

    def _run_block(self, block: nn.Module, x: torch.Tensor) -> torch.Tensor:
        if self.with_cp and self.training and torch.is_grad_enabled():
            return torch.utils.checkpoint.checkpoint(block, x, use_reentrant=False)
        return block(x)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        batch = x.shape[0]
        x = self.patch_embed(x)
        grid = (x.shape[2], x.shape[3])
        x = x.flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(batch, -1, -1).to(x.dtype), x], dim=1)
        pos_embed = resize_pos_embed(self.pos_embed, (self.pretrain_grid, self.pretrain_grid), grid)
        x = x + pos_embed.to(x.dtype)
        wanted = set(self.out_indices)
        last = max(wanted) if self.frozen else self.num_layers - 1
        features = {}
        for index, block in enumerate(self.blocks):
            if index > last:
                break
            x = self._run_block(block, x)
            if index in wanted:
                out = x[:, 1:].reshape(batch, grid[0], grid[1], self.embed_dims)
                features[index] = out.permute(0, 3, 1, 2).float().contiguous()
        return tuple(features[index] for index in self.out_indices)

    # ----- layer decay (mmpretrain's protocol) -----

    def get_layer_depth(self, param_name: str, prefix: str = '') -> Tuple[int, int]:
        """``(layer_depth, num_layers + 2)`` of a parameter, as mmpretrain's
        ``VisionTransformer.get_layer_depth`` (``mmpretrain/models/backbones/
        vision_transformer.py``) counts: ``cls_token``, ``pos_embed``, ``patch_embed.*`` -> 0,
        ``blocks.i.*`` -> ``i + 1``, names outside ``prefix`` (necks, heads) ->
        ``num_layers + 1``. mmpretrain's ViT also gives ``num_layers + 1`` to the other names
        under its prefix, its final norms; InternViT has none, so a name under ``prefix`` that
        is not one of its parameters (``blocks.99.x`` beyond the depth, ``blocks.x.y``, a
        misspelt name) is a ValueError naming it, never a guessed depth."""
        total = self.num_layers + 2
        if not param_name.startswith(prefix):
            return total - 1, total
        name = param_name[len(prefix):]
        if name in EMBEDDING_PARAMS:
            return 0, total
        match = _BLOCK_PARAM.fullmatch(name)
        if match and int(match.group(1)) < self.num_layers and match.group(2) in self._block_params:
            return int(match.group(1)) + 1, total
        raise ValueError(
            f'InternViT.get_layer_depth: {param_name!r} (prefix {prefix!r}) is not a parameter of '
            f'this {self.num_layers}-block InternViT: under the prefix its parameters are '
            f'{", ".join(EMBEDDING_PARAMS)} and blocks.0-{self.num_layers - 1}.'
            '{norm1, attn, ls1, norm2, mlp, ls2}.*; names outside the prefix get the head id '
            f'{total - 1}')

    def extra_repr(self) -> str:
        arch = self.arch_name or self.arch.to_dict()
        return (f'arch={arch!r}, img_size={self.img_size}, patch_size={self.patch_size}, '
                f'pretrain_img_size={self.arch.pretrain_img_size}, '
                f'out_indices={self.out_indices}, drop_path_rate={self.drop_path_rate}, '
                f'with_cp={self.with_cp}, frozen={self.frozen}')


def _is_pretrained(cfg: dict) -> bool:
    from mmengine.model.weight_init import PretrainedInit
    return cfg.get('type') == 'Pretrained' or cfg.get('type') is PretrainedInit


def _pretrained_cfg(init_cfg: Union[None, dict, list]) -> Optional[dict]:
    """The ``type='Pretrained'`` entry of ``init_cfg`` (a dict or a list of dicts), checked: its
    keys are :data:`PRETRAINED_KEYS` and ``checkpoint`` is a path; None when there is none."""
    if init_cfg is None:
        return None
    cfgs = init_cfg if isinstance(init_cfg, list) else [init_cfg]
    for cfg in cfgs:
        if not isinstance(cfg, dict):
            raise TypeError(f'InternViT init_cfg must be a dict or a list of dicts, got '
                            f'{cfg!r} ({type(cfg).__name__})')
    pretrained = [cfg for cfg in cfgs if _is_pretrained(cfg)]
    if len(pretrained) > 1:
        raise ValueError(f'InternViT init_cfg has {len(pretrained)} Pretrained entries; give one')
    if not pretrained:
        return None
    cfg = pretrained[0]
    unknown = sorted(set(cfg) - set(PRETRAINED_KEYS))
    if unknown:
        raise KeyError(f"InternViT init_cfg keys {unknown} are not read; type='Pretrained' takes "
                       "'checkpoint' and 'prefix'")
    checkpoint = cfg.get('checkpoint')
    if not isinstance(checkpoint, (str, os.PathLike)) or not os.fspath(checkpoint):
        raise ValueError(
            "InternViT init_cfg type='Pretrained' needs checkpoint=PATH, the file "
            'tools/model_converters/internvit.py wrote from the released weights; got '
            + ('no checkpoint key' if 'checkpoint' not in cfg else f'checkpoint={checkpoint!r}'))
    prefix = cfg.get('prefix')
    if prefix is not None and not isinstance(prefix, str):
        raise TypeError(f"InternViT init_cfg prefix must be a str such as 'backbone.', got "
                        f'{prefix!r}')
    return cfg
