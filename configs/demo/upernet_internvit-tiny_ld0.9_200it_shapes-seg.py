# InternViT demo (make demo-internvit): a tiny InternViT (InternViT-6B's layout: RMSNorm, full-width
# QK-norm, layer scale, no qkv bias; 4 blocks of width 64, patch 8) + InternVL's x4/x2/x1/x0.5
# feature pyramid + UPerNet, fine-tuned on the synthetic shapes (tools/make_demo_data.py) with
# CustomLayerDecayOptimizerConstructor, on 2 CPU processes with torch FSDP (MMEngine's
# FlexibleRunner: one FSDP unit and activation checkpointing per block, as the 6B FSDP config).
#   make demo-internvit
#   (or: python tools/demo_internvit_weights.py work_dirs/internvit-demo/hf_random
#        python tools/model_converters/internvit.py work_dirs/internvit-demo/hf_random \
#            work_dirs/internvit-demo/internvit-tiny_mmcv_custom.pth
#        bash tools/dist_train.sh configs/demo/upernet_internvit-tiny_ld0.9_200it_shapes-seg.py 2)
# The "pretrained" weights are a randomly initialised transformers InternVLVisionModel at 32 px (a
# 4 x 4 position grid, resized to 8 x 8 for the 64 px images), converted by the converter.
_base_ = ['./upernet_vit-tiny_ld0.9_200it_shapes-seg.py']
custom_imports = dict(imports=['mmcv_custom'], allow_failed_imports=False)

depth = 4
embed_dims = 64
model = dict(
    backbone=dict(
        _delete_=True,
        type='InternViT',
        arch=dict(embed_dims=embed_dims, num_layers=depth, num_heads=4, feedforward_channels=128,
                  norm_type='rms_norm', qk_norm=True, qkv_bias=False),
        img_size=64,
        patch_size=8,
        pretrain_img_size=32,
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.1,
        init_cfg=dict(type='Pretrained',
                      checkpoint='work_dirs/internvit-demo/internvit-tiny_mmcv_custom.pth')),
    neck=dict(_delete_=True, type='InternVLFeaturePyramid', in_channels=embed_dims),
    decode_head=dict(in_channels=[embed_dims] * 4, channels=64),
    auxiliary_head=dict(
        type='FCNHead', in_channels=embed_dims, in_index=2, channels=64, num_convs=1,
        concat_input=False, dropout_ratio=0.1, num_classes=4,
        norm_cfg=dict(type='BN', requires_grad=True), align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=0.4)))

# 2 processes x 4 images: the single-process demo's batch of 8
train_dataloader = dict(batch_size=4)
runner_type = 'FlexibleRunner'
strategy = dict(
    type='FSDPStrategy',
    model_wrapper=dict(
        use_orig_params=True,
        sharding_strategy='FULL_SHARD',
        auto_wrap_policy=dict(type='wrap_modules_by_class_name',
                              class_names=['InternVisionEncoderLayer'])),
    activation_checkpointing=dict(check_fn='is_vit_block'),
    # one file that tools/test.py loads into the plain model
    state_dict_cfg='full')
optim_wrapper = dict(paramwise_cfg=dict(num_layers=depth, layer_decay_rate=0.9))
