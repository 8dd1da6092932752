# UPerNet + ConvNeXt-B (mmpretrain ConvNeXt) on ADE20K 512x512, 160k iterations, as mmseg's
# ConvNeXt configs: AdamW lr 1e-4, weight decay 0.05, stage-wise lr decay 0.9 with num_layers=12,
# 1500 warm-up iterations then poly decay, mixed precision, 8 GPUs x 2 images.
#
# Layer ids (LearningRateDecayOptimizerConstructor, decay_type='stage_wise'): the downsampling
# layers (stem included) -> 0, stage s -> s + 1, everything else (heads) -> 13, so
# lr = 1e-4 * 0.9 ** (13 - layer_id): the stem 0.9 ** 13, stage 3 0.9 ** 9, the heads 1.
_base_ = [
    './_base_/default_runtime_mmseg.py',
    './_base_/datasets/ade20k_512x512.py',
    './_base_/schedules/seg_warmup1500_poly_160k.py',
]
# mmpretrain.models registers the ConvNeXt backbone used as 'mmpretrain.ConvNeXt' below.
custom_imports = dict(imports=['mmcv_custom', 'mmpretrain.models'], allow_failed_imports=False)

crop_size = (512, 512)
norm_cfg = dict(type='SyncBN', requires_grad=True)
convnext_b_checkpoint = 'https://download.openmmlab.com/mmclassification/v0/convnext/downstream/convnext-base_3rdparty_32xb128-noema_in1k_20220301-2a0ee547.pth'  # noqa: E501
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
    pretrained=None,
    backbone=dict(
        type='mmpretrain.ConvNeXt',
        arch='base',
        out_indices=[0, 1, 2, 3],
        drop_path_rate=0.4,
        layer_scale_init_value=1.0,
        gap_before_final_norm=False,
        init_cfg=dict(type='Pretrained', checkpoint=convnext_b_checkpoint, prefix='backbone.')),
    decode_head=dict(
        type='UPerHead',
        in_channels=[128, 256, 512, 1024],
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
        in_channels=512,
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
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(341, 341)))

optim_wrapper = dict(
    type='AmpOptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.05),
    constructor='LearningRateDecayOptimizerConstructor',
    paramwise_cfg=dict(decay_rate=0.9, decay_type='stage_wise', num_layers=12),
    loss_scale='dynamic')
