"""``ReliabilityGroupDigest``: each rank writes the digest of its optimizer's param groups to
``<work_dir>/groups_rank{R}.json`` before training (import it with ``custom_imports``)."""
import hashlib
import json
import os.path as osp

from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.registry import HOOKS


def group_digest(groups) -> dict:
    """What must be identical on every rank: names, members, lr and weight decay, in order."""
    layout = [[g['group_name'], list(g['param_names']), repr(g['lr']), repr(g['weight_decay'])]
              for g in groups]
    return dict(layout=layout,
                sha256=hashlib.sha256(json.dumps(layout).encode()).hexdigest())


@HOOKS.register_module(name='ReliabilityGroupDigest', force=True)
class GroupDigest(Hook):

    def before_train(self, runner) -> None:
        path = osp.join(runner.work_dir, f'groups_rank{get_rank()}.json')
        with open(path, 'w') as f:
            json.dump(group_digest(runner.optim_wrapper.optimizer.param_groups), f)
