"""What a config says, parsed once: ``paramwise_cfg`` (``_schema``, its keys in ``_keys``) and
``optim_wrapper.optimizer`` (``_optimizer``). Internal; the errors are public in ``mmcv_custom``."""
