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
from typing import Iterable, Optional

from .base import EMBED_LAYER_ID, head_layer_id, relative_name

EMBEDDING_NAMES = frozenset({'cls_token', 'mask_token', 'pos_embed', 'visual_embed'})
EMBEDDING_MODULE_PREFIXES = ('patch_embed', 'visual_embed')
_BLOCK = re.compile(r'(?:blocks|layers)\.(\d+)(?:\.|$)')
_CBNET_COPIES = ('cb_modules.0.', 'cb_modules.1.')


def canonical_vit_name(relative: str) -> str:
    """Map CBNet copies and InternImage ``levels.`` onto the plain ViT names."""
    for copy in _CBNET_COPIES:
        relative = relative.replace(copy, '')
    return relative.replace('levels.', 'layers.')


def vit_block_index(relative: str) -> Optional[int]:
    """The block index of a backbone-relative name, or None if it is not inside a block."""
    match = _BLOCK.match(canonical_vit_name(relative))
    return int(match.group(1)) if match else None


@dataclass(frozen=True)
class ViTLayerIds:
    """Layer ids of a ViT-style backbone whose parameters live under ``prefix``."""

    prefix: str = 'backbone.'
    family: str = 'vit'

    def _block_indices(self, names: Iterable[str]) -> list:
        indices = []
        for name in names:
            relative = relative_name(name, self.prefix)
            if relative is not None:
                index = vit_block_index(relative)
                if index is not None:
                    indices.append(index)
        return indices

    def recognizes(self, names: Iterable[str]) -> bool:
        return bool(self._block_indices(names))

    def infer_num_layers(self, names: Iterable[str]) -> Optional[int]:
        """The number of blocks: the largest block index + 1."""
        indices = self._block_indices(names)
        return max(indices) + 1 if indices else None

    def layer_id(self, name: str, num_layers: int) -> int:
        relative = relative_name(name, self.prefix)
        if relative is None:
            return head_layer_id(num_layers)
        relative = canonical_vit_name(relative)
        if relative in EMBEDDING_NAMES or relative.startswith(EMBEDDING_MODULE_PREFIXES):
            return EMBED_LAYER_ID
        index = vit_block_index(relative)
        if index is not None:
            return index + 1
        return head_layer_id(num_layers)
