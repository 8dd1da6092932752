"""Layer ids for ConvNeXt (mmpretrain's ``ConvNeXt``: ``downsample_layers.S``, ``stages.S.B``).

``layer_wise`` (``ConvNeXtLayerIds``), with ``L = num_layers``:

=========================  ==========================
parameter                  layer id
=========================  ==========================
``downsample_layers.0``    0 (the stem)
``stages.0.*``             1
``downsample_layers.1``    2
``stages.1.*``             2
``downsample_layers.2``    3
``stages.2.B.*``           ``3 + B // 3``
``downsample_layers.3``    ``L``
``stages.3.*``             ``L``
anything else              ``L + 1`` (the head id)
=========================  ==========================

``stage_wise`` (``ConvNeXtStageIds``): every ``downsample_layers`` -> 0, ``stages.S.*`` -> ``S + 1``,
anything else -> ``L + 1``. With ``L = 12`` that puts stage 3 at ``rate ** 9`` and the head at 1.0,
exactly as mmdet's and mmseg's ``LearningRateDecayOptimizerConstructor`` do.

Class / mask tokens and position embeddings (``cls_token``, ``mask_token``, ``pos_embed``) get id 0 in
both, like the peers. The depth the published configs use is 12 when stage 2 has more than 9 blocks
(ConvNeXt-B/L/XL, 27 blocks) and 6 otherwise (ConvNeXt-T, 9 blocks).
"""
import re
from dataclasses import dataclass
from typing import Iterable, Iterator, Optional

from .base import EMBED_LAYER_ID, head_layer_id, relative_name

TOKEN_NAMES = frozenset({'cls_token', 'mask_token', 'pos_embed'})
NUM_STAGES = 4
_DOWNSAMPLE = re.compile(r'downsample_layers\.(\d+)(?:\.|$)')
_STAGE_BLOCK = re.compile(r'stages\.(\d+)\.(\d+)(?:\.|$)')
_STAGE_MODULES = ('downsample_layers.', 'stages.')


def _stage_of(name: str, stage: int) -> int:
    if stage >= NUM_STAGES:
        raise ValueError(f'ConvNeXt layer ids are defined for stages 0-{NUM_STAGES - 1}, but '
                         f'parameter {name!r} lies in stage {stage}')
    return stage


@dataclass(frozen=True)
class _ConvNeXtNames:
    prefix: str = 'backbone.'
    family: str = 'convnext'

    def _stage_names(self, names: Iterable[str]) -> Iterator[str]:
        """Backbone-relative names under ``downsample_layers`` or ``stages``."""
        prefix, start = self.prefix, len(self.prefix)
        for name in names:
            if name.startswith(prefix) and name.startswith(_STAGE_MODULES, start):
                yield name[start:]

    def recognizes(self, names: Iterable[str]) -> bool:
        return any(_DOWNSAMPLE.match(relative) or _STAGE_BLOCK.match(relative)
                   for relative in self._stage_names(names))

    def infer_num_layers(self, names: Iterable[str]) -> Optional[int]:
        """12 when stage 2 has more than 9 blocks, else 6 (the published configs' choice)."""
        blocks = (_STAGE_BLOCK.match(relative) for relative in self._stage_names(names))
        stage2_blocks = {int(block.group(2)) for block in blocks
                         if block and int(block.group(1)) == 2}
        if not stage2_blocks:
            return None
        return 12 if max(stage2_blocks) + 1 > 9 else 6


@dataclass(frozen=True)
class ConvNeXtLayerIds(_ConvNeXtNames):
    """``layer_wise`` ids: stage 2 is split into groups of three blocks."""

    def layer_id(self, name: str, num_layers: int) -> int:
        relative = relative_name(name, self.prefix)
        if relative is None:
            return head_layer_id(num_layers)
        if relative in TOKEN_NAMES:
            return EMBED_LAYER_ID
        down = _DOWNSAMPLE.match(relative)
        if down:
            stage = _stage_of(name, int(down.group(1)))
            return (EMBED_LAYER_ID, 2, 3, num_layers)[stage]
        block = _STAGE_BLOCK.match(relative)
        if block:
            stage = _stage_of(name, int(block.group(1)))
            if stage == 2:
                return 3 + int(block.group(2)) // 3
            return (1, 2, None, num_layers)[stage]
        return head_layer_id(num_layers)


@dataclass(frozen=True)
class ConvNeXtStageIds(_ConvNeXtNames):
    """``stage_wise`` ids: one id per stage."""

    def layer_id(self, name: str, num_layers: int) -> int:
        relative = relative_name(name, self.prefix)
        if relative is None:
            return head_layer_id(num_layers)
        if relative in TOKEN_NAMES or _DOWNSAMPLE.match(relative):
            return EMBED_LAYER_ID
        block = _STAGE_BLOCK.match(relative)
        if block:
            return _stage_of(name, int(block.group(1))) + 1
        return head_layer_id(num_layers)
