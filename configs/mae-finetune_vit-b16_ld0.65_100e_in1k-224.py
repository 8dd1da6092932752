# ImageNet-1k fine-tuning of an MAE-pretrained ViT-B/16 (mmpretrain VisionTransformer), MAE's
# recipe: AdamW with base lr 5e-4 per 256 images (lr = 5e-4 * 1024 / 256 = 2e-3 for 8 GPUs x 128),
# weight decay 0.05, layer-wise lr decay 0.65, 100 epochs: 5 warm-up epochs then cosine down to
# 1e-6 x the group's lr scale (both stepped every iteration), label smoothing 0.1,
# Mixup 0.8 / CutMix 1.0, drop path 0.1.
#
# Constructor: CustomLayerDecayOptimizerConstructor with layer_ids_from_model=True. mmpretrain's
# VisionTransformer implements get_layer_depth(param_name, prefix), so the backbone states its own
# layer ids and depth (num_layers is read from it, not retyped here): cls_token, pos_embed,
# patch_embed -> 0, layers.i -> i + 1, everything else (the classifier head) -> 13, and
# lr = 2e-3 * 0.65 ** (13 - layer_id). LearningRateDecayOptimizerConstructor would build the same
# groups; the Custom constructor's `layer_decay_rate` is the name MAE and mmpretrain use.
# custom_keys exempt norms, biases, the class token and the position embedding from weight decay,
# as mmpretrain's MAE fine-tuning config does.
_base_ = [
    './_base_/default_runtime_mmpretrain.py',
    './_base_/datasets/imagenet_bs128_mae-finetune_224.py',
]
custom_imports = dict(imports=['mmcv_custom'], allow_failed_imports=False)

mae_vit_b_checkpoint = 'https://download.openmmlab.com/mmselfsup/1.x/mae/mae_vit-base-p16_8xb512-fp16-coslr-1600e_in1k/mae_vit-base-p16_8xb512-fp16-coslr-1600e_in1k_20220825-f7569ca2.pth'  # noqa: E501
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='VisionTransformer',
        arch='base',
        img_size=224,
        patch_size=16,
        drop_path_rate=0.1,
        out_type='avg_featmap',
        final_norm=False,
        init_cfg=dict(type='Pretrained', checkpoint=mae_vit_b_checkpoint, prefix='backbone.')),
    neck=None,
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=768,
        loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
        init_cfg=[dict(type='TruncNormal', layer='Linear', std=2e-5)]),
    train_cfg=dict(augments=[dict(type='Mixup', alpha=0.8), dict(type='CutMix', alpha=1.0)]))

base_lr = 5e-4
total_batch_size = 8 * 128
lr = base_lr * total_batch_size / 256
min_lr = 1e-6
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=lr, betas=(0.9, 0.999), weight_decay=0.05),
    constructor='CustomLayerDecayOptimizerConstructor',
    paramwise_cfg=dict(
        layer_decay_rate=0.65,
        layer_ids_from_model=True,
        custom_keys={
            '.ln': dict(decay_mult=0.0),
            '.bias': dict(decay_mult=0.0),
            '.cls_token': dict(decay_mult=0.0),
            '.pos_embed': dict(decay_mult=0.0),
        }))

# MAE scales the whole schedule, its floor min_lr included, by each group's lr_scale, so a group
# ends at min_lr * lr_scale. MMEngine's `eta_min` is one absolute floor for every group (the
# embeddings, at 2e-3 * 0.65 ** 13 ~ 7.5e-6, would end at 1e-6, 13% of their peak);
# `eta_min_ratio` is relative to each group's own lr, which reproduces MAE.
warmup_epochs = 5
max_epochs = 100
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=warmup_epochs,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - warmup_epochs, eta_min_ratio=min_lr / lr,
         by_epoch=True, begin=warmup_epochs, end=max_epochs, convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=1)
val_cfg = dict()
test_cfg = dict()
# lr above is for a total batch of 1024; enable to rescale it to another batch size.
auto_scale_lr = dict(enable=False, base_batch_size=total_batch_size)
