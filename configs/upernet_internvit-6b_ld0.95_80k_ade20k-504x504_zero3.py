# The InternViT-6B-scale UPerNet of upernet_internvit-6b_ld0.95_80k_ade20k-504x504.py, trained with
# DeepSpeed ZeRO-3 through MMEngine's FlexibleRunner: parameters, gradients and AdamW states
# partitioned over the ranks, bf16 weights and activations with fp32 master weights.
#
#     tools/dist_train.sh configs/upernet_internvit-6b_ld0.95_80k_ade20k-504x504_zero3.py 8
#
# MMEngine's DeepSpeedStrategy builds the optimizer on the bare model, then hands it to
# deepspeed.initialize, which keeps each group's lr, weight decay and names: the same groups as
# the base config (see its header). Needs deepspeed <= 0.19.6 with MMEngine 0.10.7
# (requirements/deepspeed.txt).
_base_ = ['./upernet_internvit-6b_ld0.95_80k_ade20k-504x504.py']
# mmcv_custom registers the constructor, the FSDP policies and the resume fixes.
custom_imports = dict(imports=['mmpretrain.models', 'mmcv_custom'], allow_failed_imports=False)

runner_type = 'FlexibleRunner'
strategy = dict(
    type='DeepSpeedStrategy',
    zero_optimization=dict(
        stage=3,
        overlap_comm=True,
        contiguous_gradients=True,
        # the full weights are gathered into the checkpoint, so it loads without DeepSpeed
        stage3_gather_16bit_weights_on_model_save=True),
    bf16=dict(enabled=True),
    # the data preprocessor's float32 images are cast to the bf16 weights' dtype
    inputs_to_half=['inputs'],
    # torch's AdamW (DeepSpeed lists it as untested with ZeRO; the groups are kept)
    config=dict(zero_allow_untested_optimizer=True))

optim_wrapper = dict(
    _delete_=True,
    type='DeepSpeedOptimWrapper',
    optimizer=dict(type='AdamW', lr=4e-5, betas=(0.9, 0.999), weight_decay=0.05),
    constructor='CustomLayerDecayOptimizerConstructor',
    paramwise_cfg=dict(num_layers=48, layer_decay_rate=0.95))
