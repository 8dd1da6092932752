#!/usr/bin/env bash
# The torchrun launch shared by tools/dist_train.sh and tools/dist_test.sh:
#   tools/dist_run.sh NPROC SCRIPT [SCRIPT arguments...]
# NPROC processes on this node. Multi-node runs set, on every node:
#   NNODES (default 1), NODE_RANK (default 0), MASTER_ADDR (default 127.0.0.1), PORT (default 29500)
# The interpreter is the project's .venv/bin/python unless PYTHON is set.
# DIST_DRY_RUN=1 prints the command instead of running it.
set -euo pipefail

NPROC=$1
SCRIPT=$2
shift 2
ROOT=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "${PYTHON:-}" ]; then
    if [ -x "$ROOT/.venv/bin/python" ]; then PYTHON=$ROOT/.venv/bin/python; else PYTHON=python3; fi
fi

cmd=("$PYTHON" -m torch.distributed.run
     --nnodes="${NNODES:-1}"
     --node_rank="${NODE_RANK:-0}"
     --master_addr="${MASTER_ADDR:-127.0.0.1}"
     --master_port="${PORT:-29500}"
     --nproc_per_node="$NPROC"
     "$SCRIPT" "$@")

if [ -n "${DIST_DRY_RUN:-}" ]; then
    printf '%q ' "${cmd[@]}"
    echo
    exit 0
fi
PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" exec "${cmd[@]}"
