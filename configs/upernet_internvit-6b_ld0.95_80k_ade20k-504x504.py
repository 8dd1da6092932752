# UPerNet on an InternViT-6B-scale ViT on ADE20K 504x504, 80k iterations, with InternVL's
# segmentation fine-tuning setting: AdamW lr 4e-5, weight decay 0.05, layer-wise lr decay 0.95
# over 48 blocks, poly decay (after 1500 warm-up iterations), bf16 mixed precision.
#
# The backbone is mmpretrain's VisionTransformer with a custom arch of InternViT-6B's size:
# 48 blocks, width 3200, 25 heads, MLP 12800, patch 14 (504 / 14 = 36 x 36 tokens), layer scale,
# no qkv bias -- about 5.9e9 backbone parameters. (InternViT-6B itself also uses RMSNorm and
# QK-normalisation, which mmpretrain's ViT does not have; the parameter layout and the layer
# decay are the same.) Build it on the meta device to inspect it:
#     python tools/analysis_tools/param_groups.py <this config> --meta
#
# Layer ids (CustomLayerDecayOptimizerConstructor): cls_token, pos_embed, patch_embed -> 0,
# backbone.layers.i -> i + 1, everything else (final norm, neck, heads) -> 49, so
# lr = 4e-5 * 0.95 ** (49 - layer_id): the embeddings 4e-5 * 0.95 ** 49 ~ 3.2e-6.
_base_ = [
    './_base_/default_runtime_mmseg.py',
    './_base_/datasets/ade20k_512x512.py',
    './_base_/schedules/seg_warmup1500_poly_80k.py',
]
# mmpretrain.models registers the VisionTransformer used as 'mmpretrain.VisionTransformer'.
custom_imports = dict(imports=['mmpretrain.models', 'mmcv_custom'], allow_failed_imports=False)

crop_size = (504, 504)
num_layers = 48
embed_dims = 3200
norm_cfg = dict(type='SyncBN', requires_grad=True)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='RandomResize', scale=(2016, 504), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2016, 504), keep_ratio=True),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='PackSegInputs'),
]
# 8 GPUs x 2 images, a total batch of 16.
train_dataloader = dict(batch_size=2, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(batch_size=1, dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

model = dict(
    type='EncoderDecoder',
    data_preprocessor=dict(
        type='SegDataPreProcessor',
        size=crop_size,
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_val=0,
        seg_pad_val=255),
    backbone=dict(
        type='mmpretrain.VisionTransformer',
        arch=dict(embed_dims=embed_dims, num_layers=num_layers, num_heads=25,
                  feedforward_channels=12800),
        img_size=crop_size[0],
        patch_size=14,
        # features of the last quarter of the blocks; the final norm applies to block 47's
        out_indices=(35, 39, 43, 47),
        out_type='featmap',
        qkv_bias=False,
        layer_scale_init_value=0.1,
        drop_path_rate=0.4,
        final_norm=True,
        with_cls_token=True,
        norm_cfg=dict(type='LN', eps=1e-6),
        # InternViT-6B weights converted to mmpretrain's key layout; loaded by init_weights.
        init_cfg=dict(type='Pretrained', checkpoint='pretrain/intern_vit_6b_mmpretrain.pth',
                      prefix='backbone.')),
    # one 36 x 36 map per chosen block -> strides 3.5, 7, 14 and 28 for UPerNet
    neck=dict(type='MultiLevelNeck', in_channels=[embed_dims] * 4, out_channels=1024,
              scales=[4, 2, 1, 0.5]),
    decode_head=dict(
        type='UPerHead',
        in_channels=[1024, 1024, 1024, 1024],
        in_index=[0, 1, 2, 3],
        pool_scales=(1, 2, 3, 6),
        channels=1024,
        dropout_ratio=0.1,
        num_classes=150,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    auxiliary_head=dict(
        type='FCNHead',
        in_channels=1024,
        in_index=2,
        channels=256,
        num_convs=1,
        concat_input=False,
        dropout_ratio=0.1,
        num_classes=150,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=0.4)),
    train_cfg=dict(),
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(336, 336)))

# bf16 autocast; AmpOptimWrapper needs a GPU (the inspector builds an OptimWrapper on a CPU).
optim_wrapper = dict(
    type='AmpOptimWrapper',
    dtype='bfloat16',
    optimizer=dict(type='AdamW', lr=4e-5, betas=(0.9, 0.999), weight_decay=0.05),
    constructor='CustomLayerDecayOptimizerConstructor',
    paramwise_cfg=dict(num_layers=num_layers, layer_decay_rate=0.95))
