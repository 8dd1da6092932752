"""InternViT's architecture settings: the released presets, their parameter names and shapes.

One place states what an InternViT of a given arch holds, by name and shape, in InternVL's own
timm-style names; the backbone (:mod:`.internvit`), the weight converter
(:mod:`.internvit_convert`) and the memory arithmetic (:mod:`mmcv_custom.analysis.memory`) all
read it, and ``tests/test_internvit.py`` checks it against the built module.

Sources (facts, not code): OpenGVLab/InternVL ``segmentation/mmseg_custom/models/backbones/
intern_vit_6b.py`` (InternViT-6B, 48 blocks, the names) and ``internvl_chat/internvl/model/
internvl_chat/configuration_intern_vit.py`` (``norm_type``, ``qk_normalization``, ``qkv_bias``);
the released configs of ``OpenGVLab/InternViT-6B-448px-V2_5`` (45 blocks, 448 px) and
``OpenGVLab/InternViT-300M-448px-V2_5`` (24 blocks, width 1024, LayerNorm, qkv bias, no QK-norm).
"""
from collections import OrderedDict
from dataclasses import asdict, dataclass, fields
from typing import Dict, Mapping, Optional, Tuple, Union

from .._checks import check_bool, check_positive_int

__all__ = ['InternViTArch', 'ARCHS', 'NORM_TYPES', 'resolve_arch', 'param_shapes',
           'count_params', 'block_param_shapes']

NORM_TYPES = ('rms_norm', 'layer_norm')


@dataclass(frozen=True)
class InternViTArch:
    """The shape of an InternViT.

    - ``embed_dims``: width C; ``num_layers``: number of blocks; ``num_heads``: attention heads
      (``embed_dims`` divisible by it); ``feedforward_channels``: MLP hidden width;
    - ``norm_type``: ``'rms_norm'`` (InternViT-6B) or ``'layer_norm'`` (300M), eps 1e-6 both;
    - ``qk_norm``: RMSNorm of q and k over the whole width, before the heads are split (6B);
    - ``qkv_bias``: a bias on the joint q/k/v projection (300M);
    - ``pretrain_img_size``: the image size the released weights were trained at: their position
      embedding holds ``(pretrain_img_size / patch) ** 2 + 1`` positions.
    """

    embed_dims: int
    num_layers: int
    num_heads: int
    feedforward_channels: int
    norm_type: str = 'rms_norm'
    qk_norm: bool = False
    qkv_bias: bool = False
    pretrain_img_size: int = 224

    def __post_init__(self) -> None:
        for name in ('embed_dims', 'num_layers', 'num_heads', 'feedforward_channels',
                     'pretrain_img_size'):  # numpy ints are accepted and stored as int
            object.__setattr__(self, name, check_positive_int(f'arch {name}', getattr(self, name)))
        if self.embed_dims % self.num_heads:
            raise ValueError(f'arch embed_dims ({self.embed_dims}) must be divisible by num_heads '
                             f'({self.num_heads})')
        if self.norm_type not in NORM_TYPES:
            raise ValueError(f"arch norm_type must be one of {NORM_TYPES}, got {self.norm_type!r}")
        for name in ('qk_norm', 'qkv_bias'):
            check_bool(f'arch {name}', getattr(self, name))

    def to_dict(self) -> dict:
        return asdict(self)


#: The released InternViTs. ``6b``: InternViT-6B (224 px, ``intern_vit_6b_224px.pth``, also the
#: 48-block ``448px_v1_0``, with ``pretrain_img_size=448``); ``6b-45``: the 448 px V1-2 / V1-5 /
#: V2-5 releases, which dropped the last 3 blocks; ``300m``: InternViT-300M-448px(-V2_5).
ARCHS: Dict[str, InternViTArch] = {
    '6b': InternViTArch(3200, 48, 25, 12800, 'rms_norm', qk_norm=True, qkv_bias=False,
                        pretrain_img_size=224),
    '6b-45': InternViTArch(3200, 45, 25, 12800, 'rms_norm', qk_norm=True, qkv_bias=False,
                           pretrain_img_size=448),
    '300m': InternViTArch(1024, 24, 16, 4096, 'layer_norm', qk_norm=False, qkv_bias=True,
                          pretrain_img_size=448),
}
ARCH_KEYS = tuple(field.name for field in fields(InternViTArch))
REQUIRED_ARCH_KEYS = ('embed_dims', 'num_layers', 'num_heads', 'feedforward_channels')


def resolve_arch(arch: Union[str, Mapping, InternViTArch],
                 pretrain_img_size: Optional[int] = None) -> InternViTArch:
    """An :class:`InternViTArch` from a preset name or a dict of its fields.

    ``pretrain_img_size`` (when given, a positive int) replaces the preset's or the dict's.
    Raises KeyError for an unknown preset or key, or a missing required key (the message lists
    the known ones); TypeError / ValueError for a field of the wrong type or out of range."""
    if pretrain_img_size is not None:
        pretrain_img_size = check_positive_int('pretrain_img_size', pretrain_img_size)
    if isinstance(arch, InternViTArch):
        found = arch
    elif isinstance(arch, str):
        if arch.lower() not in ARCHS:
            raise KeyError(f'unknown InternViT arch {arch!r}; presets: {sorted(ARCHS)} (or a dict '
                           f'with {list(REQUIRED_ARCH_KEYS)} and optionally '
                           f'{[k for k in ARCH_KEYS if k not in REQUIRED_ARCH_KEYS]})')
        found = ARCHS[arch.lower()]
    elif isinstance(arch, Mapping):
        unknown = sorted(set(arch) - set(ARCH_KEYS))
        if unknown:
            raise KeyError(f'unknown InternViT arch key(s) {unknown}; known: {list(ARCH_KEYS)}')
        missing = [key for key in REQUIRED_ARCH_KEYS if key not in arch]
        if missing:
            raise KeyError(f'InternViT arch dict lacks {missing}; required: '
                           f'{list(REQUIRED_ARCH_KEYS)}')
        found = InternViTArch(**dict(arch))
    else:
        raise TypeError(f'arch must be a preset name {sorted(ARCHS)} or a dict, got '
                        f'{type(arch).__name__}')
    if pretrain_img_size is not None and pretrain_img_size != found.pretrain_img_size:
        values = found.to_dict()
        values['pretrain_img_size'] = pretrain_img_size
        found = InternViTArch(**values)
    return found


def block_param_shapes(arch: InternViTArch, index: int) -> 'OrderedDict[str, Tuple[int, ...]]':
    """``{name: shape}`` of block ``index``'s parameters (``blocks.{index}.*``)."""
    c, f = arch.embed_dims, arch.feedforward_channels
    norm = ['weight', 'bias'] if arch.norm_type == 'layer_norm' else ['weight']
    p = f'blocks.{index}.'
    shapes: 'OrderedDict[str, Tuple[int, ...]]' = OrderedDict()
    for part in norm:
        shapes[f'{p}norm1.{part}'] = (c, )
    shapes[f'{p}attn.qkv.weight'] = (3 * c, c)
    if arch.qkv_bias:
        shapes[f'{p}attn.qkv.bias'] = (3 * c, )
    shapes[f'{p}attn.proj.weight'] = (c, c)
    shapes[f'{p}attn.proj.bias'] = (c, )
    if arch.qk_norm:
        shapes[f'{p}attn.q_norm.weight'] = (c, )
        shapes[f'{p}attn.k_norm.weight'] = (c, )
    shapes[f'{p}ls1.gamma'] = (c, )
    for part in norm:
        shapes[f'{p}norm2.{part}'] = (c, )
    shapes[f'{p}mlp.fc1.weight'] = (f, c)
    shapes[f'{p}mlp.fc1.bias'] = (f, )
    shapes[f'{p}mlp.fc2.weight'] = (c, f)
    shapes[f'{p}mlp.fc2.bias'] = (c, )
    shapes[f'{p}ls2.gamma'] = (c, )
    return shapes


def param_shapes(arch: InternViTArch, patch_size: int = 14,
                 in_channels: int = 3) -> 'OrderedDict[str, Tuple[int, ...]]':
    """``{name: shape}`` of every parameter of an InternViT backbone, in InternVL's names and in
    the order the module registers them. Raises ValueError when ``pretrain_img_size`` is not a
    multiple of ``patch_size``."""
    if arch.pretrain_img_size % patch_size:
        raise ValueError(f'pretrain_img_size ({arch.pretrain_img_size}) must be a multiple of '
                         f'patch_size ({patch_size})')
    grid = arch.pretrain_img_size // patch_size
    c = arch.embed_dims
    shapes: 'OrderedDict[str, Tuple[int, ...]]' = OrderedDict()
    shapes['cls_token'] = (1, 1, c)
    shapes['pos_embed'] = (1, grid * grid + 1, c)
    shapes['patch_embed.proj.weight'] = (c, in_channels, patch_size, patch_size)
    shapes['patch_embed.proj.bias'] = (c, )
    for index in range(arch.num_layers):
        shapes.update(block_param_shapes(arch, index))
    return shapes


def count_params(arch: InternViTArch, patch_size: int = 14, in_channels: int = 3) -> int:
    """The number of parameters of the backbone (every tensor of :func:`param_shapes`)."""
    total = 0
    for shape in param_shapes(arch, patch_size, in_channels).values():
        size = 1
        for dim in shape:
            size *= dim
        total += size
    return total
