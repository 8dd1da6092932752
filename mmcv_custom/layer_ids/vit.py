"""Layer ids for ViT-style backbones (ViT, BEiT, MAE, EVA, InternViT-6B, ...).

Relative to the backbone prefix (``backbone.`` in OpenMMLab models):

* ``cls_token``, ``mask_token``, ``pos_embed``, ``visual_embed`` and anything under ``patch_embed``
  or ``visual_embed`` -> ``EMBED_LAYER_ID`` (0);
* ``blocks.N.*`` and ``layers.N.*`` -> ``N + 1``;
* anything else, and every parameter outside the backbone -> the head id ``num_layers + 1``.

CBNet's copies ``cb_modules.0.`` / ``cb_modules.1.`` share the ids of the plain names, and
InternImage's ``levels.`` is read as ``layers.``. These are the rules of InternVL's and BEiT's
``CustomLayerDecayOptimizerConstructor`` and, for the names they know, of mmseg's BEiT / MAE rule and
mmpretrain's ``VisionTransformer.get_layer_depth``.
"""
import re
from dataclasses import dataclass
from typing import Iterable, Iterator, Optional

from .base import EMBED_LAYER_ID, head_layer_id, relative_name

EMBEDDING_NAMES = frozenset({'cls_token', 'mask_token', 'pos_embed', 'visual_embed'})
EMBEDDING_MODULE_PREFIXES = ('patch_embed', 'visual_embed')
_BLOCK = re.compile(r'(?:blocks|layers)\.(\d+)(?:\.|$)')
_CBNET_COPIES = ('cb_modules.0.', 'cb_modules.1.')


def canonical_vit_name(relative: str) -> str:
    """Map CBNet copies and InternImage ``levels.`` onto the plain ViT names."""
    if 'cb_modules.' in relative:
        for copy in _CBNET_COPIES:
            relative = relative.replace(copy, '')
    if 'levels.' in relative:
        relative = relative.replace('levels.', 'layers.')
    return relative


def _canonical_block_index(canonical: str) -> Optional[int]:
    match = _BLOCK.match(canonical)
    return int(match.group(1)) if match else None


def vit_block_index(relative: str) -> Optional[int]:
    """The block index of a backbone-relative name, or None if it is not inside a block."""
    return _canonical_block_index(canonical_vit_name(relative))


@dataclass(frozen=True)
class ViTLayerIds:
    """Layer ids of a ViT-style backbone whose parameters live under ``prefix``."""

    prefix: str = 'backbone.'
    family: str = 'vit'

    def _block_indices(self, names: Iterable[str]) -> Iterator[int]:
        prefix, start = self.prefix, len(self.prefix)
        for name in names:
            if name.startswith(prefix):
                index = vit_block_index(name[start:])
                if index is not None:
                    yield index

    def recognizes(self, names: Iterable[str]) -> bool:
        return next(self._block_indices(names), None) is not None

    def infer_num_layers(self, names: Iterable[str]) -> Optional[int]:
        """The number of blocks: the largest block index + 1."""
        last = max(self._block_indices(names), default=None)
        return None if last is None else last + 1

    def layer_id(self, name: str, num_layers: int) -> int:
        relative = relative_name(name, self.prefix)
        if relative is None:
            return head_layer_id(num_layers)
        relative = canonical_vit_name(relative)
        if relative in EMBEDDING_NAMES or relative.startswith(EMBEDDING_MODULE_PREFIXES):
            return EMBED_LAYER_ID
        index = _canonical_block_index(relative)
        if index is not None:
            return index + 1
        return head_layer_id(num_layers)
