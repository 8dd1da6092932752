"""What a layer-id rule is, and the two ids every rule shares.

A layer-id rule is *policy*: a pure function from a parameter's name (plus facts read once from the
model, such as its depth) to an integer layer id. It never logs, reads config or touches tensors.

With ``L = num_layers``:

* the embeddings (patch / position embeddings, class and mask tokens) have id ``EMBED_LAYER_ID = 0``;
* block ``i`` (0-based) has id ``i + 1``;
* everything above the last block (final norm, neck, decode and auxiliary heads) has the head id
  ``head_layer_id(L) = L + 1``.

The engine turns an id ``k`` into ``lr_scale = rate ** (head_layer_id(L) - k)``.
"""
from typing import Iterable, Optional, Protocol, Tuple, runtime_checkable

EMBED_LAYER_ID = 0


def head_layer_id(num_layers: int) -> int:
    """The layer id of everything above the last block: ``num_layers + 1``."""
    return num_layers + 1


def relative_name(name: str, prefix: str) -> Optional[str]:
    """``name`` without ``prefix``, or None when the parameter lies outside the prefixed module."""
    if not name.startswith(prefix):
        return None
    return name[len(prefix):]


@runtime_checkable
class LayerIdRule(Protocol):
    """The interface every layer-id policy implements."""

    #: Short name of the backbone family the rule understands (``'vit'``, ``'convnext'``, ...).
    family: str

    def recognizes(self, names: Iterable[str]) -> bool:
        """Whether these parameter names have the layout this rule understands."""

    def infer_num_layers(self, names: Iterable[str]) -> Optional[int]:
        """The ``num_layers`` the model's own depth implies, or None when the names do not say."""

    def layer_id(self, name: str, num_layers: int) -> int:
        """The layer id of the parameter called ``name`` (a full name, e.g. ``backbone.x.y``)."""

    def no_decay(self, name: str, ndim: int) -> bool:
        """Whether the parameter (``ndim``: its original number of dimensions) gets weight decay 0
        under the rule's own weight-decay rule."""

    def multiplier(self, name: str, layer_id: int, num_layers: int) -> Tuple[float, str]:
        """``(lr factor, group-name tag)`` of the rule's extra multiplier, ``(1.0, '')`` if none."""

    def layer_scale(self, rate: float, layer_id: int, num_layers: int) -> float:
        """The decay scale of a layer: ``rate ** (num_layers + 1 - layer_id)`` (recipes may
        scale it further)."""
