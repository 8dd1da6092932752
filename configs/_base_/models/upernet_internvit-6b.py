# UPerNet on InternViT-6B as InternVL's ADE20K full tuning builds it (OpenGVLab/InternVL
# segmentation/configs/intern_vit_6b/full_tuning/
# upernet_intern_vit_6b_504_80k_ade20k_bs16_lr4e-5.py, on mmseg 0.x's _base_/models/upernet_r50.py),
# for MMSegmentation 1.x with mmcv_custom's
# InternViT backbone and InternVLFeaturePyramid neck (custom_imports of mmcv_custom registers both).
#
# - backbone: InternViT-6B (48 blocks, width 3200, RMSNorm, QK-norm, layer scale 0.1, no qkv
#   bias), position embedding at the 224 px pretraining grid (16 x 16) resized to 36 x 36 for the
#   504 px crops; features of blocks 11, 23, 35, 47 (class token dropped, no final norm);
#   stochastic depth up to 0.4; per-block activation checkpointing (with_cp=True, as InternVL);
# - neck: InternVL's with_fpn upsampler: x4 (deconv, LayerNorm, GELU, deconv), x2 (deconv), x1,
#   x0.5 (max-pool), 3200 channels each;
# - UPerHead and the auxiliary FCNHead (on the x1 map, loss weight 0.4) at 1536 channels, SyncBN;
# - slide inference with 504 crops and stride 322.
norm_cfg = dict(type='SyncBN', requires_grad=True)
embed_dims = 3200
data_preprocessor = dict(
    type='SegDataPreProcessor',
    size=(504, 504),
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255)
model = dict(
    type='EncoderDecoder',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='InternViT',
        arch='6b',
        img_size=504,
        patch_size=14,
        pretrain_img_size=224,
        out_indices=(11, 23, 35, 47),
        drop_path_rate=0.4,
        layer_scale_init_value=0.1,
        with_cp=True,
        frozen=False,
        # intern_vit_6b_224px.pth converted by tools/model_converters/internvit.py (README,
        # "Fine-tuning InternViT"); loaded strictly
        init_cfg=dict(type='Pretrained',
                      checkpoint='pretrain/intern_vit_6b_224px_mmcv_custom.pth')),
    neck=dict(type='InternVLFeaturePyramid', in_channels=embed_dims),
    decode_head=dict(
        type='UPerHead',
        in_channels=[embed_dims] * 4,
        in_index=[0, 1, 2, 3],
        pool_scales=(1, 2, 3, 6),
        channels=1536,
        dropout_ratio=0.1,
        num_classes=150,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    auxiliary_head=dict(
        type='FCNHead',
        in_channels=embed_dims,
        in_index=2,
        channels=1536,
        num_convs=1,
        concat_input=False,
        dropout_ratio=0.1,
        num_classes=150,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=0.4)),
    train_cfg=dict(),
    test_cfg=dict(mode='slide', crop_size=(504, 504), stride=(322, 322)))
