# Mask R-CNN + FPN on ConvNeXt-T (mmpretrain), COCO 2017, 3x schedule (36 epochs) with the
# multi-scale + crop augmentation, as mmdet's ConvNeXt config: AdamW lr 1e-4, weight decay 0.05,
# layer-wise lr decay 0.95 with num_layers=6, mixed precision, 8 GPUs x 2 images.
#
# Layer ids (LearningRateDecayOptimizerConstructor, decay_type='layer_wise', num_layers=6):
# stem -> 0, stage 0 -> 1, stage 1 (and its downsampling) -> 2, stage 2 block b -> 3 + b // 3,
# stage 3 -> 6, everything else (FPN, heads) -> 7, so lr = 1e-4 * 0.95 ** (7 - layer_id).
_base_ = [
    './_base_/default_runtime_mmdet.py',
    './_base_/models/mask-rcnn_convnext-t_fpn.py',
    './_base_/datasets/coco_instance_ms-crop.py',
    './_base_/schedules/det_3x.py',
]
# mmpretrain.models registers the ConvNeXt backbone used as 'mmpretrain.ConvNeXt'.
custom_imports = dict(imports=['mmcv_custom', 'mmpretrain.models'], allow_failed_imports=False)

optim_wrapper = dict(
    type='AmpOptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.05),
    constructor='LearningRateDecayOptimizerConstructor',
    paramwise_cfg=dict(decay_rate=0.95, decay_type='layer_wise', num_layers=6))
