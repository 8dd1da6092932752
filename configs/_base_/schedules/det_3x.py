# 3x schedule (36 epochs): linear warm-up over the first 1000 iterations from 0.001 of the lr,
# lr x 0.1 after epochs 27 and 33 -- as mmdet's ConvNeXt Mask / Cascade Mask R-CNN configs.
# The optimizer is set by each config (layer decay needs its own constructor).
max_epochs = 36
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=1000),
    dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True, milestones=[27, 33],
         gamma=0.1),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
# The lr above is for 8 GPUs x 2 images; enable to rescale it to another total batch size.
auto_scale_lr = dict(enable=False, base_batch_size=16)
