# Segmentation demo: a tiny ViT + UPerNet trained on synthetic shapes (tools/make_demo_data.py)
# with CustomLayerDecayOptimizerConstructor, on the CPU in about two minutes.
#   make demo   (or: python tools/train.py configs/demo/upernet_vit-tiny_ld0.9_200it_shapes-seg.py)
# Self-contained: needs mmseg installed, no checkout of another project.
custom_imports = dict(imports=['mmcv_custom'], allow_failed_imports=False)
default_scope = 'mmseg'

# ----- data: ADE20K-style folders, label 0 = background -----
data_root = 'data/demo/seg'
crop_size = (64, 64)
num_classes = 4
metainfo = dict(classes=('background', 'circle', 'square', 'triangle'),
                palette=[[0, 0, 0], [220, 60, 50], [50, 190, 70], [60, 80, 220]])
dataset_type = 'BaseSegDataset'
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    batch_size=8,
    num_workers=0,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type, data_root=data_root, metainfo=metainfo, reduce_zero_label=False,
        img_suffix='.jpg', seg_map_suffix='.png',
        data_prefix=dict(img_path='images/training', seg_map_path='annotations/training'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type, data_root=data_root, metainfo=metainfo, reduce_zero_label=False,
        img_suffix='.jpg', seg_map_suffix='.png',
        data_prefix=dict(img_path='images/validation', seg_map_path='annotations/validation'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator

# ----- model: ViT (4 layers, width 64, patch 4) + multi-level neck + UPerHead -----
norm_cfg = dict(type='BN', requires_grad=True)  # SyncBN needs GPUs
depth = 4
embed_dims = 64
data_preprocessor = dict(
    type='SegDataPreProcessor', size=crop_size, mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375], bgr_to_rgb=True, pad_val=0, seg_pad_val=255)
model = dict(
    type='EncoderDecoder',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='VisionTransformer', img_size=crop_size, patch_size=4, in_channels=3,
        embed_dims=embed_dims, num_layers=depth, num_heads=4, mlp_ratio=4,
        out_indices=(0, 1, 2, 3), qkv_bias=True, drop_rate=0.0, attn_drop_rate=0.0,
        drop_path_rate=0.0, with_cls_token=True, final_norm=True,
        norm_cfg=dict(type='LN', eps=1e-6), act_cfg=dict(type='GELU'),
        interpolate_mode='bicubic'),
    neck=dict(type='MultiLevelNeck', in_channels=[embed_dims] * 4, out_channels=embed_dims,
              scales=[2, 1, 0.5, 0.25]),
    decode_head=dict(
        type='UPerHead', in_channels=[embed_dims] * 4, in_index=[0, 1, 2, 3],
        pool_scales=(1, 2, 3, 6), channels=64, dropout_ratio=0.1, num_classes=num_classes,
        norm_cfg=norm_cfg, align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))

# ----- optimizer: AdamW with layer-wise lr decay over the ViT's blocks -----
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.999), weight_decay=0.05),
    constructor='CustomLayerDecayOptimizerConstructor',
    paramwise_cfg=dict(num_layers=depth, layer_decay_rate=0.9))

# ----- schedule: linear warm-up, then poly decay; validate and save at the end -----
max_iters = 200
warmup_iters = 20
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=warmup_iters),
    dict(type='PolyLR', power=1.0, eta_min=0.0, by_epoch=False, begin=warmup_iters,
         end=max_iters),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

# ----- runtime -----
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=10, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=max_iters),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
custom_hooks = [dict(type='LayerDecayLrHook')]
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='gloo'))
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='SegLocalVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(type='LayerDecayLogProcessor', by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0)
