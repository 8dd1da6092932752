# InternVL's ADE20K head tuning (54.9 mIoU published): InternViT-6B frozen, UPerNet trained; the
# auxiliary FCNHead on the x2 map (in_index=1), no stochastic depth, layer-decay rate 1.0 (every
# trained parameter at lr 4e-5), DeepSpeed ZeRO-1 with bf16 as InternVL. Source:
# OpenGVLab/InternVL segmentation/configs/intern_vit_6b/head_tuning/
# upernet_intern_vit_6b_504_80k_ade20k_bs16_lr4e-5_frozen.py.
#
#     bash tools/dist_train.sh configs/internvit/upernet_internvit-6b-frozen_80k_ade20k-504x504.py 8
#
# The frozen backbone (frozen=True: requires_grad=False, eval mode) is in no optimizer group; the
# neck and heads get layer id 49 and lr = 4e-5 * 1.0 ** 0.
_base_ = ['./upernet_internvit-6b_ld0.95_80k_ade20k-504x504_zero1.py']
custom_imports = dict(imports=['mmcv_custom'], allow_failed_imports=False)

model = dict(
    backbone=dict(drop_path_rate=0.0, frozen=True),
    auxiliary_head=dict(in_index=1))
optim_wrapper = dict(paramwise_cfg=dict(num_layers=48, layer_decay_rate=1.0))
