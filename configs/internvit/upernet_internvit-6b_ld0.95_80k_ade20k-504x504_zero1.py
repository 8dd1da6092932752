# InternVL's ADE20K full tuning of InternViT-6B + UPerNet (58.9 mIoU published), in InternVL's own
# engine setting: DeepSpeed ZeRO-1 with bf16 (InternVL: deepspeed_config=
# 'zero_configs/adam_zero1_bf16.json', stage 1, reduce_bucket_size 5e8, overlap_comm), 8 GPUs x 2
# images, 80k iterations. Source: OpenGVLab/InternVL segmentation/configs/intern_vit_6b/
# full_tuning/upernet_intern_vit_6b_504_80k_ade20k_bs16_lr4e-5.py.
#
#     python tools/model_converters/internvit.py pretrain/intern_vit_6b_224px.pth \
#         pretrain/intern_vit_6b_224px_mmcv_custom.pth
#     bash tools/dist_train.sh \
#         configs/internvit/upernet_internvit-6b_ld0.95_80k_ade20k-504x504_zero1.py 8
#
# Optimizer: AdamW lr 4e-5, betas (0.9, 0.999), weight decay 0.05, layer-wise lr decay 0.95 over
# the 48 blocks (CustomLayerDecayOptimizerConstructor, InternVL's rule): backbone.cls_token,
# pos_embed, patch_embed -> layer 0, backbone.blocks.i -> i + 1, neck and heads -> 49;
# lr = 4e-5 * 0.95 ** (49 - layer_id); no weight decay for 1-D parameters and biases (InternVL's
# rule decays pos_embed and cls_token, and so does this one). Per-GPU memory of this setting:
#     python tools/analysis_tools/param_groups.py <this config> --meta --memory
_base_ = [
    '../_base_/default_runtime_mmseg.py',
    '../_base_/datasets/ade20k_504x504.py',
    '../_base_/schedules/seg_internvl_80k.py',
    '../_base_/models/upernet_internvit-6b.py',
]
custom_imports = dict(imports=['mmcv_custom'], allow_failed_imports=False)

runner_type = 'FlexibleRunner'
strategy = dict(
    type='DeepSpeedStrategy',
    zero_optimization=dict(stage=1, reduce_bucket_size=5e8, overlap_comm=True),
    bf16=dict(enabled=True),
    # the data preprocessor's float32 images are cast to the bf16 weights' dtype
    inputs_to_half=['inputs'],
    # torch's AdamW from the constructor (DeepSpeed lists it as untested with ZeRO); buffers in
    # bf16 too (DeepSpeed 0.19.6 casts only the parameters, and BatchNorm refuses bf16 weights
    # with fp32 running statistics; InternVL's DeepSpeed cast the whole module)
    config=dict(zero_allow_untested_optimizer=True, data_types=dict(buffer_dtype='bf16')))
optim_wrapper = dict(
    type='DeepSpeedOptimWrapper',
    optimizer=dict(type='AdamW', lr=4e-5, betas=(0.9, 0.999), weight_decay=0.05),
    constructor='CustomLayerDecayOptimizerConstructor',
    paramwise_cfg=dict(num_layers=48, layer_decay_rate=0.95))
