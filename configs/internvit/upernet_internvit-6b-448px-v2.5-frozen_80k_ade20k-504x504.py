# InternVL's ADE20K head tuning (see upernet_internvit-6b-frozen_80k_ade20k-504x504.py) on the
# 45-block InternViT-6B-448px-V2_5: frozen backbone, blocks 11, 22, 33, 44, the auxiliary head on
# the x2 map, layer-decay rate 1.0 over num_layers=45, DeepSpeed ZeRO-1 with bf16.
_base_ = ['./upernet_internvit-6b-448px-v2.5_ld0.95_80k_ade20k-504x504_zero1.py']
custom_imports = dict(imports=['mmcv_custom'], allow_failed_imports=False)

model = dict(
    backbone=dict(drop_path_rate=0.0, frozen=True),
    auxiliary_head=dict(in_index=1))
optim_wrapper = dict(paramwise_cfg=dict(num_layers=45, layer_decay_rate=1.0))
