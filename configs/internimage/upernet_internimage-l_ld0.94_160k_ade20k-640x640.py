# UPerNet on InternImage-L, ADE20K 640x640, 160k iterations: OpenGVLab/InternImage's
# segmentation/configs/ade20k/upernet_internimage_l_640_160k_ade20k.py in OpenMMLab 2.x form.
#
# Its optimization, as published: AdamW lr 2e-5, weight decay 0.05, gradient clipping at 0.1,
# CustomLayerDecayOptimizerConstructor with InternImage's keys (num_layers=37,
# layer_decay_rate=0.94, depths=[5, 5, 22, 5], offset_lr_scale=1.0). mmcv_custom reads these keys
# with InternImage's segmentation rule (recipe internimage_seg): block B of level S has layer id
# B + 1 + sum(depths[:S]); a level's downsample / norm 1 + sum(depths[:S + 1]); patch_embed 0;
# the decode and auxiliary heads 38; lr = 2e-5 * 0.94 ** (38 - layer_id); weight decay 0 for 1-D
# parameters, biases and names containing 'norm', 'relative_position' or 'sampling_offsets'.
#
# The InternImage backbone (type='InternImage', with the DCNv3 op) is not part of MMSegmentation:
# register it in the mmseg scope with InternImage's own code ported to MMSegmentation 1.x and add
# its module to custom_imports. Inspecting the param groups needs only a module with InternImage's
# parameter names (the tests build one on the meta device); the DCNv3 op is not needed for that.
_base_ = [
    '../_base_/default_runtime_mmseg.py',
    '../_base_/datasets/ade20k_512x512.py',
    '../_base_/schedules/seg_warmup1500_poly_160k.py',
]
custom_imports = dict(imports=['mmcv_custom'], allow_failed_imports=False)

crop_size = (640, 640)
depths = [5, 5, 22, 5]
channels = 160
norm_cfg = dict(type='SyncBN', requires_grad=True)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='RandomResize', scale=(2560, 640), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2560, 640), keep_ratio=True),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='PackSegInputs'),
]
# 8 GPUs x 2 images, as published.
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
        type='InternImage',
        core_op='DCNv3',
        channels=channels,
        depths=depths,
        groups=[10, 20, 40, 80],
        mlp_ratio=4.,
        drop_path_rate=0.4,
        norm_layer='LN',
        layer_scale=1.0,
        offset_scale=2.0,
        post_norm=True,
        with_cp=False,
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(type='Pretrained', checkpoint='pretrain/internimage_l_22k_192to384.pth')),
    decode_head=dict(
        type='UPerHead',
        in_channels=[160, 320, 640, 1280],
        in_index=[0, 1, 2, 3],
        pool_scales=(1, 2, 3, 6),
        channels=512,
        dropout_ratio=0.1,
        num_classes=150,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    auxiliary_head=dict(
        type='FCNHead',
        in_channels=640,
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
    test_cfg=dict(mode='whole'))

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-5, betas=(0.9, 0.999), weight_decay=0.05),
    clip_grad=dict(max_norm=0.1, norm_type=2),
    constructor='CustomLayerDecayOptimizerConstructor',
    paramwise_cfg=dict(num_layers=37, layer_decay_rate=0.94, depths=depths, offset_lr_scale=1.0))
train_cfg = dict(val_interval=16000)
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=1000, max_keep_ckpts=1,
                                     save_best='mIoU'))
