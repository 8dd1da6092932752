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

Files: ``.pth`` / ``.pt`` / ``.bin`` (``torch.load`` with ``weights_only=True``), ``.safetensors``,
or a directory with ``model.safetensors.index.json`` / ``pytorch_model.bin.index.json`` (sharded)
or one ``model.safetensors`` / ``pytorch_model.bin``. A wrapping ``module`` / ``state_dict`` /
``model`` entry and a DDP ``module.`` prefix are removed; in a whole VLM only the vision part is
kept (its prefix ``model.vision_tower.``, ``vision_tower.``, ``model.vision_model.`` or
``vision_model.``).

The result is checked strictly against the arch (:func:`.internvit_arch.param_shapes`): every
missing, unexpected or mis-shaped key is named in one ``ValueError``; a block count other than the
arch's is an error unless ``truncate_to`` asks to keep the first blocks (InternVL's 448 px V1-2 /
V1-5 / V2-5 releases have 45 of InternViT-6B's 48).

Only torch and MMEngine are imported at module level (safetensors inside the functions).
"""
import json
import math
import os
import os.path as osp
import pickle
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import torch
from torch import nn

from .internvit_arch import ARCHS, InternViTArch, param_shapes, resolve_arch

__all__ = ['LAYOUTS', 'VISION_PREFIXES', 'ConversionResult', 'read_state_dict',
           'select_vision_part', 'detect_layout', 'to_internvl_names', 'infer_arch',
           'check_against_arch', 'convert_internvit', 'load_backbone_checkpoint',
           'CheckpointKeyError']

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
SHARD_INDEXES = ('model.safetensors.index.json', 'pytorch_model.bin.index.json')
SINGLE_FILES = ('model.safetensors', 'pytorch_model.bin')
WRAPPING_KEYS = ('module', 'state_dict', 'model')
#: Names listed per kind in an error before "... and N more".
LISTED = 20

PathLike = Union[str, os.PathLike]


class CheckpointKeyError(ValueError):
    """The checkpoint's keys or shapes do not fit the arch (the message names each key)."""


@dataclass
class ConversionResult:
    """What :func:`convert_internvit` produced: the backbone's ``state_dict``, the layout and
    prefix it was read from, the arch it was checked against, and notes on what was dropped."""

    state_dict: Dict[str, torch.Tensor]
    layout: str
    prefix: str
    arch: InternViTArch
    arch_name: Optional[str]
    patch_size: int
    notes: List[str] = field(default_factory=list)

    @property
    def num_params(self) -> int:
        return sum(tensor.numel() for tensor in self.state_dict.values())

    def meta(self, source: str) -> dict:
        """The ``meta`` entry written beside ``state_dict`` (plain types only)."""
        return dict(source=source, layout=self.layout, prefix=self.prefix,
                    arch=self.arch_name or self.arch.to_dict(), arch_fields=self.arch.to_dict(),
                    patch_size=self.patch_size, pretrain_img_size=self.arch.pretrain_img_size,
                    num_params=self.num_params, notes=list(self.notes),
                    converter='mmcv_custom.models.internvit_convert')


# ----- reading files -----

def _load_torch_file(path: str, trust_pickle: bool) -> dict:
    options = dict(map_location='cpu', weights_only=not trust_pickle)
    try:
        try:
            return torch.load(path, mmap=True, **options)
        except RuntimeError as error:  # a file in torch's legacy (non-zip) format
            if 'mmap' not in str(error):
                raise
            return torch.load(path, **options)
    except pickle.UnpicklingError as error:
        if trust_pickle:
            raise
        found = re.search(r'Unsupported global: GLOBAL (\S+)', str(error))
        what = found.group(1) if found else 'an object torch refuses'
        raise ValueError(
            f'{path} holds pickled objects other than tensors ({what}), which torch.load refuses '
            'with weights_only=True. If you trust the file, pass --trust-pickle '
            '(trust_pickle=True)') from error


def _load_file(path: str, trust_pickle: bool) -> dict:
    if path.endswith('.safetensors'):
        from safetensors.torch import load_file
        return load_file(path, device='cpu')
    return _load_torch_file(path, trust_pickle)


def read_state_dict(src: PathLike, trust_pickle: bool = False) -> Tuple[Dict[str, torch.Tensor],
                                                                         List[str]]:
    """``(tensors by key, notes)`` of a checkpoint file or directory (see the module docstring
    for the formats). A wrapping ``module`` / ``state_dict`` / ``model`` entry is unwrapped.

    Raises FileNotFoundError for a missing path or a directory without a known file, ValueError
    for a file without a dict of tensors."""
    src = os.fspath(src)
    notes: List[str] = []
    if osp.isdir(src):
        index = next((name for name in SHARD_INDEXES if osp.exists(osp.join(src, name))), None)
        if index is not None:
            with open(osp.join(src, index)) as file:
                weight_map = json.load(file).get('weight_map')
            if not isinstance(weight_map, dict) or not weight_map:
                raise ValueError(f'{osp.join(src, index)} has no "weight_map" of key -> shard file')
            state: Dict[str, torch.Tensor] = {}
            shards = sorted(set(weight_map.values()))
            for shard in shards:
                path = osp.join(src, shard)
                if not osp.exists(path):
                    raise FileNotFoundError(f'shard {shard} named by {index} is missing in {src}')
                state.update(_load_file(path, trust_pickle))
            listed = set(weight_map)
            missing = sorted(listed - set(state))
            if missing:
                raise ValueError(f'{index} lists keys no shard holds: {_listing(missing)}')
            notes.append(f'read {len(shards)} shard(s) listed by {index}')
            return state, notes
        single = next((name for name in SINGLE_FILES if osp.exists(osp.join(src, name))), None)
        if single is None:
            raise FileNotFoundError(
                f'{src} is a directory without {" / ".join(SHARD_INDEXES + SINGLE_FILES)}; give '
                'the checkpoint file itself, or the folder of a Hugging Face checkpoint')
        src = osp.join(src, single)
    if not osp.exists(src):
        raise FileNotFoundError(f'no checkpoint at {src}')
    loaded = _load_file(src, trust_pickle)
    if not isinstance(loaded, Mapping):
        raise ValueError(f'{src} holds a {type(loaded).__name__}, not a dict of tensors')
    for _ in range(2):
        wrapper = [key for key in WRAPPING_KEYS if isinstance(loaded.get(key), Mapping)]
        if not wrapper or any(isinstance(value, torch.Tensor) for value in loaded.values()):
            break
        notes.append(f'took the tensors under {wrapper[0]!r}')
        loaded = loaded[wrapper[0]]
    tensors = {key: value for key, value in loaded.items() if isinstance(value, torch.Tensor)}
    others = sorted(key for key in loaded if key not in tensors)
    if not tensors:
        raise ValueError(f'{src} holds no tensors at its top level (keys: {_listing(others)})')
    if others:
        notes.append(f'ignored non-tensor entries {others[:LISTED]}')
    return tensors, notes


def _listing(names: List[str]) -> str:
    shown = ', '.join(names[:LISTED])
    return shown + (f' ... and {len(names) - LISTED} more' if len(names) > LISTED else '')


def select_vision_part(state: Dict[str, torch.Tensor], prefix: Optional[str] = None
                       ) -> Tuple[Dict[str, torch.Tensor], str, List[str]]:
    """The keys of the vision encoder with their prefix removed, the prefix, and notes.

    ``prefix=None`` finds it: a DDP ``module.`` on every key is removed, then the first of
    :data:`VISION_PREFIXES` some key starts with selects the vision part (the rest, e.g.
    ``language_model.*`` and ``mlp1.*``, is dropped and counted in a note); with none, all keys
    are kept. A given ``prefix`` (``''`` for none) must start at least one key (ValueError)."""
    notes: List[str] = []
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
        f'{list(VISION_PREFIXES)}); first keys: {_listing(sorted(keys))}')


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


def to_internvl_names(state: Dict[str, torch.Tensor], layout: str
                      ) -> Tuple[Dict[str, torch.Tensor], List[str]]:
    """The tensors under InternVL's timm-style names, and notes. Keys of
    :data:`DROPPED_EXTRAS` are dropped (noted); keys a layout's rules do not know keep their name
    (the strict check names them). ``transformers`` q/k/v projections are joined into ``qkv``
    (rows q, k, v): ValueError names a block whose q, k or v is missing."""
    if layout not in LAYOUTS:
        raise ValueError(f'layout must be one of {LAYOUTS}, got {layout!r}')
    notes: List[str] = []
    out: Dict[str, torch.Tensor] = {}
    dropped: Dict[str, List[str]] = {}
    qkv_parts: Dict[Tuple[str, str], Dict[str, torch.Tensor]] = {}
    for key, tensor in state.items():
        extra = next((p for p in DROPPED_EXTRAS if key.startswith(p)), None)
        if extra is not None:
            dropped.setdefault(extra, []).append(key)
            continue
        if layout == 'remote_code':
            out[_rename(key, _REMOTE_RULES)] = tensor
        elif layout == 'transformers':
            match = _NATIVE_QKV.match(key)
            if match:
                qkv_parts.setdefault((match.group(1), match.group(3)), {})[match.group(2)] = tensor
            else:
                out[_rename(key, _NATIVE_RULES)] = tensor
        else:
            out[key] = tensor
    for (block, kind), parts in sorted(qkv_parts.items(), key=lambda item: int(item[0][0])):
        missing = [name for name in 'qkv' if name not in parts]
        if missing:
            raise ValueError(
                f'block {block}: attention.{{q,k,v}}_proj.{kind} incomplete, missing '
                f'{[f"encoder.layer.{block}.attention.{m}_proj.{kind}" for m in missing]}')
        out[f'blocks.{block}.attn.qkv.{kind}'] = torch.cat([parts['q'], parts['k'], parts['v']], 0)
    if qkv_parts:
        notes.append(f'joined q_proj, k_proj, v_proj into attn.qkv (rows q, k, v) in '
                     f'{len({block for block, _ in qkv_parts})} blocks')
    for extra, keys in dropped.items():
        notes.append(f'dropped {len(keys)} key(s) {extra}* ({DROPPED_EXTRAS[extra]})')
    return out, notes


# ----- checking -----

def _num_blocks(state: Mapping[str, torch.Tensor]) -> int:
    indices = {int(m.group(1)) for key in state for m in [re.match(r'blocks\.(\d+)\.', key)] if m}
    return max(indices) + 1 if indices else 0


def infer_arch(state: Mapping[str, torch.Tensor],
               num_heads: Optional[int] = None) -> Tuple[InternViTArch, int]:
    """``(arch, patch_size)`` read from InternVL-named tensors' shapes: width, blocks, MLP width,
    norm type (a ``norm1.bias`` means LayerNorm), QK-norm, qkv bias, pretraining grid. The number
    of heads is not in the weights: ``num_heads`` when given (a Hugging Face ``config.json``),
    else the preset's of the same width (25 for 3200, 16 for 1024), else 1 (the conversion does
    not depend on it). Raises CheckpointKeyError when the embeddings are missing."""
    needed = ('cls_token', 'pos_embed', 'patch_embed.proj.weight', 'blocks.0.mlp.fc1.weight')
    missing = [key for key in needed if key not in state]
    if missing:
        raise CheckpointKeyError(f'cannot read the arch: missing {missing}')
    width = state['cls_token'].shape[-1]
    patch_size = state['patch_embed.proj.weight'].shape[-1]
    positions = state['pos_embed'].shape[1] - 1
    grid = math.isqrt(positions)
    if grid * grid != positions:
        raise CheckpointKeyError(f'pos_embed holds {positions} patch positions, not a square grid')
    heads = num_heads or next((a.num_heads for a in ARCHS.values() if a.embed_dims == width), 1)
    arch = InternViTArch(
        embed_dims=width, num_layers=_num_blocks(state), num_heads=heads,
        feedforward_channels=state['blocks.0.mlp.fc1.weight'].shape[0],
        norm_type='layer_norm' if 'blocks.0.norm1.bias' in state else 'rms_norm',
        qk_norm='blocks.0.attn.q_norm.weight' in state,
        qkv_bias='blocks.0.attn.qkv.bias' in state,
        pretrain_img_size=grid * patch_size)
    return arch, patch_size


def _same_family(a: InternViTArch, b: InternViTArch) -> bool:
    return (a.embed_dims, a.feedforward_channels, a.norm_type, a.qk_norm, a.qkv_bias) == (
        b.embed_dims, b.feedforward_channels, b.norm_type, b.qk_norm, b.qkv_bias)


def check_against_arch(state: Dict[str, torch.Tensor], arch: InternViTArch, patch_size: int = 14,
                       in_channels: int = 3) -> None:
    """Raise :class:`CheckpointKeyError` naming every missing, unexpected and mis-shaped key of
    ``state`` against :func:`param_shapes` of ``arch``."""
    expected = param_shapes(arch, patch_size, in_channels)
    missing = [key for key in expected if key not in state]
    unexpected = sorted(key for key in state if key not in expected)
    mis_shaped = [f'{key}: checkpoint {tuple(state[key].shape)}, model {shape}'
                  for key, shape in expected.items()
                  if key in state and tuple(state[key].shape) != tuple(shape)]
    if not (missing or unexpected or mis_shaped):
        return
    lines = [f'the checkpoint does not fit InternViT arch {arch.to_dict()} '
             f'(patch_size={patch_size}):']
    if missing:
        lines.append(f'  missing ({len(missing)}): {_listing(missing)}')
    if unexpected:
        lines.append(f'  unexpected ({len(unexpected)}): {_listing(unexpected)}')
    if mis_shaped:
        lines.append(f'  different shapes ({len(mis_shaped)}): {_listing(mis_shaped)}')
    if any(key.startswith(('embeddings.', 'encoder.')) for key in unexpected):
        lines.append('  keys in a Hugging Face layout: convert the file with '
                     'tools/model_converters/internvit.py first')
    if any(key == 'pos_embed' for key in [m.split(':')[0] for m in mis_shaped]):
        positions = state['pos_embed'].shape[1] - 1
        grid = math.isqrt(positions)
        lines.append(f'  pos_embed is a {grid}x{grid} grid: set pretrain_img_size='
                     f'{grid * patch_size} in the backbone')
    raise CheckpointKeyError('\n'.join(lines))


def _resolve_target(found: InternViTArch, arch: Union[None, str, Mapping, InternViTArch]
                    ) -> Tuple[InternViTArch, Optional[str]]:
    """The arch to check against: the given one, or the preset of the checkpoint's family with
    its block count; the checkpoint's pretraining grid either way."""
    if arch is None:
        candidates = [(name, preset) for name, preset in ARCHS.items()
                      if _same_family(preset, found)]
        exact = [(name, preset) for name, preset in candidates
                 if preset.num_layers == found.num_layers]
        name, preset = (exact or [(None, found)])[0]
        return resolve_arch(preset, found.pretrain_img_size), name
    name = arch.lower() if isinstance(arch, str) else None
    return resolve_arch(arch, found.pretrain_img_size), name


def _heads_from_config(src: PathLike) -> Optional[int]:
    """``num_attention_heads`` of a Hugging Face folder's ``config.json`` (also under
    ``vision_config``), if there is one."""
    path = osp.join(os.fspath(src), 'config.json')
    if not osp.isfile(path):
        return None
    with open(path) as file:
        config = json.load(file)
    for section in (config, config.get('vision_config') or {}):
        if isinstance(section.get('num_attention_heads'), int):
            return section['num_attention_heads']
    return None


def _truncate(state: Dict[str, torch.Tensor], keep: int) -> Dict[str, torch.Tensor]:
    out = {}
    for key, value in state.items():
        match = re.match(r'blocks\.(\d+)\.', key)
        if match and int(match.group(1)) >= keep:
            continue
        out[key] = value
    return out


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
        dst: where to write (its folder is created); None only converts and checks.
        arch: a preset name, dict or :class:`InternViTArch`; None picks the preset of the
            checkpoint's width, norm and block count (or the checkpoint's own shape). The
            position-embedding grid always comes from the checkpoint.
        truncate_to: keep only the first ``truncate_to`` blocks (must equal the arch's block
            count and be fewer than the checkpoint's).
        prefix: the vision part's prefix (``''`` for none); None finds it.
        dtype: ``'float32'``, ``'bfloat16'`` or ``'float16'`` to cast every tensor; None keeps
            the file's.
        trust_pickle: ``torch.load`` with ``weights_only=False`` (only for files you trust).

    Raises:
        CheckpointKeyError: keys or shapes that do not fit the arch, each named; a block count
            that differs from the arch's without ``truncate_to``.
        ValueError: unknown layout, bad ``truncate_to`` or ``dtype``.
    """
    if dtype is not None and dtype not in _DTYPES:
        raise ValueError(f'dtype must be one of {sorted(_DTYPES)} or None, got {dtype!r}')
    state, notes = read_state_dict(src, trust_pickle)
    state, found_prefix, more = select_vision_part(state, prefix)
    notes += more
    layout = detect_layout(state)
    state, more = to_internvl_names(state, layout)
    notes += more
    heads = _heads_from_config(src)
    found, patch_size = infer_arch(state, heads)
    target, name = _resolve_target(found, arch)
    if name is None and heads is None and not any(
            preset.embed_dims == target.embed_dims for preset in ARCHS.values()):
        notes.append('the number of heads is not stored in the weights and no config.json gives '
                     f'it: set arch num_heads yourself (written as {target.num_heads})')
    blocks = found.num_layers
    if truncate_to is not None:
        if truncate_to != target.num_layers:
            raise ValueError(f'truncate_to={truncate_to} must equal the arch\'s block count '
                             f'({target.num_layers}); choose the arch with {truncate_to} blocks')
        if truncate_to >= blocks:
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
            f'{name or target.to_dict()} has {target.num_layers}: {hint}')
    check_against_arch(state, target, patch_size)
    preset = ARCHS.get(name) if name else None
    if preset is not None and preset.pretrain_img_size != target.pretrain_img_size:
        notes.append(f"the position embedding is at {target.pretrain_img_size} px: build the "
                     f"backbone with arch={name!r}, pretrain_img_size={target.pretrain_img_size}")
    ordered = {key: state[key] for key in param_shapes(target, patch_size)}
    if dtype is not None:
        ordered = {key: value.to(_DTYPES[dtype]) for key, value in ordered.items()}
    result = ConversionResult(ordered, layout, found_prefix, target, name, patch_size, notes)
    if dst is not None:
        folder = osp.dirname(osp.abspath(os.fspath(dst)))
        os.makedirs(folder, exist_ok=True)
        torch.save(dict(state_dict={k: v.contiguous() for k, v in ordered.items()},
                        meta=result.meta(os.fspath(src))), os.fspath(dst))
    return result


# ----- loading into the backbone -----

def load_backbone_checkpoint(model: nn.Module, path: PathLike, prefix: Optional[str] = None
                             ) -> None:
    """Load ``path`` into ``model`` (an :class:`~.internvit.InternViT`) strictly.

    The file is a converter output (``{'state_dict', 'meta'}``) or any dict of tensors with the
    backbone's names (``prefix``, e.g. ``'backbone.'``, selects and strips a sub-dict of a trained
    model's checkpoint). Raises :class:`CheckpointKeyError` naming every missing, unexpected or
    mis-shaped key (with what to change: convert first, or set ``pretrain_img_size``)."""
    path = os.fspath(path)
    if not osp.exists(path):
        raise FileNotFoundError(
            f'InternViT init_cfg checkpoint {path} does not exist; write it with '
            'tools/model_converters/internvit.py SRC DST from the released weights')
    loaded = _load_torch_file(path, trust_pickle=False)
    state = loaded.get('state_dict', loaded) if isinstance(loaded, Mapping) else loaded
    if not isinstance(state, Mapping):
        raise ValueError(f'{path} holds a {type(state).__name__}, not a dict of tensors')
    if prefix:
        chosen = {key[len(prefix):]: value for key, value in state.items()
                  if key.startswith(prefix)}
        if not chosen:
            raise CheckpointKeyError(f'no key of {path} starts with prefix {prefix!r}; top-level '
                                     f'names: {sorted({key.split(".")[0] for key in state})}')
        state = chosen
    state = {key: value for key, value in state.items() if isinstance(value, torch.Tensor)}
    arch = getattr(model, 'arch', None)
    patch_size = getattr(model, 'patch_size', 14)
    if isinstance(arch, InternViTArch):
        try:
            check_against_arch(state, arch, patch_size,
                               model.patch_embed.proj.weight.shape[1])
        except CheckpointKeyError as error:
            raise CheckpointKeyError(f'{path}: {error}') from None
    model.load_state_dict(state, strict=True)
    from mmengine.logging import MMLogger
    MMLogger.get_current_instance().info(
        f'InternViT: loaded all {len(state)} tensors of {path}'
        + (f" (prefix {prefix!r})" if prefix else '') + ' (strict)')
