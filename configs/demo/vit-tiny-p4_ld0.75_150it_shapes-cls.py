# Classification demo: mmpretrain ImageClassifier with a tiny ViT (4 layers, width 64, patch 4)
# trained on synthetic shapes in ImageNet-style class folders (tools/make_demo_data.py) with
# CustomLayerDecayOptimizerConstructor, on the CPU.
#   make demo-cls   (or: python tools/train.py configs/demo/<this file>)
# Self-contained: needs mmpretrain installed, no checkout of another project.
custom_imports = dict(imports=['mmcv_custom', 'mmpretrain.models'], allow_failed_imports=False)
default_scope = 'mmpretrain'

# ----- data: <split>/<class>/*.jpg -----
data_root = 'data/demo/cls'
classes = ('circle', 'square', 'triangle')
dataset_type = 'CustomDataset'
data_preprocessor = dict(
    num_classes=len(classes), mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
    to_rgb=True)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=16,
    num_workers=0,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, data_prefix='train', classes=classes,
                 with_label=True, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=32,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, data_prefix='val', classes=classes,
                 with_label=True, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_evaluator = val_evaluator

# ----- model -----
depth = 4
embed_dims = 64
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='VisionTransformer',
        arch=dict(embed_dims=embed_dims, num_layers=depth, num_heads=4,
                  feedforward_channels=4 * embed_dims),
        img_size=32, patch_size=4, drop_rate=0.0, drop_path_rate=0.0,
        out_type='cls_token', with_cls_token=True),
    neck=None,
    head=dict(
        type='VisionTransformerClsHead', num_classes=len(classes), in_channels=embed_dims,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0), topk=(1, )))

# ----- optimizer: AdamW with layer-wise lr decay over the ViT's blocks -----
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-3, betas=(0.9, 0.999), weight_decay=0.05),
    constructor='CustomLayerDecayOptimizerConstructor',
    paramwise_cfg=dict(num_layers=depth, layer_decay_rate=0.75))

# ----- schedule: linear warm-up, then cosine; validate and save at the end -----
max_iters = 150
warmup_iters = 15
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=warmup_iters),
    dict(type='CosineAnnealingLR', eta_min=0.0, by_epoch=False, begin=warmup_iters,
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
    visualization=dict(type='VisualizationHook', enable=False))
custom_hooks = [dict(type='LayerDecayLrHook')]
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='gloo'))
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='UniversalVisualizer', vis_backends=vis_backends)
log_processor = dict(type='LayerDecayLogProcessor', window_size=10, by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0)
