"""Released InternViT weights -> a checkpoint with :class:`~.internvit.InternViT`'s names.

Three key layouts are read (every fact from the named source; nothing is fetched from a hub):

- ``internvl``: InternVL's own timm-style ``.pth`` files (``intern_vit_6b_224px.pth``,
  ``intern_vit_6b_448px_v1_*.pth``; OpenGVLab/InternVL ``segmentation/mmseg_custom/models/
  backbones/intern_vit_6b.py``): ``cls_token``, ``pos_embed``, ``patch_embed.proj``,
  ``blocks.N.{norm1, attn.qkv, attn.q_norm, attn.k_norm, attn.proj, ls1.gamma, norm2, mlp.fc1,
  mlp.fc2, ls2.gamma}``; the 224 px file also holds ``clip_projector.*`` (InternVL-C's projection,
  not part of the backbone: dropped with a note);
- ``remote_code``: the Hugging Face checkpoints ``OpenGVLab/InternViT-6B-448px-V2_5`` /
  ``InternViT-300M-448px-V2_5`` (and the ``vision_model.`` part of InternVL chat models;
  ``modeling_intern_vit.py``): ``embeddings.{class_embedding, patch_embedding,
  position_embedding}``, ``encoder.layers.N.{attn.qkv, attn.q_norm, attn.k_norm, attn.proj, mlp.fc1,
  mlp.fc2, norm1, norm2, ls1, ls2}``, usually as sharded safetensors with an index;
- ``transformers``: transformers' native ``InternVLVisionModel`` (InternVL3 / 3.5 ``-hf``
  checkpoints, under ``vision_tower.`` or ``model.vision_tower.``;
  ``transformers/models/internvl/modeling_internvl.py``): ``embeddings.{cls_token,
  position_embeddings, patch_embeddings.projection}``, ``encoder.layer.N.{attention.q_proj,
  attention.k_proj, attention.v_proj, attention.projection_layer, attention.q_norm,
  attention.k_norm, layernorm_before, layernorm_after, mlp.fc1, mlp.fc2, lambda_1, lambda_2}``;
  q, k and v are joined into ``qkv`` in that order (transformers' converter splits ``qkv`` rows
  ``[:C]``, ``[C:2C]``, ``[2C:]``: ``convert_internvl_weights_to_hf.py``).

Files (:mod:`.internvit_files`, recognised by their first bytes, not their names): torch's
``.pth`` / ``.pt`` / ``.bin`` (``torch.load`` with ``weights_only=True``, an MMEngine training
checkpoint's types allowed), ``.safetensors``, or a directory with ``model.safetensors.index.json``
/ ``pytorch_model.bin.index.json`` (sharded: each key must be in the shard the index names, every
shard inside the folder) or one ``model.safetensors`` / ``pytorch_model.bin``. A wrapping
``module`` / ``state_dict`` / ``model`` entry and a DDP ``module.`` prefix are removed; in a whole
VLM only the vision part is kept (its prefix ``model.vision_tower.``, ``vision_tower.``,
``model.vision_model.`` or ``vision_model.``). The number of heads, which the weights do not
hold, comes from the folder's ``config.json`` (its ``vision_config`` when it has one).

Nothing is chosen silently. Two file keys that become one name, q / k / v projections that are
not ``(C, C)`` each, two state dicts in one file, a key in two shards are errors naming the keys.
Without an arch, the checkpoint's shape picks the preset (``6b``, ``6b-45``, ``300m``); a
checkpoint with a preset's widths that matches no preset (47 blocks, no QK-norm, ...) is an error
that prints the explicit arch to pass if that is what you have; a width no preset has is converted
as a custom arch, with a note. The output never overwrites a file being read.

The result is checked strictly against the arch (:func:`.internvit_arch.param_shapes`): every
missing, unexpected or mis-shaped key is named in one ``ValueError`` (with the file's own name of a
renamed key); a block count other than the arch's is an error unless ``truncate_to`` asks to keep
the first blocks (InternVL's 448 px V1-2 / V1-5 / V2-5 releases have 45 of InternViT-6B's 48).

Only torch and MMEngine are imported at module level (safetensors inside the functions).
"""
import json
import math
import os
import os.path as osp
import re
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import (TYPE_CHECKING, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple,
                    Union)

import torch

from .._checks import check_positive_int
from .internvit_arch import ARCHS, InternViTArch, param_shapes, resolve_arch
from .internvit_files import (SHARD_INDEXES, SINGLE_FILES, WRAPPING_KEYS, CheckpointFileError,
                              check_destination, find_checkpoint, heads_from_config, listing,
                              load_checkpoint_file, read_tensors, save_atomically,
                              tensor_entries, unwrap_state_dict)

if TYPE_CHECKING:
    from .internvit import InternViT

__all__ = ['LAYOUTS', 'VISION_PREFIXES', 'ConversionResult', 'read_state_dict',
           'select_vision_part', 'detect_layout', 'rename_to_internvl', 'to_internvl_names',
           'infer_arch', 'check_against_arch', 'convert_internvit', 'load_backbone_checkpoint',
           'CheckpointKeyError', 'CheckpointFileError', 'SHARD_INDEXES', 'SINGLE_FILES',
           'WRAPPING_KEYS']

LAYOUTS = ('internvl', 'remote_code', 'transformers')
#: Where the vision encoder sits in a whole VLM's checkpoint (tried in this order).
VISION_PREFIXES = ('model.vision_tower.', 'vision_tower.', 'model.vision_model.',
                   'vision_model.')
#: Keys the released files hold beside the backbone, dropped with a note (prefix -> what it is).
DROPPED_EXTRAS = {
    'clip_projector.': "InternVL-C's CLIP projection head (intern_vit_6b_224px.pth); not part of "
                       'the backbone',
    'embeddings.mask_token': "transformers' masked-image-modelling token (use_mask_token); the "
                             'encoder does not use it for features',
    'layernorm.': "transformers' final LayerNorm (use_mean_pooling=False); InternViT's features "
                  'have none',
}
#: ``meta['converter']`` of the files :func:`convert_internvit` writes.
CONVERTER = 'mmcv_custom.models.internvit_convert'
CONVERTER_TOOL = 'tools/model_converters/internvit.py'

PathLike = Union[str, os.PathLike]


class CheckpointKeyError(ValueError):
    """The checkpoint's keys or shapes do not fit the arch (the message names each key)."""


@dataclass
class ConversionResult:
    """What :func:`convert_internvit` produced: the backbone's ``state_dict``, the layout and
    prefix it was read from, the arch it was checked against, and notes on what was dropped.
    ``num_heads_known``: False when neither the arch, a preset nor ``config.json`` gave the
    number of heads (the weights do not hold it)."""

    state_dict: Dict[str, torch.Tensor]
    layout: str
    prefix: str
    arch: InternViTArch
    arch_name: Optional[str]
    patch_size: int
    notes: List[str] = field(default_factory=list)
    num_heads_known: bool = True

    @property
    def num_params(self) -> int:
        return sum(tensor.numel() for tensor in self.state_dict.values())

    def meta(self, source: str) -> dict:
        """The ``meta`` entry written beside ``state_dict`` (plain types only). ``arch_fields``
        is what the backbone's loader compares with the backbone (``num_heads`` None when it was
        not known)."""
        arch_fields = self.arch.to_dict()
        if not self.num_heads_known:
            arch_fields['num_heads'] = None
        return dict(source=source, layout=self.layout, prefix=self.prefix,
                    arch=self.arch_name or self.arch.to_dict(), arch_fields=arch_fields,
                    patch_size=self.patch_size, pretrain_img_size=self.arch.pretrain_img_size,
                    num_params=self.num_params, notes=list(self.notes), converter=CONVERTER)


# ----- reading -----

def read_state_dict(src: PathLike, trust_pickle: bool = False) -> Tuple[Dict[str, torch.Tensor],
                                                                         List[str]]:
    """``(tensors by key, notes)`` of a checkpoint file or directory (see the module docstring
    for the formats). A wrapping ``module`` / ``state_dict`` / ``model`` entry is unwrapped.

    Raises FileNotFoundError for a missing path or a directory without a known file,
    :class:`CheckpointFileError` (a ValueError naming the file) for a file that cannot be read or
    holds no dict of tensors."""
    return read_tensors(find_checkpoint(src), trust_pickle)


def _normalise_prefix(prefix: Optional[str], what: str) -> Optional[str]:
    if prefix is None or prefix == '':
        return prefix
    if not isinstance(prefix, str):
        raise TypeError(f'{what} must be a str (a key prefix such as \'backbone.\'), got '
                        f'{prefix!r}')
    return prefix if prefix.endswith('.') else prefix + '.'


def select_vision_part(state: Dict[str, torch.Tensor], prefix: Optional[str] = None
                       ) -> Tuple[Dict[str, torch.Tensor], str, List[str]]:
    """The keys of the vision encoder with their prefix removed, the prefix, and notes.

    ``prefix=None`` finds it: a DDP ``module.`` on every key is removed, then the first of
    :data:`VISION_PREFIXES` some key starts with selects the vision part (the rest, e.g.
    ``language_model.*`` and ``mlp1.*``, is dropped and counted in a note); with none, all keys
    are kept. A given ``prefix`` (``''`` for none; ``'vision_model'`` means ``'vision_model.'``)
    must start at least one key (ValueError)."""
    notes: List[str] = []
    prefix = _normalise_prefix(prefix, 'prefix')
    if prefix is None:
        if state and all(key.startswith('module.') for key in state):
            state = {key[len('module.'):]: value for key, value in state.items()}
            notes.append("removed the 'module.' prefix (DDP)")
        prefix = next((p for p in VISION_PREFIXES if any(key.startswith(p) for key in state)), '')
    elif prefix and not any(key.startswith(prefix) for key in state):
        raise ValueError(f'no key starts with prefix {prefix!r}; top-level names: '
                         f'{sorted({key.split(".")[0] for key in state})}')
    if not prefix:
        return dict(state), '', notes
    selected = {key[len(prefix):]: value for key, value in state.items() if key.startswith(prefix)}
    dropped = Counter(key.split('.')[0] for key in state if not key.startswith(prefix))
    if dropped:
        notes.append(f'kept the {len(selected)} keys under {prefix!r}; dropped '
                     + ', '.join(f'{name}.* ({count})' for name, count in sorted(dropped.items())))
    return selected, prefix, notes


def detect_layout(keys: Iterable[str]) -> str:
    """``'internvl'``, ``'remote_code'`` or ``'transformers'`` from the key names. Raises
    ValueError naming some keys when none fits."""
    keys = list(keys)
    if any(key.startswith(('blocks.', 'patch_embed.')) or key in ('cls_token', 'pos_embed')
           for key in keys):
        return 'internvl'
    if any(key.startswith('encoder.layers.') or key.startswith('embeddings.class_embedding')
           for key in keys):
        return 'remote_code'
    if any(key.startswith('encoder.layer.') or key.startswith('embeddings.cls_token')
           for key in keys):
        return 'transformers'
    raise ValueError(
        'not an InternViT checkpoint in a known layout: expected InternVL\'s blocks.N.* / '
        'patch_embed.*, the remote code\'s embeddings.class_embedding / encoder.layers.N.*, or '
        "transformers' embeddings.cls_token / encoder.layer.N.* (optionally under "
        f'{list(VISION_PREFIXES)}); first keys: {listing(sorted(keys))}')


# ----- renaming -----

_REMOTE_RULES = (
    (r'^embeddings\.class_embedding$', 'cls_token'),
    (r'^embeddings\.position_embedding$', 'pos_embed'),
    (r'^embeddings\.patch_embedding\.', 'patch_embed.proj.'),
    (r'^encoder\.layers\.(\d+)\.ls([12])$', r'blocks.\1.ls\2.gamma'),
    (r'^encoder\.layers\.(\d+)\.', r'blocks.\1.'),
)
_NATIVE_RULES = (
    (r'^embeddings\.cls_token$', 'cls_token'),
    (r'^embeddings\.position_embeddings$', 'pos_embed'),
    (r'^embeddings\.patch_embeddings\.projection\.', 'patch_embed.proj.'),
    (r'^encoder\.layer\.(\d+)\.lambda_([12])$', r'blocks.\1.ls\2.gamma'),
    (r'^encoder\.layer\.(\d+)\.layernorm_before\.', r'blocks.\1.norm1.'),
    (r'^encoder\.layer\.(\d+)\.layernorm_after\.', r'blocks.\1.norm2.'),
    (r'^encoder\.layer\.(\d+)\.attention\.projection_layer\.', r'blocks.\1.attn.proj.'),
    (r'^encoder\.layer\.(\d+)\.attention\.([qk])_norm\.', r'blocks.\1.attn.\2_norm.'),
    (r'^encoder\.layer\.(\d+)\.mlp\.', r'blocks.\1.mlp.'),
)
_NATIVE_QKV = re.compile(r'^encoder\.layer\.(\d+)\.attention\.([qkv])_proj\.(weight|bias)$')


def _rename(key: str, rules: Sequence[Tuple[str, str]]) -> str:
    for pattern, replacement in rules:
        new, count = re.subn(pattern, replacement, key)
        if count:
            return new
    return key


def _qkv_width(state: Mapping[str, torch.Tensor]) -> Tuple[Optional[int], str]:
    cls_token = state.get('embeddings.cls_token')
    if isinstance(cls_token, torch.Tensor) and cls_token.dim():
        return int(cls_token.shape[-1]), 'the width of embeddings.cls_token'
    return None, ''


def _join_qkv(block: str, kind: str, parts: Dict[str, torch.Tensor], width: Optional[int],
              source: str) -> torch.Tensor:
    """``cat([q, k, v])`` after checking each part is ``(C, C)`` (bias ``(C,)``)."""
    names = {p: f'encoder.layer.{block}.attention.{p}_proj.{kind}' for p in 'qkv'}
    missing = [names[p] for p in 'qkv' if p not in parts]
    if missing:
        raise CheckpointKeyError(
            f'block {block}: attention.{{q,k,v}}_proj.{kind} incomplete, missing {missing}')
    if width is None:  # no class token to read the width from: q's input width
        width = int(parts['q'].shape[-1]) if parts['q'].dim() else 0
        source = f'the input width of {names["q"]}'
    expected = (width, width) if kind == 'weight' else (width, )
    for p in 'qkv':
        if tuple(parts[p].shape) != expected:
            raise CheckpointKeyError(
                f'{names[p]} has shape {tuple(parts[p].shape)}, expected {expected} ({source}): '
                f'q, k and v are each {expected} and are joined, rows q, k, v, into '
                f'blocks.{block}.attn.qkv.{kind}')
    return torch.cat([parts['q'], parts['k'], parts['v']], 0)


def rename_to_internvl(state: Dict[str, torch.Tensor], layout: str
                       ) -> Tuple[Dict[str, torch.Tensor], Dict[str, str], List[str]]:
    """``(tensors under InternVL's timm-style names, {new name: the file's name}, notes)``.

    Keys of :data:`DROPPED_EXTRAS` are dropped (noted); keys a layout's rules do not know keep
    their name (the strict check names them). ``transformers`` q/k/v projections are joined into
    ``qkv`` (rows q, k, v) after each is checked to be ``(C, C)`` (bias ``(C,)``), C the width
    of ``embeddings.cls_token``. :class:`CheckpointKeyError` names a missing or mis-shaped
    q / k / v, and two file keys that would become one name (e.g. the remote code's
    ``encoder.layers.0.ls1`` beside an ``encoder.layers.0.ls1.gamma``)."""
    if layout not in LAYOUTS:
        raise ValueError(f'layout must be one of {LAYOUTS}, got {layout!r}')
    notes: List[str] = []
    out: Dict[str, torch.Tensor] = {}
    origins: Dict[str, str] = {}
    dropped: Dict[str, List[str]] = {}
    qkv_parts: Dict[Tuple[str, str], Dict[str, torch.Tensor]] = {}

    def put(name: str, tensor: torch.Tensor, source: str) -> None:
        if name in out:
            raise CheckpointKeyError(
                f'{origins[name]} and {source} both become {name}: the file holds that tensor '
                'twice, under two names, and which one is meant cannot be told; remove one of '
                'them from the file')
        out[name] = tensor
        origins[name] = source

    for key, tensor in state.items():
        extra = next((p for p in DROPPED_EXTRAS if key.startswith(p)), None)
        if extra is not None:
            dropped.setdefault(extra, []).append(key)
            continue
        if layout == 'remote_code':
            put(_rename(key, _REMOTE_RULES), tensor, key)
        elif layout == 'transformers':
            match = _NATIVE_QKV.match(key)
            if match:
                qkv_parts.setdefault((match.group(1), match.group(3)), {})[match.group(2)] = tensor
            else:
                put(_rename(key, _NATIVE_RULES), tensor, key)
        else:
            put(key, tensor, key)
    width, source = _qkv_width(state)
    for (block, kind), parts in sorted(qkv_parts.items(), key=lambda item: int(item[0][0])):
        block_width, block_source = width, source
        q_weight = qkv_parts.get((block, 'weight'), {}).get('q')
        if block_width is None and kind == 'bias' and q_weight is not None and q_weight.dim():
            block_width = int(q_weight.shape[-1])
            block_source = f'the input width of encoder.layer.{block}.attention.q_proj.weight'
        put(f'blocks.{block}.attn.qkv.{kind}',
            _join_qkv(block, kind, parts, block_width, block_source),
            f'encoder.layer.{block}.attention.{{q,k,v}}_proj.{kind}')
    if qkv_parts:
        notes.append(f'joined q_proj, k_proj, v_proj into attn.qkv (rows q, k, v) in '
                     f'{len({block for block, _ in qkv_parts})} blocks')
    for extra, keys in dropped.items():
        notes.append(f'dropped {len(keys)} key(s) {extra}* ({DROPPED_EXTRAS[extra]})')
    return out, origins, notes


def to_internvl_names(state: Dict[str, torch.Tensor], layout: str
                      ) -> Tuple[Dict[str, torch.Tensor], List[str]]:
    """:func:`rename_to_internvl` without the record of the file's names: ``(tensors, notes)``."""
    out, _, notes = rename_to_internvl(state, layout)
    return out, notes


# ----- checking -----

_BLOCK_KEY = re.compile(r'blocks\.(\d+)\.(.+)$')


def _num_blocks(state: Mapping[str, torch.Tensor]) -> int:
    indices = {int(m.group(1)) for key in state for m in [_BLOCK_KEY.match(key)] if m}
    return max(indices) + 1 if indices else 0


def _named(key: str, origins: Optional[Mapping[str, str]]) -> str:
    """``key``, with the file's own name when the converter renamed it."""
    origin = (origins or {}).get(key)
    return key if origin in (None, key) else f'{key} ({origin} in the file)'


def _most_blocks_have(state: Mapping[str, torch.Tensor], suffixes: Sequence[str],
                      num_blocks: int) -> bool:
    """Whether at least half of the ``blocks.N.<suffix>`` keys the blocks would have are there
    (so one missing or one stray key is reported as that key, not as a different arch)."""
    count = sum(1 for key in state for m in [_BLOCK_KEY.match(key)] if m and m.group(2) in suffixes)
    return count > 0 and 2 * count >= len(suffixes) * num_blocks


def infer_arch(state: Mapping[str, torch.Tensor], num_heads: Optional[int] = None,
               origins: Optional[Mapping[str, str]] = None) -> Tuple[InternViTArch, int]:
    """``(arch, patch_size)`` read from InternVL-named tensors' shapes: width, blocks, MLP width,
    norm type (``norm1`` / ``norm2`` biases mean LayerNorm), QK-norm, qkv bias, pretraining grid.
    Norms, QK-norm and qkv bias are read from all blocks (present in at least half of them), so
    one missing or stray key is named as such by the strict check. The number of heads is not in
    the weights: ``num_heads`` when given (a Hugging Face ``config.json``), else the preset's of
    the same width (25 for 3200, 16 for 1024), else 1 (the conversion does not depend on it).
    Raises CheckpointKeyError when the embeddings are missing or are not shaped as embeddings."""
    needed = ('cls_token', 'pos_embed', 'patch_embed.proj.weight')
    missing = [_named(key, origins) for key in needed if key not in state]
    if missing:
        raise CheckpointKeyError(f'cannot read the arch: missing {missing}')
    cls_token, pos_embed = state['cls_token'], state['pos_embed']
    patch = state['patch_embed.proj.weight']
    if cls_token.dim() != 3 or tuple(cls_token.shape[:2]) != (1, 1):
        raise CheckpointKeyError(f'{_named("cls_token", origins)} has shape '
                                 f'{tuple(cls_token.shape)}; expected (1, 1, width)')
    width = int(cls_token.shape[-1])
    if patch.dim() != 4 or patch.shape[-1] != patch.shape[-2]:
        raise CheckpointKeyError(
            f'{_named("patch_embed.proj.weight", origins)} has shape {tuple(patch.shape)}; '
            'expected (width, in_channels, patch_size, patch_size)')
    if pos_embed.dim() != 3 or pos_embed.shape[0] != 1:
        raise CheckpointKeyError(
            f'{_named("pos_embed", origins)} has shape {tuple(pos_embed.shape)}; expected '
            f'(1, 1 + grid * grid, {width}): the class position, then the patch positions')
    patch_size = int(patch.shape[-1])
    positions = pos_embed.shape[1] - 1
    grid = math.isqrt(positions)
    if positions < 1 or grid * grid != positions:
        raise CheckpointKeyError(f'{_named("pos_embed", origins)} holds {positions} patch '
                                 'positions after the class position, not a square grid')
    blocks = _num_blocks(state)
    fc1 = next((state[f'blocks.{i}.mlp.fc1.weight'] for i in range(blocks)
                if f'blocks.{i}.mlp.fc1.weight' in state), None)
    if fc1 is None or fc1.dim() != 2:
        raise CheckpointKeyError('cannot read the MLP width: no blocks.N.mlp.fc1.weight of shape '
                                 '(mlp width, width)' + (f' (found {tuple(fc1.shape)})' if
                                                         fc1 is not None else ''))
    heads = num_heads or next((a.num_heads for a in ARCHS.values() if a.embed_dims == width), 1)
    if width % heads:
        raise CheckpointKeyError(f'num_heads={heads} does not divide the width {width} of the '
                                 'weights')
    arch = InternViTArch(
        embed_dims=width, num_layers=blocks, num_heads=heads,
        feedforward_channels=int(fc1.shape[0]),
        norm_type='layer_norm' if _most_blocks_have(state, ('norm1.bias', 'norm2.bias'),
                                                    blocks) else 'rms_norm',
        qk_norm=_most_blocks_have(state, ('attn.q_norm.weight', 'attn.k_norm.weight'), blocks),
        qkv_bias=_most_blocks_have(state, ('attn.qkv.bias', ), blocks),
        pretrain_img_size=grid * patch_size)
    return arch, patch_size


def _same_family(a: InternViTArch, b: InternViTArch) -> bool:
    return (a.embed_dims, a.feedforward_channels, a.norm_type, a.qk_norm, a.qkv_bias) == (
        b.embed_dims, b.feedforward_channels, b.norm_type, b.qk_norm, b.qkv_bias)


def _same_widths(a: InternViTArch, b: InternViTArch) -> bool:
    return (a.embed_dims, a.feedforward_channels) == (b.embed_dims, b.feedforward_channels)


def _shape_hints(state: Mapping[str, torch.Tensor], mis_shaped: Sequence[str], patch_size: int,
                 in_channels: int) -> List[str]:
    """What to set in the backbone for a mis-shaped patch embedding or position embedding."""
    hints = []
    patch = state.get('patch_embed.proj.weight')
    file_patch = patch_size
    if 'patch_embed.proj.weight' in mis_shaped and patch is not None and patch.dim() == 4:
        if patch.shape[-1] == patch.shape[-2] and patch.shape[-1] != patch_size:
            file_patch = int(patch.shape[-1])
            hints.append(f'  patch_embed.proj is {file_patch}x{file_patch}: set '
                         f'patch_size={file_patch} in the backbone')
        if patch.shape[1] != in_channels:
            hints.append(f'  patch_embed.proj takes {patch.shape[1]} input channels: set '
                         f'in_channels={patch.shape[1]} in the backbone')
    pos_embed = state.get('pos_embed')
    if 'pos_embed' in mis_shaped and pos_embed is not None:
        positions = pos_embed.shape[1] - 1 if pos_embed.dim() == 3 else -1
        grid = math.isqrt(positions) if positions > 0 else 0
        if grid and grid * grid == positions:
            hints.append(f'  pos_embed is a {grid}x{grid} grid: set pretrain_img_size='
                         f'{grid * file_patch} in the backbone')
        else:
            hints.append(f'  pos_embed has shape {tuple(pos_embed.shape)}: not (1, 1 + grid * '
                         'grid, width), the layout InternViT uses')
    return hints


def check_against_arch(state: Dict[str, torch.Tensor], arch: InternViTArch, patch_size: int = 14,
                       in_channels: int = 3, origins: Optional[Mapping[str, str]] = None,
                       hints: Sequence[str] = ()) -> None:
    """Raise :class:`CheckpointKeyError` naming every missing, unexpected and mis-shaped key of
    ``state`` against :func:`param_shapes` of ``arch`` (with the file's own name of a renamed
    key, from ``origins``), and what to set where that can be told; ``hints`` are added lines."""
    expected = param_shapes(arch, patch_size, in_channels)
    missing = [key for key in expected if key not in state]
    unexpected = sorted(key for key in state if key not in expected)
    mis_shaped = [key for key, shape in expected.items()
                  if key in state and tuple(state[key].shape) != tuple(shape)]
    if not (missing or unexpected or mis_shaped):
        return
    lines = [f'the checkpoint does not fit InternViT arch {arch.to_dict()} '
             f'(patch_size={patch_size}):']
    if missing:
        lines.append(f'  missing ({len(missing)}): {listing(missing)}')
    if unexpected:
        lines.append(f'  unexpected ({len(unexpected)}): '
                     f'{listing([_named(key, origins) for key in unexpected])}')
    if mis_shaped:
        shown = [f'{_named(key, origins)}: checkpoint {tuple(state[key].shape)}, model '
                 f'{tuple(expected[key])}' for key in mis_shaped]
        lines.append(f'  different shapes ({len(mis_shaped)}): {listing(shown)}')
    if any(key.startswith(('embeddings.', 'encoder.')) for key in unexpected):
        lines.append('  keys in a Hugging Face layout: convert the file with '
                     f'{CONVERTER_TOOL} first')
    extras = sorted({prefix for prefix in DROPPED_EXTRAS for key in unexpected
                     if key.startswith(prefix)})
    for prefix in extras:
        lines.append(f'  {prefix}* is {DROPPED_EXTRAS[prefix]}: convert the file with '
                     f'{CONVERTER_TOOL} first, which drops it with a note')
    lines += _shape_hints(state, mis_shaped, patch_size, in_channels)
    lines += list(hints)
    raise CheckpointKeyError('\n'.join(lines))


# ----- choosing the arch -----

def _shape_fields(arch: InternViTArch) -> dict:
    """The arch's fields but the grid (which the converter always takes from the checkpoint)."""
    return {k: v for k, v in arch.to_dict().items() if k != 'pretrain_img_size'}


def _arch_as_json(arch: InternViTArch) -> str:
    return json.dumps(_shape_fields(arch))


def _matches_no_preset(found: InternViTArch, blocks: int,
                       same_width: Sequence[Tuple[str, InternViTArch]],
                       config_heads: Optional[int]) -> CheckpointKeyError:
    """The error for a checkpoint with a preset's widths that matches none of them."""
    heads = config_heads or same_width[0][1].num_heads
    differences = []
    for name, preset in same_width:
        diff = [f'{blocks} blocks (preset: {preset.num_layers})'] if (
            preset.num_layers != blocks) else []
        diff += [f'{key}={getattr(found, key)!r} (preset: {getattr(preset, key)!r})'
                 for key in ('norm_type', 'qk_norm', 'qkv_bias')
                 if getattr(found, key) != getattr(preset, key)]
        differences.append(f'{name!r}: {", ".join(diff)}')
    custom = replace(found, num_layers=blocks, num_heads=heads)
    deeper = [f'{name!r} ({preset.num_layers} blocks)' for name, preset in same_width
              if _same_family(preset, found) and preset.num_layers < blocks]
    return CheckpointKeyError(
        f'the checkpoint has the widths of preset {same_width[0][0]!r} (embed_dims '
        f'{found.embed_dims}, MLP {found.feedforward_channels}) but matches no preset; it differs '
        f'from {"; ".join(differences)}. No released InternViT has this shape, so it is not '
        'converted as one. If it is what you mean to convert, give its arch explicitly: '
        f'arch=dict({", ".join(f"{k}={v!r}" for k, v in _shape_fields(custom).items())}) '
        '(command line: '
        f"--arch '{_arch_as_json(custom)}'; num_heads={heads} is "
        + ('the config.json value' if config_heads else "the preset's: check your model's "
           'config')
        + ')'
        + (f'. To keep the first blocks of a deeper file, pass truncate_to (--truncate-to) with '
           f'the block count of {" or ".join(deeper)}' if deeper else ''))


def _resolve_target(found: InternViTArch, arch: Union[None, str, Mapping, InternViTArch],
                    truncate_to: Optional[int], config_heads: Optional[int], config_where: str
                    ) -> Tuple[InternViTArch, Optional[str], bool, List[str]]:
    """``(arch to check against, preset name or None, whether num_heads is known, notes)``:
    the given arch, or the preset of the checkpoint's shape (with ``truncate_to`` blocks when
    given), or, for a width no preset has, the checkpoint's own shape; the checkpoint's
    pretraining grid either way."""
    notes: List[str] = []
    if config_heads is not None and found.embed_dims % config_heads:
        raise CheckpointKeyError(f'{config_where} is {config_heads}, which does not divide the '
                                 f'width {found.embed_dims} of the weights')
    if arch is not None:
        given = arch.get('pretrain_img_size') if isinstance(arch, Mapping) else None
        if given is not None and given != found.pretrain_img_size:
            raise CheckpointKeyError(
                f'arch pretrain_img_size={given!r}, but the checkpoint\'s position embedding is '
                f'for {found.pretrain_img_size} px: set pretrain_img_size='
                f'{found.pretrain_img_size} in the arch, or leave it out (the converter takes '
                'the grid from the checkpoint)')
        target = resolve_arch(arch, found.pretrain_img_size)
        if config_heads is not None and config_heads != target.num_heads:
            raise CheckpointKeyError(
                f'{config_where} is {config_heads}, the arch has num_heads={target.num_heads}: '
                f'set num_heads={config_heads} in the arch (the model\'s own config), or remove '
                'config.json from the folder if it belongs to another model')
        return target, arch.lower() if isinstance(arch, str) else None, True, notes
    blocks = truncate_to or found.num_layers
    same_width = [(name, preset) for name, preset in ARCHS.items()
                  if _same_widths(preset, found)]
    exact = [(name, preset) for name, preset in same_width
             if _same_family(preset, found) and preset.num_layers == blocks]
    if exact:
        name, preset = exact[0]
        if config_heads is not None and config_heads != preset.num_heads:
            raise CheckpointKeyError(
                f'{config_where} is {config_heads}, but the checkpoint has the shape of preset '
                f'{name!r}, which has {preset.num_heads} heads: give the arch explicitly, '
                f"--arch '{_arch_as_json(replace(preset, num_heads=config_heads))}'")
        return resolve_arch(preset, found.pretrain_img_size), name, True, notes
    if same_width:
        raise _matches_no_preset(found, blocks, same_width, config_heads)
    heads = config_heads or 1
    custom = replace(found, num_layers=blocks, num_heads=heads)
    notes.append(f'custom arch: the checkpoint matches no preset ({", ".join(sorted(ARCHS))}; '
                 f'no released InternViT has width {found.embed_dims} with MLP '
                 f'{found.feedforward_channels}): converted as '
                 f'{custom.to_dict()}')
    if config_heads is None:
        notes.append('the number of heads is not stored in the weights and no config.json gives '
                     f'it: set arch num_heads yourself (written as {heads}, recorded as unknown)')
    return custom, None, config_heads is not None, notes


def _truncate(state: Dict[str, torch.Tensor], keep: int) -> Dict[str, torch.Tensor]:
    out = {}
    for key, value in state.items():
        match = _BLOCK_KEY.match(key)
        if match and int(match.group(1)) >= keep:
            continue
        out[key] = value
    return out


def _presets_with(found: InternViTArch, blocks: int) -> str:
    names = [name for name, preset in ARCHS.items()
             if _same_family(preset, found) and preset.num_layers == blocks]
    return f" (preset {names[0]!r})" if names else ''


_DTYPES = {'float32': torch.float32, 'bfloat16': torch.bfloat16, 'float16': torch.float16}


def convert_internvit(src: PathLike, dst: Optional[PathLike] = None,
                      arch: Union[None, str, Mapping, InternViTArch] = None,
                      truncate_to: Optional[int] = None, prefix: Optional[str] = None,
                      dtype: Optional[str] = None, trust_pickle: bool = False) -> ConversionResult:
    """Read ``src`` (file or directory), rename to InternVL's names, check strictly against the
    arch and, with ``dst``, save ``{'state_dict': ..., 'meta': ...}`` (``torch.save``) that
    ``InternViT(init_cfg=dict(type='Pretrained', checkpoint=dst))`` loads.

    Args:
        src: the released file or Hugging Face folder.
        dst: where to write (its folder is created; written to a temporary file, then renamed);
            None only converts and checks. It must not be a directory or one of the files read
            (the same path, a link or a second name of it): refused before anything is read.
        arch: a preset name, dict or :class:`InternViTArch`; None picks the preset of the
            checkpoint's widths, norms and block count (``truncate_to`` blocks when given). A
            checkpoint with a preset's widths that matches no preset is refused (the message
            gives the dict to pass); a width no preset has is converted as its own shape, with a
            note. The position-embedding grid always comes from the checkpoint (a dict's
            ``pretrain_img_size`` must agree with it).
        truncate_to: keep only the first ``truncate_to`` blocks (a positive int: the arch's block
            count, fewer than the checkpoint's).
        prefix: the vision part's prefix (``''`` for none; a missing final dot is added); None
            finds it.
        dtype: ``'float32'``, ``'bfloat16'`` or ``'float16'`` to cast every tensor; None keeps
            the file's.
        trust_pickle: ``torch.load`` with ``weights_only=False`` (only for files you trust).

    Raises:
        CheckpointKeyError: keys or shapes that do not fit the arch, each named; a block count
            that differs from the arch's without ``truncate_to``; a shape that matches no preset
            without an explicit arch.
        CheckpointFileError: a file that cannot be read, or ``dst`` that is a source file or a
            directory (each named).
        ValueError: unknown layout, bad ``truncate_to`` or ``dtype``.
    """
    if dtype is not None and dtype not in _DTYPES:
        raise ValueError(f'dtype must be one of {sorted(_DTYPES)} or None, got {dtype!r}')
    if truncate_to is not None:
        truncate_to = check_positive_int('truncate_to', truncate_to)
    source = find_checkpoint(src)
    if dst is not None:
        check_destination(dst, source)
    state, notes = read_tensors(source, trust_pickle)
    state, found_prefix, more = select_vision_part(state, prefix)
    notes += more
    layout = detect_layout(state)
    state, origins, more = rename_to_internvl(state, layout)
    notes += more
    heads, where = None, ''
    if source.config is not None:
        heads, where, more = heads_from_config(source.config)
        notes += more
    found, patch_size = infer_arch(state, origins=origins)  # heads: _resolve_target's
    blocks = found.num_layers
    if truncate_to is not None and truncate_to > blocks:
        raise ValueError(
            f'truncate_to={truncate_to} asks for the first {truncate_to} blocks, but the '
            f'checkpoint has only {blocks} (blocks.0-{blocks - 1}): truncation drops blocks, it '
            'cannot add any. Leave truncate_to out'
            + (f' and use an arch with {blocks} blocks{_presets_with(found, blocks)}'
               if arch is not None else ''))
    target, name, heads_known, more = _resolve_target(found, arch, truncate_to, heads, where)
    notes += more
    if truncate_to is not None:
        if truncate_to != target.num_layers:
            raise ValueError(f'truncate_to={truncate_to} must equal the arch\'s block count '
                             f'({target.num_layers}); choose the arch with {truncate_to} blocks'
                             f'{_presets_with(found, truncate_to)}')
        if truncate_to == blocks:
            raise ValueError(f'truncate_to={truncate_to} keeps all {blocks} blocks of the '
                             'checkpoint; leave it out')
        state = _truncate(state, truncate_to)
        notes.append(f'kept blocks 0-{truncate_to - 1} of {blocks} (truncate_to={truncate_to}); '
                     f'dropped blocks {truncate_to}-{blocks - 1}')
    elif blocks != target.num_layers:
        hint = (f'pass truncate_to={target.num_layers} (--truncate-to {target.num_layers}) to keep '
                f'its first {target.num_layers} blocks, as InternVL\'s 448 px V1-2 / V1-5 / V2-5 '
                'releases did, or choose an arch with '
                f'{blocks} blocks') if blocks > target.num_layers else (
                    f'choose an arch with {blocks} blocks')
        raise CheckpointKeyError(
            f'the checkpoint has {blocks} blocks (blocks.0-{blocks - 1}), arch '
            f'{name or target.to_dict()} has {target.num_layers}: {hint}'
            f'{_presets_with(found, blocks)}')
    check_against_arch(state, target, patch_size, origins=origins)
    preset = ARCHS.get(name) if name else None
    if preset is not None and preset.pretrain_img_size != target.pretrain_img_size:
        notes.append(f"the position embedding is at {target.pretrain_img_size} px: build the "
                     f"backbone with arch={name!r}, pretrain_img_size={target.pretrain_img_size}")
    ordered = {key: state[key] for key in param_shapes(target, patch_size)}
    if dtype is not None:
        ordered = {key: value.to(_DTYPES[dtype]) for key, value in ordered.items()}
    result = ConversionResult(ordered, layout, found_prefix, target, name, patch_size, notes,
                              heads_known)
    if dst is not None:
        save_atomically(dict(state_dict={k: v.contiguous() for k, v in ordered.items()},
                             meta=result.meta(os.fspath(src))), dst)
    return result


# ----- loading into the backbone -----

_INIT_PICKLE_ADVICE = (
    "init_cfg loads with weights_only=True only. If you trust the file, convert it once: "
    f'python {CONVERTER_TOOL} PATH NEW.pth --trust-pickle [--prefix backbone.], and give NEW.pth')


def _prefix_hint(state: Mapping[str, torch.Tensor]) -> List[str]:
    """Where a backbone's keys lie in a bigger model's checkpoint (a segmentor's ``backbone.``)."""
    found = sorted({key[:-len(name)] for key in state for name in ('cls_token', 'pos_embed')
                    if key.endswith('.' + name)})
    return [f"  the backbone's keys are under {found[0]!r} ({found[0]}pos_embed, ...): set "
            f"init_cfg prefix={found[0]!r}"] if found else []


def _check_arch_fields(meta: object, arch: InternViTArch, path: str) -> None:
    """CheckpointKeyError when a converter output records arch fields (``meta.arch_fields``)
    that differ from the backbone's: the weights' shapes agree, but ``num_heads`` is not in
    them."""
    if not (isinstance(meta, Mapping) and meta.get('converter') == CONVERTER
            and isinstance(meta.get('arch_fields'), Mapping)):
        return
    recorded = meta['arch_fields']
    wrong = [(key, recorded[key], value) for key, value in arch.to_dict().items()
             if recorded.get(key) is not None and recorded[key] != value]
    if wrong:
        raise CheckpointKeyError(
            f'{path} was converted for an InternViT with '
            + ', '.join(f'{key}={was!r}' for key, was, _ in wrong)
            + ' (its meta.arch_fields); this backbone has '
            + ', '.join(f'{key}={now!r}' for key, _, now in wrong)
            + ': set ' + ', '.join(f'arch {key}={was!r}' for key, was, _ in wrong)
            + ' in the backbone (the weights were trained with it), or convert the source '
            'again with the right arch if the recorded value is wrong')


def load_backbone_checkpoint(model: 'InternViT', path: PathLike, prefix: Optional[str] = None
                             ) -> None:
    """Load ``path`` into ``model`` (an :class:`~.internvit.InternViT`) strictly.

    The file is a converter output (``{'state_dict', 'meta'}``: the arch fields it records,
    ``num_heads`` included, must be the backbone's), an MMEngine training checkpoint (its types
    are allowed; weights only) or any dict of tensors with the backbone's names; a wrapping
    ``module`` / ``state_dict`` / ``model`` entry is unwrapped (logged). ``prefix`` (e.g.
    ``'backbone.'``; a missing final dot is added) selects and strips a sub-dict of a trained
    model's checkpoint. Raises :class:`CheckpointKeyError` naming every missing, unexpected or
    mis-shaped key, with what to change (convert first, set ``prefix``, ``pretrain_img_size`` or
    ``patch_size``); :class:`CheckpointFileError` for a file that cannot be read; RuntimeError
    for a model on the ``meta`` device (nothing could be copied into it)."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f'InternViT init_cfg checkpoint must be the path of a file written by '
                        f'{CONVERTER_TOOL}, got {path!r}')
    path = os.fspath(path)
    if '://' in path:
        raise ValueError(f'InternViT init_cfg checkpoint {path} is a URL: this loader reads local '
                         'files only (nothing is downloaded); fetch the file, convert it with '
                         f'{CONVERTER_TOOL} and give its path')
    if not osp.exists(path):
        raise FileNotFoundError(
            f'InternViT init_cfg checkpoint {path} does not exist; write it with '
            f'{CONVERTER_TOOL} SRC DST from the released weights')
    if osp.isdir(path):
        raise CheckpointFileError(f'InternViT init_cfg checkpoint {path} is a directory: convert '
                                  f'it once with {CONVERTER_TOOL} {path} NEW.pth and give NEW.pth')
    on_meta = [name for name, param in model.named_parameters() if param.is_meta]
    if on_meta:
        raise RuntimeError(
            f'InternViT init_cfg: the backbone is on the meta device ({on_meta[0]} and '
            f'{len(on_meta) - 1} more have no storage), so {path} cannot be loaded into it. '
            'Materialise it first (model.to_empty(device=...)), then call init_weights()')
    loaded, notes = load_checkpoint_file(path, pickle_advice=_INIT_PICKLE_ADVICE)
    state, more = unwrap_state_dict(loaded, path)
    notes += more
    prefix = _normalise_prefix(prefix, 'InternViT init_cfg prefix')
    if prefix:
        chosen = {key[len(prefix):]: value for key, value in state.items()
                  if key.startswith(prefix)}
        if not chosen:
            raise CheckpointKeyError(
                '\n'.join([f'no key of {path} starts with prefix {prefix!r}; top-level names: '
                           f'{sorted({key.split(".")[0] for key in state})}']
                          + _prefix_hint(state)))
        state = chosen
    tensors, more = tensor_entries(state)
    notes += more
    hints = [] if prefix or 'pos_embed' in tensors else _prefix_hint(tensors)
    try:
        check_against_arch(tensors, model.arch, model.patch_size,
                           model.patch_embed.proj.weight.shape[1], hints=hints)
    except CheckpointKeyError as error:
        raise CheckpointKeyError(f'{path}: {error}') from None
    _check_arch_fields(loaded.get('meta') if isinstance(loaded, Mapping) else None, model.arch,
                       path)
    model.load_state_dict(tensors, strict=True)
    from mmengine.logging import MMLogger
    logger = MMLogger.get_current_instance()
    for note in notes:
        logger.info(f'InternViT: {note}')
    logger.info(f'InternViT: loaded all {len(tensors)} tensors of {path}'
                + (f" (prefix {prefix!r})" if prefix else '') + ' (strict)')
