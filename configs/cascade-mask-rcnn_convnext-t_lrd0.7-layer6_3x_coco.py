# Cascade Mask R-CNN + FPN (4conv1fc GIoU box heads) on ConvNeXt-T (mmpretrain), COCO 2017,
# 3x schedule (36 epochs) with the multi-scale + crop augmentation, as mmdet's ConvNeXt config:
# AdamW lr 2e-4, weight decay 0.05, layer-wise lr decay 0.7 with num_layers=6, mixed precision,
# 8 GPUs x 2 images.
#
# Layer ids as in the Mask R-CNN config (stem 0 ... stage 3 -> 6, the rest 7), so
# lr = 2e-4 * 0.7 ** (7 - layer_id): the stem gets 2e-4 * 0.7 ** 7 ~ 1.6e-5.
_base_ = [
    './_base_/default_runtime_mmdet.py',
    './_base_/models/cascade-mask-rcnn_convnext-t_fpn.py',
    './_base_/datasets/coco_instance_ms-crop.py',
    './_base_/schedules/det_3x.py',
]
# mmpretrain.models registers the ConvNeXt backbone used as 'mmpretrain.ConvNeXt'.
custom_imports = dict(imports=['mmcv_custom', 'mmpretrain.models'], allow_failed_imports=False)

optim_wrapper = dict(
    type='AmpOptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-4, betas=(0.9, 0.999), weight_decay=0.05),
    constructor='LearningRateDecayOptimizerConstructor',
    paramwise_cfg=dict(decay_rate=0.7, decay_type='layer_wise', num_layers=6))
