# InternVL's ADE20K schedule (OpenGVLab/InternVL segmentation/configs/intern_vit_6b/*, mmcv 1.x):
# lr_config=dict(policy='poly', warmup='linear', warmup_iters=1500, warmup_ratio=1e-6, power=1.0,
# min_lr=0.0, by_epoch=False), 80k iterations; evaluation and a checkpoint every 1000 iterations,
# the last 2 kept (and the best mIoU). As tools/migrate_config.py converts it: mmcv 1.x runs the
# poly decay from iteration 0 under the warm-up, and MMEngine's schedulers reach their last value
# at end - 1, hence begin=0 for both and end=1501 / 80001.
max_iters = 80000
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, end_factor=1.0, by_epoch=False, begin=0, end=1501),
    dict(type='PolyLR', eta_min=0.0, power=1.0, by_epoch=False, begin=0, end=80001),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=1000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=1000, max_keep_ckpts=2,
                    save_best='mIoU'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
