#!/usr/bin/env bash
# Multi-process training with torchrun: tools/dist_train.sh CONFIG GPUS [train.py arguments...]
#
# GPUS processes on this node (one per GPU; on a machine without CUDA, CPU processes that
# tools/train.py connects with the gloo backend). Configs with runner_type='FlexibleRunner' and an
# FSDPStrategy or DeepSpeedStrategy train the same way (see README, "Training a 6B backbone").
# Multi-node runs set, on every node:
#   NNODES (default 1), NODE_RANK (default 0), MASTER_ADDR (default 127.0.0.1), PORT (default 29500)
# The interpreter is the project's .venv/bin/python unless PYTHON is set.
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

ROOT=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "${PYTHON:-}" ]; then
    if [ -x "$ROOT/.venv/bin/python" ]; then PYTHON=$ROOT/.venv/bin/python; else PYTHON=python3; fi
fi

cmd=("$PYTHON" -m torch.distributed.run
     --nnodes="${NNODES:-1}"
     --node_rank="${NODE_RANK:-0}"
     --master_addr="${MASTER_ADDR:-127.0.0.1}"
     --master_port="${PORT:-29500}"
     --nproc_per_node="$GPUS"
     "$ROOT/tools/train.py" "$CONFIG" --launcher pytorch "$@")

if [ -n "${DIST_TRAIN_DRY_RUN:-}" ]; then
    printf '%q ' "${cmd[@]}"
    echo
    exit 0
fi
PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" exec "${cmd[@]}"
