"""The layer-decay mechanism: collect a model's parameters under canonical names with their
original shapes (``_params``, ``_names``, ``_shapes``), make the plan and assign each parameter
its lr and weight decay (``_plan``), build the groups (``_groups``), report them (``_report``)
and guard a resume (``_resume``). Internal; ``summarize_groups`` and ``group_records`` are public
in ``mmcv_custom``."""
