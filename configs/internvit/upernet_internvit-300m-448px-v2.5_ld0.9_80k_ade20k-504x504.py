# UPerNet on InternViT-300M-448px-V2_5 (24 blocks, width 1024, LayerNorm, qkv bias, no QK-norm) on
# ADE20K 504 x 504, 80k iterations. InternVL published no segmentation recipe for the 300M model:
# this is its 6B recipe (data, schedule, AdamW lr 4e-5 and wd 0.05, neck, slide test 504 / 322)
# with a ViT-L-sized head (UPerHead and auxiliary FCNHead at 1024 channels), blocks 5, 11, 17, 23,
# stochastic depth 0.2 and layer decay 0.9 over the 24 blocks (head id 25): the settings BEiT-L /
# ViT-Adapter-L use for 24-block ViTs. 300M parameters fit one GPU: DDP with bf16 autocast
# (AmpOptimWrapper), 8 GPUs x 2 images.
#
#     python tools/model_converters/internvit.py pretrain/InternViT-300M-448px-V2_5 \
#         pretrain/InternViT-300M-448px-V2_5_mmcv_custom.pth
#     bash tools/dist_train.sh \
#         configs/internvit/upernet_internvit-300m-448px-v2.5_ld0.9_80k_ade20k-504x504.py 8
_base_ = [
    '../_base_/default_runtime_mmseg.py',
    '../_base_/datasets/ade20k_504x504.py',
    '../_base_/schedules/seg_internvl_80k.py',
    '../_base_/models/upernet_internvit-6b.py',
]
custom_imports = dict(imports=['mmcv_custom'], allow_failed_imports=False)

embed_dims = 1024
model = dict(
    backbone=dict(
        arch='300m',
        pretrain_img_size=448,
        out_indices=(5, 11, 17, 23),
        drop_path_rate=0.2,
        with_cp=False,
        init_cfg=dict(type='Pretrained',
                      checkpoint='pretrain/InternViT-300M-448px-V2_5_mmcv_custom.pth')),
    neck=dict(in_channels=embed_dims),
    decode_head=dict(in_channels=[embed_dims] * 4, channels=1024),
    auxiliary_head=dict(in_channels=embed_dims, channels=1024))
optim_wrapper = dict(
    type='AmpOptimWrapper',
    dtype='bfloat16',
    optimizer=dict(type='AdamW', lr=4e-5, betas=(0.9, 0.999), weight_decay=0.05),
    constructor='CustomLayerDecayOptimizerConstructor',
    paramwise_cfg=dict(num_layers=24, layer_decay_rate=0.9))
