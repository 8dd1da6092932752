#!/usr/bin/env bash
# Multi-process testing with torchrun: tools/dist_test.sh CONFIG CHECKPOINT GPUS [test.py arguments...]
#
# GPUS processes on this node (one per GPU; on a machine without CUDA, CPU processes that
# tools/test.py connects with the gloo backend). Multi-node runs set NNODES, NODE_RANK,
# MASTER_ADDR and PORT on every node; the interpreter is the project's .venv/bin/python unless
# PYTHON is set (tools/dist_run.sh makes the launch).
# DIST_TEST_DRY_RUN=1 prints the command instead of running it.
set -euo pipefail

if [ $# -lt 3 ]; then
    echo "usage: $0 CONFIG CHECKPOINT GPUS [tools/test.py arguments...]" >&2
    exit 2
fi
CONFIG=$1
CHECKPOINT=$2
GPUS=$3
shift 3
if ! [[ $GPUS =~ ^[1-9][0-9]*$ ]]; then
    echo "usage: $0 CONFIG CHECKPOINT GPUS [...]: GPUS must be a positive integer, got '$GPUS'" >&2
    exit 2
fi

HERE=$(cd "$(dirname "$0")" && pwd)
DIST_DRY_RUN=${DIST_TEST_DRY_RUN:-} exec bash "$HERE/dist_run.sh" "$GPUS" "$HERE/test.py" \
    "$CONFIG" "$CHECKPOINT" --launcher pytorch "$@"
