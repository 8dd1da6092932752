"""FSDP wrap and activation-checkpointing policies by module class name, for configs.

MMEngine's ``FSDPStrategy`` builds ``model_wrapper.auto_wrap_policy`` and
``activation_checkpointing.check_fn`` from MMEngine's ``FUNCTIONS`` registry. torch's own policies
take class objects, which a plain config file cannot name; these take class *names*::

    strategy = dict(
        type='FSDPStrategy',
        model_wrapper=dict(auto_wrap_policy=dict(type='wrap_modules_by_class_name',
                                                 class_names=['TransformerEncoderLayer'])),
        activation_checkpointing=dict(check_fn='is_vit_block'))

``check_fn`` is given by name only: MMEngine 0.10.7 binds a dict ``check_fn``'s arguments from the
wrong dict (``mmengine/_strategy/fsdp.py``, ``FSDPStrategy._wrap_model``: ``partial(fn_type,
**cfg)``), so :func:`is_vit_block` takes none and knows the block classes of the ViTs
mmcv_custom serves (:data:`VIT_BLOCK_CLASS_NAMES`).
"""
from typing import Sequence

from mmengine.registry import FUNCTIONS
from torch import nn

__all__ = ['VIT_BLOCK_CLASS_NAMES', 'wrap_modules_by_class_name', 'module_class_name_in',
           'is_vit_block']

#: Transformer blocks: mmpretrain / mmseg ViT, BEiT, InternVL's InternViT, timm / DINOv2 / EVA.
VIT_BLOCK_CLASS_NAMES = ('TransformerEncoderLayer', 'BEiTTransformerEncoderLayer',
                         'InternVisionEncoderLayer', 'Block')


def _check(class_names: Sequence[str]) -> None:
    if isinstance(class_names, str) or not all(isinstance(n, str) for n in class_names):
        raise TypeError(f'class_names must be a list of class names (str), got {class_names!r}')


@FUNCTIONS.register_module()
def module_class_name_in(module: nn.Module, class_names: Sequence[str]) -> bool:
    """Whether ``type(module).__name__`` is one of ``class_names``. A ``check_fn`` for torch's
    ``apply_activation_checkpointing`` when bound in Python (``functools.partial``); MMEngine
    0.10.7 configs cannot bind it (module docstring). TypeError when ``class_names`` is not a
    list of str."""
    _check(class_names)
    return type(module).__name__ in class_names


@FUNCTIONS.register_module()
def wrap_modules_by_class_name(module: nn.Module, recurse: bool, nonwrapped_numel: int,
                               class_names: Sequence[str]) -> bool:
    """torch FSDP ``auto_wrap_policy``: one FSDP unit per module whose class name is in
    ``class_names`` (e.g. each transformer block); the rest stays in the parent unit."""
    return True if recurse else module_class_name_in(module, class_names)


@FUNCTIONS.register_module()
def is_vit_block(module: nn.Module) -> bool:
    """Whether ``module`` is a transformer block (:data:`VIT_BLOCK_CLASS_NAMES`): an
    activation-checkpointing ``check_fn``."""
    return type(module).__name__ in VIT_BLOCK_CLASS_NAMES
