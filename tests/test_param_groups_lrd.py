"""mmcv_custom.param_groups_lrd: MAE's param_groups_lrd for plain PyTorch loops."""
import torch

from mmcv_custom import param_groups_lrd
from toy_models import TimmViT

WD, DECAY = 0.05, 0.75


def scale(layer_id: int, depth: int = 3) -> float:
    """MAE: layer_decay ** (num_layers - layer_id) with num_layers = len(blocks) + 1."""
    return DECAY ** (depth + 1 - layer_id)


def test_groups_equal_maes_for_a_timm_style_vit():
    model = TimmViT(depth=3)
    groups = param_groups_lrd(model, WD, model.no_weight_decay(), DECAY)
    names = {id(p): n for n, p in model.named_parameters()}
    got = [(g['lr_scale'], g['weight_decay'], [names[id(p)] for p in g['params']])
           for g in groups]
    block = lambda i: [f'blocks.{i}.{n}' for n in  # noqa: E731
                       ('ls1', 'ls2', 'norm1.weight', 'norm1.bias', 'attn.bias', 'norm2.weight',
                        'norm2.bias', 'mlp.bias')]
    expected = [
        # layer 0: cls_token and pos_embed listed in no_weight_decay(); the patch-embed conv decays
        (scale(0), 0.0, ['cls_token', 'pos_embed', 'patch_embed.proj.bias']),
        (scale(0), WD, ['patch_embed.proj.weight']),
    ]
    for i in range(3):
        expected += [(scale(i + 1), 0.0, block(i)),
                     (scale(i + 1), WD, [f'blocks.{i}.attn.weight', f'blocks.{i}.mlp.weight'])]
    expected += [(1.0, 0.0, ['fc_norm.weight', 'fc_norm.bias', 'head.bias']),
                 (1.0, WD, ['head.weight'])]
    assert sorted(got, key=lambda g: g[2]) == sorted(expected, key=lambda g: g[2])
    assert [set(g.keys()) for g in groups] == [{'lr_scale', 'weight_decay', 'params'}] * len(groups)


def test_group_order_is_first_appearance():
    model = TimmViT(depth=2)
    groups = param_groups_lrd(model, WD, (), DECAY)
    first = [g['params'][0] for g in groups]
    order = [p for p in model.parameters() if any(p is f for f in first)]
    assert [id(p) for p in first] == [id(p) for p in order]


def test_tokens_decay_when_not_listed_as_in_mae():
    model = TimmViT(depth=2)
    groups = param_groups_lrd(model, WD, (), DECAY)
    cls_group = next(g for g in groups if any(p is model.cls_token for p in g['params']))
    assert cls_group['weight_decay'] == WD


def test_groups_drive_a_plain_adamw_loop():
    model = TimmViT(depth=2)
    groups = param_groups_lrd(model, WD, model.no_weight_decay(), DECAY)
    optimizer = torch.optim.AdamW(groups, lr=1e-3)
    for group in optimizer.param_groups:
        group['lr'] = 1e-3 * group['lr_scale']
    before = model.cls_token.detach().clone()
    model.head(model.cls_token.squeeze(1)).sum().backward()
    optimizer.step()
    assert not torch.equal(before, model.cls_token)
