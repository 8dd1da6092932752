# UPerNet + ViT-B/16 (mmseg VisionTransformer) on ADE20K 512x512, 160k iterations, with MAE's
# fine-tuning recipe for segmentation: AdamW lr 1e-4, weight decay 0.05, layer-wise lr decay 0.65
# over the 12 blocks, 1500 warm-up iterations then poly decay, 8 GPUs x 2 images.
#
# Layer ids (CustomLayerDecayOptimizerConstructor): cls_token, pos_embed, patch_embed -> 0,
# backbone.layers.i -> i + 1, everything else (final norm, neck, heads) -> 13, so
# lr = 1e-4 * 0.65 ** (13 - layer_id).
_base_ = [
    './_base_/default_runtime_mmseg.py',
    './_base_/datasets/ade20k_512x512.py',
    './_base_/schedules/seg_warmup1500_poly_160k.py',
]
custom_imports = dict(imports=['mmcv_custom'], allow_failed_imports=False)

crop_size = (512, 512)
norm_cfg = dict(type='SyncBN', requires_grad=True)
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
        type='VisionTransformer',
        img_size=crop_size,
        patch_size=16,
        in_channels=3,
        embed_dims=768,
        num_layers=12,
        num_heads=12,
        mlp_ratio=4,
        out_indices=(3, 5, 7, 11),
        qkv_bias=True,
        drop_rate=0.0,
        attn_drop_rate=0.0,
        drop_path_rate=0.1,
        with_cls_token=True,
        final_norm=False,
        norm_cfg=dict(type='LN', eps=1e-6),
        act_cfg=dict(type='GELU'),
        norm_eval=False,
        # MAE-pretrained ViT-B/16 weights converted to mmseg's key layout
        # (mmseg's tools/model_converters/vit2mmseg.py); loaded by init_weights when training.
        init_cfg=dict(type='Pretrained',
                      checkpoint='pretrain/mae_pretrain_vit_base_mmseg.pth'),
        interpolate_mode='bicubic'),
    neck=dict(type='MultiLevelNeck', in_channels=[768, 768, 768, 768], out_channels=768,
              scales=[4, 2, 1, 0.5]),
    decode_head=dict(
        type='UPerHead',
        in_channels=[768, 768, 768, 768],
        in_index=[0, 1, 2, 3],
        pool_scales=(1, 2, 3, 6),
        channels=768,
        dropout_ratio=0.1,
        num_classes=150,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    auxiliary_head=dict(
        type='FCNHead',
        in_channels=768,
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
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.05),
    constructor='CustomLayerDecayOptimizerConstructor',
    paramwise_cfg=dict(num_layers=12, layer_decay_rate=0.65))
