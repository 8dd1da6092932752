# InternVL's ADE20K linear probing (see linear_internvit-6b-frozen_80k_ade20k-504x504.py) on the
# 45-block InternViT-6B-448px-V2_5: the features of block 44 (its last block; InternVL probes
# block 44 of the 48-block 6B) through SyncBN and a 1x1 classifier, no weight decay, layer-decay
# rate 1.0 over num_layers=45, DeepSpeed ZeRO-1 with bf16.
_base_ = ['./upernet_internvit-6b-448px-v2.5_ld0.95_80k_ade20k-504x504_zero1.py']
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
    paramwise_cfg=dict(num_layers=45, layer_decay_rate=1.0))
