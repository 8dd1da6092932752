#!/usr/bin/env bash
# Multi-process training with torchrun: tools/dist_train.sh CONFIG GPUS [train.py arguments...]
#
# GPUS processes on this node (one per GPU; on a machine without CUDA, CPU processes that
# tools/train.py connects with the gloo backend). Configs with runner_type='FlexibleRunner' and an
# FSDPStrategy or DeepSpeedStrategy train the same way (see README, "Training a 6B backbone").
# Multi-node runs set NNODES, NODE_RANK, MASTER_ADDR and PORT on every node; the interpreter is
# the project's .venv/bin/python unless PYTHON is set (tools/dist_run.sh makes the launch).
# DIST_TRAIN_DRY_RUN=1 prints the command instead of running it.
set -euo pipefail

if [ $# -lt 2 ]; then
    echo "usage: $0 CONFIG GPUS [tools/train.py arguments...]" >&2
    exit 2
fi
CONFIG=$1
GPUS=$2
shift 2
if ! [[ $GPUS =~ ^[1-9][0-9]*$ ]]; then
    echo "usage: $0 CONFIG GPUS [...]: GPUS must be a positive integer, got '$GPUS'" >&2
    exit 2
fi

HERE=$(cd "$(dirname "$0")" && pwd)
DIST_DRY_RUN=${DIST_TRAIN_DRY_RUN:-} exec bash "$HERE/dist_run.sh" "$GPUS" "$HERE/train.py" \
    "$CONFIG" --launcher pytorch "$@"
