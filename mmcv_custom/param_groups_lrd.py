"""Layer-wise lr decay for plain PyTorch training loops (no MMEngine needed at call time)."""
from typing import Iterable, List

from torch import nn

from .engine import build_layer_decay_groups
from .engine.config import LAYER_DECAY_KEYS, MMENGINE_KEYS, ParamwiseSchema, check_rate
from .layer_ids import ViTLayerIds

_DEFAULTS = ParamwiseSchema('param_groups_lrd', LAYER_DECAY_KEYS + MMENGINE_KEYS).parse({})
MAE_GROUP_KEYS = ('lr_scale', 'weight_decay', 'params')


def param_groups_lrd(model: nn.Module, weight_decay: float = 0.05,
                     no_weight_decay_list: Iterable[str] = (),
                     layer_decay: float = 0.75) -> List[dict]:
    """Parameter groups with layer-wise lr decay for a MAE / timm-style ViT.

    The model's names are unprefixed (``cls_token``, ``pos_embed``, ``patch_embed.*``,
    ``blocks.i.*``, ``norm``, ``head``). With ``L`` blocks, block ``i`` gets
    ``lr_scale = layer_decay ** (L - i)``, the embeddings ``layer_decay ** (L + 1)``, the rest 1.
    1-D parameters and the names in ``no_weight_decay_list`` get weight decay 0.

    Returns exactly what MAE's ``util.lr_decay.param_groups_lrd`` returns: dicts with
    ``lr_scale``, ``weight_decay`` and ``params``, one per (layer, decay / no-decay), in
    first-appearance order. The training loop sets ``group['lr'] = lr * group['lr_scale']``.

    Example::

        groups = param_groups_lrd(model, 0.05, model.no_weight_decay(), layer_decay=0.65)
        optimizer = torch.optim.AdamW(groups, lr=1e-3)
    """
    rate = check_rate('layer_decay', layer_decay)
    result = build_layer_decay_groups(
        model, choose_rule=lambda _: ViTLayerIds(prefix=''), settings=_DEFAULTS, rate=rate,
        base_lr=1.0, base_wd=float(weight_decay), owner='param_groups_lrd',
        no_decay_names=lambda rule: frozenset(no_weight_decay_list))
    return [{key: group[key] for key in MAE_GROUP_KEYS} for group in result.groups]
