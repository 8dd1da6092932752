# The README's commands. Each creates the environment in .venv/ first if it is missing or stale.
VENV ?= .venv
PYTHON := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: env test demo demo-det demo-cls demo-internvit bench clean-env

env:
	@bash tools/setup_env.sh

test: env
	$(PYTHON) -m ruff check .
	$(PYTHON) -m pytest $(PYTEST_ARGS) tests

clean-env:
	rm -rf $(VENV)

# Offline demos: generate synthetic data (data/demo/), train on the CPU through tools/train.py
# (validation at the end), inspect the param groups, and compare the final metric with a trivial
# baseline. Each takes a few minutes after `make env`.
SEG_DEMO := configs/demo/upernet_vit-tiny_ld0.9_200it_shapes-seg.py
DET_DEMO := configs/demo/mask-rcnn_convnext-tiny-w32_lrd0.95_200it_shapes-coco.py
CLS_DEMO := configs/demo/vit-tiny-p4_ld0.75_150it_shapes-cls.py
demo_work_dir = work_dirs/$(basename $(notdir $(1)))
# Intra-op threads of the training process. One: on a 2-core machine shared with other work, two
# OpenMP threads per process slow these small models down up to ten times (measured); on an idle
# machine DEMO_THREADS=2 is somewhat faster.
DEMO_THREADS ?= 1

# $(call run_demo,TASK,CONFIG)
define run_demo
	$(PYTHON) tools/make_demo_data.py --tasks $(1)
	OMP_NUM_THREADS=$(DEMO_THREADS) $(PYTHON) tools/train.py $(2) --work-dir $(call demo_work_dir,$(2))
	$(PYTHON) tools/analysis_tools/param_groups.py $(2) --out-dir $(call demo_work_dir,$(2))/param_groups
	$(PYTHON) tools/demo_summary.py $(1) $(call demo_work_dir,$(2)) data/demo/$(1)
endef

demo: env
	$(call run_demo,seg,$(SEG_DEMO))

demo-det: env
	$(call run_demo,det,$(DET_DEMO))

demo-cls: env
	$(call run_demo,cls,$(CLS_DEMO))

# InternViT end to end: a tiny random transformers InternVLVisionModel (the stand-in for released
# weights) -> tools/model_converters/internvit.py -> fine-tuning of InternViT + UPerNet with
# CustomLayerDecayOptimizerConstructor on 2 CPU processes under torch FSDP (tools/dist_train.sh)
# -> tools/test.py -> the groups and the mIoU against the majority-class baseline.
INTERNVIT_DEMO := configs/demo/upernet_internvit-tiny_ld0.9_200it_shapes-seg.py
INTERNVIT_WEIGHTS := work_dirs/internvit-demo
demo-internvit: env
	$(PYTHON) tools/make_demo_data.py --tasks seg
	$(PYTHON) tools/demo_internvit_weights.py $(INTERNVIT_WEIGHTS)/hf_random
	$(PYTHON) tools/model_converters/internvit.py $(INTERNVIT_WEIGHTS)/hf_random \
		$(INTERNVIT_WEIGHTS)/internvit-tiny_mmcv_custom.pth
	OMP_NUM_THREADS=$(DEMO_THREADS) PYTHON=$(PYTHON) bash tools/dist_train.sh $(INTERNVIT_DEMO) 2 \
		--work-dir $(call demo_work_dir,$(INTERNVIT_DEMO))
	OMP_NUM_THREADS=$(DEMO_THREADS) $(PYTHON) tools/test.py $(INTERNVIT_DEMO) \
		$(call demo_work_dir,$(INTERNVIT_DEMO))/iter_200.pth \
		--work-dir $(call demo_work_dir,$(INTERNVIT_DEMO))/test
	$(PYTHON) tools/analysis_tools/param_groups.py $(INTERNVIT_DEMO) \
		--out-dir $(call demo_work_dir,$(INTERNVIT_DEMO))/param_groups
	$(PYTHON) tools/demo_summary.py seg $(call demo_work_dir,$(INTERNVIT_DEMO)) data/demo/seg

# Construction time, optimizer-step time and memory of the layer-decay constructors against
# MMEngine's floor and the mmdet / mmseg / mmpretrain classes (a few minutes on 2 cores); then the
# training-step time under FSDP and DeepSpeed ZeRO-3 with our groups against the same engine with
# two groups, on 2 processes (about a minute on 2 CPU cores); last, what `import mmcv_custom` costs
# on top of the registries it registers into (fresh interpreters, median of 7).
bench: env
	$(PYTHON) benchmarks/bench_layer_decay.py --out work_dirs/bench/results.json \
		--markdown work_dirs/bench/RESULTS.md
	OMP_NUM_THREADS=1 $(PYTHON) -m torch.distributed.run --standalone --nproc_per_node=2 \
		benchmarks/bench_engines.py --out work_dirs/bench/engines.json \
		--markdown work_dirs/bench/ENGINES.md
	$(PYTHON) benchmarks/bench_import.py --rounds 7 --out work_dirs/bench/import.json
