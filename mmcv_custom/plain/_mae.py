"""Layer-wise lr decay for plain PyTorch training loops (no MMEngine needed at call time)."""
from typing import Iterable, List

from torch import nn

from .._checks import RATE, check_number
from ..config._keys import LAYER_DECAY_RATE
from ..config._optimizer import OptimizerSettings
from ..config._schema import ParamwiseSchema
from ..layer_decay._groups import group_params
from ..layer_decay._params import collect_params
from ..layer_decay._plan import make_plan
from ..recipes._match import Candidates
from ..recipes._published import INTERNVL

_SCHEMA = ParamwiseSchema('param_groups_lrd', (LAYER_DECAY_RATE,))
#: The keys of MAE's groups.
MAE_GROUP_KEYS = ('lr_scale', 'weight_decay', 'params')


def param_groups_lrd(model: nn.Module, weight_decay: float = 0.05,
                     no_weight_decay_list: Iterable[str] = (),
                     layer_decay: float = 0.75) -> List[dict]:
    """Parameter groups with layer-wise lr decay for a MAE / timm-style ViT.

    The model's names are unprefixed (``cls_token``, ``pos_embed``, ``patch_embed.*``,
    ``blocks.i.*``, ``norm``, ``head``): InternVL's reading (recipe ``internvl``) of the bare model,
    so with ``L`` blocks the embeddings have layer id 0, block ``i`` ``i + 1`` and the rest
    ``L + 1``, scaled by the formula of ``mmcv_custom.layer_decay._plan`` with
    ``rate = layer_decay``. 1-D parameters, biases and the names in ``no_weight_decay_list`` get
    weight decay 0.

    Returns exactly what MAE's ``util.lr_decay.param_groups_lrd`` returns: dicts with
    ``lr_scale``, ``weight_decay`` and ``params``, one per (layer, decay / no-decay), in
    first-appearance order. The training loop sets ``group['lr'] = lr * group['lr_scale']``.
    ValueError / TypeError for a ``layer_decay`` outside (0, 1].

    Example::

        groups = param_groups_lrd(model, 0.05, model.no_weight_decay(), layer_decay=0.65)
        optimizer = torch.optim.AdamW(groups, lr=1e-3)
    """
    rate = check_number('layer_decay', layer_decay, RATE, 'a number in (0, 1]')
    settings = _SCHEMA.parse({'layer_decay_rate': rate, 'backbone_prefix': ''})
    params = collect_params(model)
    plan = make_plan(Candidates((INTERNVL,)), settings,
                     OptimizerSettings(base_lr=1.0, base_wd=float(weight_decay), wd_given=True),
                     params, model, no_decay_names=frozenset(no_weight_decay_list))
    return [{key: group[key] for key in MAE_GROUP_KEYS} for group in group_params(params, plan)]
