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
from typing import Iterable, Optional, Protocol, runtime_checkable

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
