"""``LayerDecayLrHook``: log the head and embedding learning rates, save the group records."""
import json
import math
import os.path as osp
from typing import Any, Dict, List, Optional, Sequence, Tuple

from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from torch import nn

from ..layer_decay._params import collect_params
from ..layer_decay._report import SUMMARY_KEYS, group_records

#: Message-hub keys the hook writes (the logger prints them without the ``train/`` prefix).
HEAD_KEY = 'train/lr_head'
EMBED_KEY = 'train/lr_embed'
SUMMARY_FILE = 'param_groups.json'


def optimizer_param_groups(optim_wrapper: Any) -> Optional[List[dict]]:
    """The param groups of the optimizer inside ``optim_wrapper`` (``OptimWrapper``,
    ``AmpOptimWrapper``, ...), or None for wrappers without a single ``optimizer``
    (``OptimWrapperDict``)."""
    optimizer = getattr(optim_wrapper, 'optimizer', None)
    return None if optimizer is None else optimizer.param_groups


def head_and_embed_groups(param_groups: Sequence[dict]) -> Tuple[dict, dict]:
    """The groups with the largest and the smallest ``layer_id`` (the first of each in group
    order); when some group lacks ``layer_id``, the groups with the largest and smallest lr."""
    if not param_groups:
        raise ValueError('LayerDecayLrHook: the optimizer has no param groups')
    if all('layer_id' in group for group in param_groups):
        key = lambda group: group['layer_id']  # noqa: E731
    else:
        key = lambda group: group['lr']  # noqa: E731
    return max(param_groups, key=key), min(param_groups, key=key)


def _bare_model_holder(model: nn.Module) -> nn.Module:
    """``model``, or for MMEngine's DeepSpeed wrapper the model inside its engine (FSDP and DDP
    wrappers are kept: ``collect_params`` reads FSDP's records from the root unit)."""
    try:
        from mmengine._strategy.deepspeed import MMDeepSpeedEngineWrapper
    except ImportError:
        return model
    return model.model.module if isinstance(model, MMDeepSpeedEngineWrapper) else model


def original_numels(model: nn.Module) -> Dict[str, int]:
    """``{canonical name: elements in the bare model}`` for the trainable parameters of the
    (possibly FSDP- or DeepSpeed-wrapped) ``model`` (``layer_decay._params.collect_params``)."""
    return {info.name: math.prod(info.shape)
            for info in collect_params(_bare_model_holder(model)).trainable}


def constructed_records(param_groups: Sequence[dict],
                        numel_by_name: Optional[Dict[str, int]] = None) -> Dict[str, dict]:
    """``group_records`` of the groups as the constructor built them: MMEngine's schedulers
    move ``lr`` at once (a warm-up starts low) and keep the built value in ``initial_lr``."""
    groups = [dict(group, lr=group.get('initial_lr', group['lr'])) for group in param_groups]
    return group_records(groups, numel_by_name)


@HOOKS.register_module()
class LayerDecayLrHook(Hook):
    """Make a layer-decay run's log say which learning rates are in use.

    MMEngine logs ``lr``, the learning rate of param group 0; with layer-wise decay that is the
    embeddings' group, the *smallest* lr. This hook

    - after every training iteration writes the lr of the head group (largest ``layer_id``) and of
      the embedding group (smallest ``layer_id``) to the message hub as ``train/lr_head`` and
      ``train/lr_embed``, so ``LoggerHook`` prints them and the visualizer backends record them
      (``vis_data/scalars.json``). Groups without ``layer_id`` fall back to the largest and
      smallest lr. The values are those used in that iteration (the parameter schedulers step
      later, at lower priority than the logger);
    - before training, on rank 0, writes ``param_groups.json`` into the work dir:
      :func:`mmcv_custom.group_records` of the groups (the schema the inspector
      ``tools/analysis_tools/param_groups.py`` writes too), with every group's ``lr`` as the
      constructor built it: its ``initial_lr`` when present, since a warm-up scheduler has
      already lowered the current lr by then. Tensor and parameter counts are those of the
      whole model (canonical names, original shapes), also where the optimizer holds one rank's
      shards (FSDP, DeepSpeed ZeRO).

    It runs at ``'NORMAL'`` priority, before ``LoggerHook`` (``'BELOW_NORMAL'``). Wrappers without
    a single optimizer (``OptimWrapperDict``) are skipped with a warning. ``tools/train.py`` adds
    it when the config uses one of mmcv_custom's constructors; by hand::

        custom_hooks = [dict(type='LayerDecayLrHook')]

    Args:
        summary_file (str): File name of the group records in the work dir, or '' for none.
            Defaults to ``'param_groups.json'``.
    """

    priority = 'NORMAL'

    def __init__(self, summary_file: str = SUMMARY_FILE) -> None:
        if not isinstance(summary_file, str):
            raise TypeError(f'LayerDecayLrHook: summary_file must be a str, got '
                            f'{type(summary_file).__name__}')
        self.summary_file = summary_file
        self._warned = False

    def _groups(self, runner: Any) -> Optional[List[dict]]:
        groups = optimizer_param_groups(runner.optim_wrapper)
        if groups is None and not self._warned:
            self._warned = True
            runner.logger.warning(
                f'LayerDecayLrHook: {type(runner.optim_wrapper).__name__} has no single '
                'optimizer; lr_head / lr_embed and param_groups.json are skipped')
        return groups

    def before_train(self, runner: Any) -> None:
        groups = self._groups(runner)
        if groups is None or not self.summary_file or not is_main_process():
            return
        missing = sorted({key for group in groups for key in ('group_name',) + SUMMARY_KEYS
                          if key not in group})
        if missing:
            runner.logger.warning(
                f'LayerDecayLrHook: the param groups lack {missing} (not built by a layer-decay '
                f'constructor?); {self.summary_file} is not written')
            return
        path = osp.join(runner.work_dir, self.summary_file)
        with open(path, 'w', encoding='utf-8') as file:
            model = getattr(runner, 'model', None)
            numels = None if model is None else original_numels(model)
            json.dump(constructed_records(groups, numels), file, indent=2)
        runner.logger.info(f'LayerDecayLrHook: param group records written to {path}')

    def after_train_iter(self, runner: Any, batch_idx: int, data_batch: Any = None,
                         outputs: Any = None) -> None:
        groups = self._groups(runner)
        if groups is None:
            return
        head, embed = head_and_embed_groups(groups)
        runner.message_hub.update_scalar(HEAD_KEY, head['lr'])
        runner.message_hub.update_scalar(EMBED_KEY, embed['lr'])
