# InternVL's ADE20K full tuning of InternViT-6B + UPerNet (see the _zero1 config) trained with torch
# FSDP through MMEngine's FlexibleRunner instead of DeepSpeed: parameters, gradients and AdamW
# states sharded over the ranks (FULL_SHARD), one FSDP unit per InternViT block
# (InternVisionEncoderLayer), activation checkpointing of each block by FSDP (so the backbone's
# own with_cp is off), bf16 mixed precision with fp32 gradient reduction and fp32 master shards.
#
#     bash tools/dist_train.sh \
#         configs/internvit/upernet_internvit-6b_ld0.95_80k_ade20k-504x504_fsdp.py 8
#
# Layer decay needs one optimizer group per original parameter: use_orig_params=True (False is
# refused with an error). mmcv_custom reads each parameter's original shape from FSDP's records,
# so the 1-D no-decay rule is not fooled by 1-D shards; the groups are the _zero1 config's.
_base_ = ['./upernet_internvit-6b_ld0.95_80k_ade20k-504x504_zero1.py']
custom_imports = dict(imports=['mmcv_custom'], allow_failed_imports=False)

model = dict(backbone=dict(with_cp=False))
runner_type = 'FlexibleRunner'
strategy = dict(
    _delete_=True,
    type='FSDPStrategy',
    model_wrapper=dict(
        type='MMFullyShardedDataParallel',
        use_orig_params=True,
        sharding_strategy='FULL_SHARD',
        # registered by mmcv_custom (mmcv_custom/distributed/_fsdp_policies.py)
        auto_wrap_policy=dict(type='wrap_modules_by_class_name',
                              class_names=['InternVisionEncoderLayer']),
        mixed_precision=dict(param_dtype='bfloat16', reduce_dtype='float32',
                             buffer_dtype='bfloat16')),
    activation_checkpointing=dict(check_fn='is_vit_block'),
    state_dict_cfg='local')
# FSDP casts to bf16 itself (mixed_precision above): a plain OptimWrapper, no autocast.
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=4e-5, betas=(0.9, 0.999), weight_decay=0.05),
    constructor='CustomLayerDecayOptimizerConstructor',
    paramwise_cfg=dict(num_layers=48, layer_decay_rate=0.95))
