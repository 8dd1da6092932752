"""Checkpoint files for InternViT's converter and loader: what a file is, the tensors it holds,
a Hugging Face folder's shards and ``config.json``, and where the converter may write.

Nothing here guesses. A file is recognised by its first bytes, not its name: torch's zip format,
torch's legacy pickle format (both read with ``weights_only=True``; the types of an MMEngine
training checkpoint allowed through :func:`mmcv_custom.compat.checkpoint_loading.
checkpoint_safe_globals`) or safetensors. Every file that cannot be read is a
:class:`CheckpointFileError` (a ``ValueError``) naming the file and what is wrong with it: empty,
truncated, not a checkpoint at all, or holding pickled objects that are refused. A shard index
must name shards inside its folder and each key in exactly one of them; a destination that is
one of the files being read is refused before anything is written.

Only torch is imported at module level (safetensors and mmcv_custom.compat inside the functions).
"""
import json
import os
import os.path as osp
import pickle
import re
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

import torch

__all__ = ['CheckpointFileError', 'CheckpointSource', 'SHARD_INDEXES', 'SINGLE_FILES',
           'WRAPPING_KEYS', 'find_checkpoint', 'load_checkpoint_file', 'read_tensors',
           'unwrap_state_dict', 'tensor_entries', 'heads_from_config', 'check_destination',
           'save_atomically']

SHARD_INDEXES = ('model.safetensors.index.json', 'pytorch_model.bin.index.json')
SINGLE_FILES = ('model.safetensors', 'pytorch_model.bin')
CONFIG_FILE = 'config.json'
#: Entries that hold the state dict in a training checkpoint (MMEngine, DeepSpeed, timm, ...).
WRAPPING_KEYS = ('module', 'state_dict', 'model')
#: Names listed in a message before "... and N more".
LISTED = 20

PathLike = Union[str, os.PathLike]

_ZIP_MAGIC = b'PK\x03\x04'
#: torch's legacy format starts with the pickled magic number 0x1950a86a20f9469cfc6c.
_LEGACY_MAGIC = b'\x8a\nl\xfc\x9cF\xf9 j\xa8P\x19'
#: Words of torch's weights_only message when it refused a pickled object (not a damaged file).
_REFUSED_OBJECT = re.compile(r'GLOBAL|unrecognized function|Can only create|getattr')


class CheckpointFileError(ValueError):
    """A checkpoint file (or folder) that cannot be read; the message names the file."""


def listing(names: List[str]) -> str:
    """``a, b, c ... and N more``."""
    shown = ', '.join(names[:LISTED])
    return shown + (f' ... and {len(names) - LISTED} more' if len(names) > LISTED else '')


def _first_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


# ----- one file -----

def file_kind(path: str) -> str:
    """``'torch_zip'``, ``'torch_legacy'`` or ``'safetensors'``, from the file's first bytes.
    CheckpointFileError for an empty file, a safetensors header longer than the file, or
    anything else."""
    size = osp.getsize(path)
    if size == 0:
        raise CheckpointFileError(f'{path} is empty (0 bytes), not a checkpoint: was the download '
                                  'or the save interrupted?')
    with open(path, 'rb') as file:
        head = file.read(64)
    if head.startswith(_ZIP_MAGIC):
        return 'torch_zip'
    if head[:1] == b'\x80' and _LEGACY_MAGIC in head[:32]:
        return 'torch_legacy'
    if len(head) > 8 and head[8:9] == b'{':
        header = int.from_bytes(head[:8], 'little')
        if header + 8 > size:
            raise CheckpointFileError(
                f'{path} is a truncated safetensors file: its header alone needs {header + 8} '
                f'bytes, the file has {size}')
        return 'safetensors'
    raise CheckpointFileError(
        f'{path} is not a checkpoint: neither a torch.save file (zip or legacy format) nor a '
        f'safetensors file (it starts with {head[:8]!r})')


def _load_torch(path: str, mmap: bool, trust_pickle: bool, pickle_advice: str) -> Any:
    def attempt(allowed: Optional[list] = None) -> Any:
        options = dict(map_location='cpu', weights_only=not trust_pickle, mmap=mmap)
        if allowed is None:
            return torch.load(path, **options)
        with torch.serialization.safe_globals(allowed):
            return torch.load(path, **options)

    try:
        try:
            return attempt()
        except pickle.UnpicklingError as error:
            if trust_pickle or not _REFUSED_OBJECT.search(str(error)):
                raise
            # an MMEngine training checkpoint (HistoryBuffer, numpy) loads with weights_only too
            from mmcv_custom.compat.checkpoint_loading import checkpoint_safe_globals
            return attempt(checkpoint_safe_globals())
    except pickle.UnpicklingError as error:
        if trust_pickle or not _REFUSED_OBJECT.search(str(error)):
            raise CheckpointFileError(f'{path} is not a readable torch checkpoint: unpickling '
                                      f'failed ({_first_line(error)})') from None
        found = re.search(r'GLOBAL (\S+)', str(error))
        what = found.group(1) if found else _first_line(error)
        raise CheckpointFileError(
            f'{path} holds pickled objects other than tensors and the types of an MMEngine '
            f'checkpoint ({what}), which torch.load refuses with weights_only=True. '
            f'{pickle_advice}') from None
    except EOFError:
        raise CheckpointFileError(f'{path} ends early: a truncated torch checkpoint (was the '
                                  'download or the save interrupted?)') from None
    except (RuntimeError, OSError) as error:
        if 'TorchScript' in str(error):
            raise CheckpointFileError(f'{path} is a TorchScript archive (torch.jit.save), not a '
                                      'dict of tensors') from None
        raise CheckpointFileError(f'{path} is a damaged torch checkpoint, truncated or not fully '
                                  f'downloaded ({_first_line(error)})') from None


def load_checkpoint_file(path: PathLike, trust_pickle: bool = False,
                         pickle_advice: str = 'If you trust the file, pass --trust-pickle '
                         '(trust_pickle=True)') -> Tuple[Any, List[str]]:
    """``(object, notes)`` of one checkpoint file, read as what its first bytes say it is (a
    note says so when its name says otherwise). ``pickle_advice`` ends the message for a file
    with refused pickled objects."""
    path = os.fspath(path)
    kind = file_kind(path)
    notes = []
    named_safetensors = path.endswith('.safetensors')
    if (kind == 'safetensors') != named_safetensors:
        what = 'a safetensors file' if kind == 'safetensors' else "a torch.save file"
        notes.append(f'{path} is {what} (whatever its name says): read as one')
    if kind != 'safetensors':
        return _load_torch(path, kind == 'torch_zip', trust_pickle, pickle_advice), notes
    from safetensors.torch import load_file
    try:
        return load_file(path, device='cpu'), notes
    except Exception as error:  # safetensors' SafetensorError has no public base class
        raise CheckpointFileError(f'{path} is not a readable safetensors file, truncated or not '
                                  f'fully downloaded ({_first_line(error)})') from None


def _holds_tensors(value: Any) -> bool:
    return isinstance(value, Mapping) and any(isinstance(v, torch.Tensor) or (
        key in WRAPPING_KEYS and isinstance(v, Mapping)
        and any(isinstance(t, torch.Tensor) for t in v.values())) for key, v in value.items())


def unwrap_state_dict(loaded: Any, path: str) -> Tuple[Mapping, List[str]]:
    """The dict that holds the tensors, and notes: a wrapping ``module`` / ``state_dict`` /
    ``model`` entry is taken (twice at most: ``{'model': {'module': ...}}``) when the dict has
    no tensor of its own. CheckpointFileError when it is not a dict, or when two wrapping entries
    hold tensors (which one is meant cannot be told)."""
    if not isinstance(loaded, Mapping):
        raise CheckpointFileError(f'{path} holds a {type(loaded).__name__}, not a dict of tensors')
    notes = []
    for _ in range(2):
        if any(isinstance(value, torch.Tensor) for value in loaded.values()):
            break
        wrappers = [key for key in WRAPPING_KEYS if _holds_tensors(loaded.get(key))]
        if len(wrappers) > 1:
            raise CheckpointFileError(
                f'{path} holds two state dicts, under {wrappers[0]!r} and {wrappers[1]!r}, and '
                "which one is meant cannot be told: save the one you want on its own, e.g. "
                f"torch.save(torch.load(PATH)[{wrappers[0]!r}], NEW_PATH)")
        if not wrappers:
            break
        notes.append(f'took the tensors under {wrappers[0]!r}')
        loaded = loaded[wrappers[0]]
    return loaded, notes


# ----- a file or a Hugging Face folder -----

@dataclass(frozen=True)
class CheckpointSource:
    """What a checkpoint path stands for: the tensor files to read, in order; the shard index
    and its ``weight_map`` (key -> shard name) for a sharded folder; the folder's
    ``config.json``; notes (files present but not read)."""

    files: Tuple[str, ...]
    index: Optional[str] = None
    weight_map: Optional[Dict[str, str]] = None
    config: Optional[str] = None
    notes: Tuple[str, ...] = ()

    @property
    def all_files(self) -> Tuple[str, ...]:
        """Every file the conversion reads."""
        return self.files + tuple(path for path in (self.index, self.config) if path)


def _read_json(path: str, what: str) -> Any:
    try:
        with open(path, encoding='utf-8') as file:
            return json.load(file)
    except (ValueError, UnicodeDecodeError) as error:
        raise CheckpointFileError(f'{path} is not valid JSON ({_first_line(error)}); it is read '
                                  f'for {what}') from None


def _shard_map(index: str) -> Dict[str, str]:
    data = _read_json(index, 'the shard list')
    weight_map = data.get('weight_map') if isinstance(data, dict) else None
    if not isinstance(weight_map, dict) or not weight_map:
        raise CheckpointFileError(
            f'{index} is not a shard index: expected a JSON object with a non-empty "weight_map" '
            f'of key -> shard file, got {type(data).__name__}'
            + (f' with keys {sorted(data)[:LISTED]}' if isinstance(data, dict) else ''))
    folder = osp.dirname(index)
    for key, shard in weight_map.items():
        if not isinstance(shard, str) or not shard:
            raise CheckpointFileError(f'{index} maps {key!r} to {shard!r}, not a shard file name')
        norm = osp.normpath(shard)
        if osp.isabs(shard) or norm == os.pardir or norm.startswith(os.pardir + os.sep):
            raise CheckpointFileError(
                f'{index} names shard {shard!r} (for {key}), outside its folder {folder}: shards '
                'must lie in the folder of their index')
    return weight_map


def find_checkpoint(src: PathLike) -> CheckpointSource:
    """The files ``src`` stands for: the file itself, or in a folder the shards its
    ``model.safetensors.index.json`` / ``pytorch_model.bin.index.json`` names (the first one
    found), else its ``model.safetensors`` / ``pytorch_model.bin``, and its ``config.json``.

    FileNotFoundError for a missing path, a folder without a known file or a missing shard;
    CheckpointFileError for an index that is not one."""
    src = os.fspath(src)
    if not osp.exists(src):
        raise FileNotFoundError(f'no checkpoint at {src}')
    if not osp.isdir(src):
        return CheckpointSource((src, ))
    present = [name for name in SHARD_INDEXES + SINGLE_FILES if osp.isfile(osp.join(src, name))]
    config = osp.join(src, CONFIG_FILE) if osp.isfile(osp.join(src, CONFIG_FILE)) else None
    if not present:
        raise FileNotFoundError(
            f'{src} is a directory without {" / ".join(SHARD_INDEXES + SINGLE_FILES)}; give '
            'the checkpoint file itself, or the folder of a Hugging Face checkpoint')
    chosen, others = present[0], present[1:]
    notes = (f'read {chosen}; also in {src} and not read: {", ".join(others)}', ) if others else ()
    if chosen not in SHARD_INDEXES:
        return CheckpointSource((osp.join(src, chosen), ), config=config, notes=notes)
    index = osp.join(src, chosen)
    weight_map = _shard_map(index)
    files = []
    for shard in sorted(set(weight_map.values())):
        path = osp.join(src, shard)
        if not osp.isfile(path):
            raise FileNotFoundError(f'shard {shard} named by {chosen} is missing in {src}')
        files.append(path)
    return CheckpointSource(tuple(files), index, weight_map, config, notes)


def tensor_entries(state: Mapping) -> Tuple[Dict[str, torch.Tensor], List[str]]:
    """``(the tensor entries of state, notes)``: a note lists the non-tensor entries left out."""
    tensors = {key: value for key, value in state.items() if isinstance(value, torch.Tensor)}
    others = sorted(str(key) for key in state if key not in tensors)
    return tensors, [f'left out non-tensor entries {others[:LISTED]}'] if others else []


def read_tensors(source: CheckpointSource, trust_pickle: bool = False
                 ) -> Tuple[Dict[str, torch.Tensor], List[str]]:
    """``(tensors by key, notes)`` of a :class:`CheckpointSource`.

    One file: a wrapping entry is unwrapped (:func:`unwrap_state_dict`), non-tensor entries are
    left out with a note. Shards: every key must be in the shard the index assigns it to, and
    every listed key in its shard (CheckpointFileError names the key and both files)."""
    notes = list(source.notes)
    if source.index is None:
        path = source.files[0]
        loaded, more = load_checkpoint_file(path, trust_pickle)
        notes += more
        loaded, more = unwrap_state_dict(loaded, path)
        notes += more
        tensors, more = tensor_entries(loaded)
        if not tensors:
            raise CheckpointFileError(f'{path} holds no tensors at its top level (keys: '
                                      f'{listing(sorted(str(key) for key in loaded))})')
        return tensors, notes + more
    folder, index = osp.dirname(source.index), source.index
    weight_map = source.weight_map or {}
    state: Dict[str, torch.Tensor] = {}
    for path in source.files:
        shard = next(name for name in weight_map.values() if osp.join(folder, name) == path)
        loaded, more = load_checkpoint_file(path, trust_pickle)
        notes += more
        if not isinstance(loaded, Mapping):
            raise CheckpointFileError(f'{path} holds a {type(loaded).__name__}, not a dict of '
                                      'tensors')
        for key, tensor in loaded.items():
            assigned = weight_map.get(key)
            if assigned is None:
                raise CheckpointFileError(
                    f'{path} holds {key}, which {index} does not list: the shards and the index '
                    'disagree (a shard from another download?)')
            if assigned != shard:
                raise CheckpointFileError(
                    f'{key} is in {shard}, but {index} assigns it to {assigned}: a key in two '
                    'shards (or a shard from another download) cannot be read unambiguously')
            if not isinstance(tensor, torch.Tensor):
                raise CheckpointFileError(f'{path}: {key} is a {type(tensor).__name__}, not a '
                                          'tensor')
            state[key] = tensor
    missing = sorted(set(weight_map) - set(state))
    if missing:
        raise CheckpointFileError(f'{index} lists keys no shard holds: {listing(missing)}')
    notes.append(f'read {len(source.files)} shard(s) listed by {index}')
    return state, notes


def heads_from_config(path: str) -> Tuple[Optional[int], str, List[str]]:
    """``(num_attention_heads, where, notes)`` of a Hugging Face ``config.json``: the
    ``vision_config``'s when there is one (the top level of a VLM's config describes the language
    model), else the top level's; None when not given. CheckpointFileError for a file that is not
    a JSON object or a value that is not a positive int."""
    config = _read_json(path, 'num_attention_heads')
    if not isinstance(config, dict):
        raise CheckpointFileError(f'{path} holds a JSON {type(config).__name__}, not an object')
    notes = []
    if 'vision_config' in config:
        section, where = config['vision_config'], f'{path} vision_config.num_attention_heads'
        if not isinstance(section, dict):
            raise CheckpointFileError(f'{path}: vision_config is a {type(section).__name__}, not '
                                      'an object')
        if 'num_attention_heads' not in section and 'num_attention_heads' in config:
            notes.append(f'{path}: its vision_config gives no num_attention_heads; the top-level '
                         "one (the language model's) is not used")
    else:
        section, where = config, f'{path} num_attention_heads'
    heads = section.get('num_attention_heads')
    if heads is None:
        return None, where, notes
    if not isinstance(heads, int) or isinstance(heads, bool) or heads < 1:
        raise CheckpointFileError(f'{where} is {heads!r}, not a positive int')
    return heads, where, notes


# ----- writing -----

def check_destination(dst: PathLike, source: CheckpointSource) -> None:
    """CheckpointFileError when ``dst`` is a directory, or is (the same file as, through a link
    or a second name) one of the files the conversion reads: writing it would destroy the source
    while it is being read (tensors are memory-mapped from it)."""
    dst = os.fspath(dst)
    if osp.isdir(dst):
        raise CheckpointFileError(f'the output {dst} is a directory; give the file to write, e.g. '
                                  f'{osp.join(dst, "internvit.pth")}')
    if not osp.exists(dst):
        return
    for path in source.all_files:
        if osp.samefile(dst, path):
            how = '' if osp.abspath(dst) == osp.abspath(path) else (
                ' (the same file through a link or another name)')
            raise CheckpointFileError(
                f'the output {dst} is the input file {path}{how}: writing it would destroy the '
                'source while it is read. Give another output path')


def save_atomically(obj: Any, dst: PathLike) -> None:
    """``torch.save`` to a temporary file beside ``dst``, then rename it to ``dst``: an
    interrupted save leaves no half-written ``dst``."""
    dst = os.fspath(dst)
    os.makedirs(osp.dirname(osp.abspath(dst)), exist_ok=True)
    partial = f'{dst}.partial-{os.getpid()}'
    try:
        torch.save(obj, partial)
        os.replace(partial, dst)
    finally:
        if osp.exists(partial):
            os.remove(partial)
