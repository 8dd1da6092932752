# UPerNet + BEiT-B/16 (mmseg BEiT) on ADE20K 512x512, 160k iterations, with BEiT's fine-tuning
# recipe for segmentation: AdamW lr 3e-5, weight decay 0.05, layer-wise lr decay 0.9 over the
# 12 blocks, 1500 warm-up iterations then poly decay, 8 GPUs x 2 images.
# (BEiT's published ADE20K numbers use 640x640 crops; this config uses 512x512 like the ViT-B one.)
#
# Layer ids (CustomLayerDecayOptimizerConstructor): cls_token, patch_embed -> 0,
# backbone.layers.i -> i + 1, everything else (neck, heads) -> 13, so
# lr = 3e-5 * 0.9 ** (13 - layer_id).
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
        type='BEiT',
        img_size=crop_size,
        patch_size=16,
        in_channels=3,
        embed_dims=768,
        num_layers=12,
        num_heads=12,
        mlp_ratio=4,
        out_indices=(3, 5, 7, 11),
        qv_bias=True,
        attn_drop_rate=0.0,
        drop_path_rate=0.1,
        norm_cfg=dict(type='LN', eps=1e-6),
        act_cfg=dict(type='GELU'),
        norm_eval=False,
        # BEiT-B/16 (22k pre-trained, 22k fine-tuned) converted to mmseg's key layout
        # (mmseg's tools/model_converters/beit2mmseg.py); loaded by init_weights when training.
        init_cfg=dict(type='Pretrained',
                      checkpoint='pretrain/beit_base_patch16_224_pt22k_ft22k.pth'),
        init_values=0.1),
    neck=dict(type='Feature2Pyramid', embed_dim=768, rescales=[4, 2, 1, 0.5]),
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
    optimizer=dict(type='AdamW', lr=3e-5, betas=(0.9, 0.999), weight_decay=0.05),
    constructor='CustomLayerDecayOptimizerConstructor',
    paramwise_cfg=dict(num_layers=12, layer_decay_rate=0.9))
