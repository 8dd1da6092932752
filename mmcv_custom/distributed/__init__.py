"""What the large-model engines need: FSDP wrap policies by class name (``_fsdp_policies``,
registered in MMEngine's ``FUNCTIONS``) and true ``param_names`` on every rank of a
``ZeroRedundancyOptimizer`` (``_zero_groups``). Internal."""
