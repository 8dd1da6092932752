# ADE20K (150 classes) semantic segmentation at InternVL's 504 x 504 crops (36 x 36 patches of
# 14 px), for MMSegmentation 1.x. The pipelines of OpenGVLab/InternVL
# segmentation/configs/_base_/datasets/ade20k_504x504.py (mmseg 0.x), written for mmseg 1.x:
# - training: Resize(img_scale=(2016, 504), ratio_range=(0.5, 2.0)) -> RandomResize, RandomCrop
#   504 with cat_max_ratio 0.75, flip, PhotoMetricDistortion; normalisation and padding to 504
#   (pad 0, label 255) are the data preprocessor's;
# - test: InternVL's SETR_Resize(keep_ratio=True, crop_size=504, setr_multi_scale=True) scales the
#   short side to 504 whatever the long side (segmentation/mmseg_custom/datasets/pipelines/
#   transform.py), which Resize does with an unbounded long side; then ResizeToMultiple(14).
# Expects data/ade/ADEChallengeData2016/{images,annotations}/{training,validation}.
dataset_type = 'ADE20KDataset'
data_root = 'data/ade/ADEChallengeData2016'
crop_size = (504, 504)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='RandomResize', scale=(2016, 504), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    # the short side to 504 (the long side unbounded), as InternVL's SETR_Resize
    dict(type='Resize', scale=(1000000, 504), keep_ratio=True),
    dict(type='ResizeToMultiple', size_divisor=14),
    # annotations are loaded after the resize: the metric compares at the original size
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='PackSegInputs'),
]
# InternVL trains on 8 GPUs x 2 images (data.samples_per_gpu=2).
train_dataloader = dict(
    batch_size=2,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='images/training', seg_map_path='annotations/training'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='images/validation', seg_map_path='annotations/validation'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
