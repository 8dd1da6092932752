# InternVL's ADE20K linear probing (47.2 mIoU published): InternViT-6B frozen, the features of
# block 44 through a SyncBN and a 1x1 classifier (InternVL's FCNHead with num_convs=0,
# concat_input=False, dropout 0, with_norm=True: mmcv_custom's LinearProbeHead), AdamW lr 4e-5
# without weight decay, layer-decay rate 1.0, DeepSpeed ZeRO-1 with bf16 as InternVL. Source:
# OpenGVLab/InternVL segmentation/configs/intern_vit_6b/linear_probing/
# linear_intern_vit_6b_504_80k_ade20k_bs16_lr4e-5_frozen.py.
#
#     bash tools/dist_train.sh configs/internvit/linear_internvit-6b-frozen_80k_ade20k-504x504.py 8
_base_ = ['./upernet_internvit-6b_ld0.95_80k_ade20k-504x504_zero1.py']
# mmcv_custom.models.seg_heads registers LinearProbeHead in mmseg's registry (it imports mmseg)
custom_imports = dict(imports=['mmcv_custom', 'mmcv_custom.models.seg_heads'],
                      allow_failed_imports=False)

model = dict(
    backbone=dict(drop_path_rate=0.0, frozen=True, out_indices=(44, )),
    neck=None,
    decode_head=dict(
        _delete_=True,
        type='LinearProbeHead',
        in_channels=3200,
        channels=3200,
        dropout_ratio=0.0,
        num_classes=150,
        norm_cfg=dict(type='SyncBN', requires_grad=True),
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    auxiliary_head=None)
optim_wrapper = dict(
    optimizer=dict(weight_decay=0.0),
    paramwise_cfg=dict(num_layers=48, layer_decay_rate=1.0))
