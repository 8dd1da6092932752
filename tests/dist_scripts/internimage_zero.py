"""On each of 2 gloo ranks: InternImage's optimizer wrapped in ZeroRedundancyOptimizer keeps every
parameter's lr and weight decay, and each rank's local groups name their own parameters."""
import json
import os
import sys

import torch
import torch.distributed as dist

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))
from test_param_groups_internimage import InternImageClassifier  # noqa: E402

from mmcv_custom import build_internimage_optimizer, param_groups_internimage  # noqa: E402


def main() -> None:
    dist.init_process_group('gloo')
    torch.manual_seed(0)
    model = InternImageClassifier()
    optimizer = build_internimage_optimizer(model, 'adamw', 1e-3, 0.05, lr_layer_decay_ratio=0.8,
                                            dcn_lr_mul=0.1, use_zero=True)
    exposed = {name: (group['lr'], group['weight_decay'])
               for group in optimizer.param_groups for name in group['param_names']}
    bare = {name: (group['lr'], group['weight_decay'])
            for group in param_groups_internimage(model, 0.05, 1e-3, 0.8, dcn_lr_mul=0.1)
            for name in group['param_names']}
    names = dict(model.named_parameters())
    local_ok = all(names[name] is param for group in optimizer.optim.param_groups
                   for name, param in zip(group['param_names'], group['params']))
    report = json.dumps(dict(rank=dist.get_rank(), same=exposed == bare, local_ok=local_ok,
                             owned=sum(len(g['params']) for g in optimizer.optim.param_groups)))
    sys.stdout.write(report + '\n')  # one write: the two ranks' lines do not interleave
    sys.stdout.flush()
    dist.destroy_process_group()


if __name__ == '__main__':
    main()
