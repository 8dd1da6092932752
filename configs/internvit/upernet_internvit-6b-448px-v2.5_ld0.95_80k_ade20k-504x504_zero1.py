# InternVL's ADE20K full tuning recipe (see upernet_internvit-6b_ld0.95_80k_ade20k-504x504_zero1.py)
# on the 45-block InternViT-6B-448px-V2_5 (also V1-2 / V1-5: InternVL dropped the last 3 of the 48
# blocks): the position embedding at the 448 px grid (32 x 32), blocks 11, 22, 33, 44 as the four
# levels (evenly spaced, the last block last), layer decay over num_layers=45 (head id 46).
# InternVL published no segmentation result for this release; the recipe is its 6B one.
#
#     python tools/model_converters/internvit.py pretrain/InternViT-6B-448px-V2_5 \
#         pretrain/InternViT-6B-448px-V2_5_mmcv_custom.pth
#     bash tools/dist_train.sh \
#         configs/internvit/upernet_internvit-6b-448px-v2.5_ld0.95_80k_ade20k-504x504_zero1.py 8
_base_ = ['./upernet_internvit-6b_ld0.95_80k_ade20k-504x504_zero1.py']
custom_imports = dict(imports=['mmcv_custom'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        arch='6b-45',
        pretrain_img_size=448,
        out_indices=(11, 22, 33, 44),
        init_cfg=dict(type='Pretrained',
                      checkpoint='pretrain/InternViT-6B-448px-V2_5_mmcv_custom.pth')))
optim_wrapper = dict(paramwise_cfg=dict(num_layers=45, layer_decay_rate=0.95))
