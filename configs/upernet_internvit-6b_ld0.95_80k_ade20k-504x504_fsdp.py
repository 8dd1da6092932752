# The InternViT-6B-scale UPerNet of upernet_internvit-6b_ld0.95_80k_ade20k-504x504.py, trained with
# torch FSDP through MMEngine's FlexibleRunner: parameters, gradients and AdamW states sharded
# over the ranks (FULL_SHARD), one FSDP unit per transformer block, activation checkpointing of
# each block, bf16 mixed precision (on GPUs; fp32 gradient reduction and fp32 AdamW master shards).
#
#     tools/dist_train.sh configs/upernet_internvit-6b_ld0.95_80k_ade20k-504x504_fsdp.py 8
#
# Layer decay needs one optimizer group per original parameter, so use_orig_params=True
# (MMEngine's default; False is refused with an error). mmcv_custom reads each parameter's
# original shape from FSDP's records, so the 1-D no-decay rule is not fooled by 1-D shards; the
# groups' param_names are the bare model's names. state_dict_cfg='local' (each rank saves its own
# shard, rank{R}.pth) resumes with mmcv_custom's safe loader and its fix of MMEngine 0.10.7's FSDP
# optimizer-state loading. The same groups as the base config (see its header).
_base_ = ['./upernet_internvit-6b_ld0.95_80k_ade20k-504x504.py']
# mmcv_custom registers the constructor, the FSDP policies and the resume fixes.
custom_imports = dict(imports=['mmpretrain.models', 'mmcv_custom'], allow_failed_imports=False)

runner_type = 'FlexibleRunner'
strategy = dict(
    type='FSDPStrategy',
    model_wrapper=dict(
        type='MMFullyShardedDataParallel',
        use_orig_params=True,
        sharding_strategy='FULL_SHARD',
        # mmpretrain's ViT block; registered by mmcv_custom (mmcv_custom/fsdp_wrap.py)
        auto_wrap_policy=dict(type='wrap_modules_by_class_name',
                              class_names=['TransformerEncoderLayer']),
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
