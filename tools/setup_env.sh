#!/usr/bin/env bash
# Create or update the project's environment in .venv/ from the pins in requirements/.
#
# Idempotent: when .venv/ exists and the pins (requirements/*.txt, setup.py) are unchanged since the
# last successful run, it only checks that the stack imports. A changed pin re-runs the installs,
# and pip updates exactly what changed (mmcv is rebuilt only when its own pin changes).
#
# The first run on a fresh machine builds mmcv 2.1.0 from source with its C++ ops; pip caches the
# built wheel, so later environments on the same machine skip that step. Each step prints its
# elapsed time; the README's "Set-up and test times" section lists the measured ranges.
set -euo pipefail

cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
STAMP="$VENV/.mmcv_custom-env-stamp"

pins_digest() {
    cat requirements/*.txt setup.py tools/setup_env.sh | sha256sum | cut -d' ' -f1
}

check_env() {
    "$VENV/bin/python" - <<'PY'
from mmcv_custom.compat import deepspeed_env
deepspeed_env.configure()  # as the tools and tests do: no accelerator warning, the venv's op cache
import mmcv, mmcv._ext, mmdet, mmseg, mmpretrain, mmengine, torch, mmcv_custom  # noqa: F401
import mmpretrain.models, mmdet.models, mmseg.models, transformers  # noqa: F401
import deepspeed, mmengine._strategy.deepspeed  # noqa: F401
PY
}

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$(pins_digest)" ]; then
    if check_env; then
        echo "setup_env: $VENV is up to date with requirements/"
        exit 0
    fi
    echo "setup_env: $VENV failed its import check; reinstalling"
fi

start=$(date +%s)
step_start=$start
# step NAME: print how long the step that just finished took.
step() {
    local now
    now=$(date +%s)
    echo "setup_env: $1 done in $(( now - step_start )) s"
    step_start=$now
}
if [ ! -x "$VENV/bin/python" ]; then
    echo "setup_env: creating $VENV with $($PYTHON --version)"
    "$PYTHON" -m venv "$VENV"
    step "venv"
fi
VENV_ABS=$(cd "$VENV" && pwd)
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)
# The venv's bin first: pip's builds then find the venv's ninja, and torch's extension builder
# compiles mmcv's ops in parallel (MAX_JOBS) instead of one file at a time through distutils.
export PATH="$VENV_ABS/bin:$PATH"
# DeepSpeed's JIT ops (built below and by the tests) live in this venv, not in the shared
# ~/.cache/torch_extensions, whose builds another checkout's venv would invalidate.
export TORCH_EXTENSIONS_DIR="$VENV_ABS/torch_extensions"

"${PIP[@]}" install -r requirements/build.txt
step "build tools"
# torch first: the mmcv build imports it.
"${PIP[@]}" install -r requirements/torch.txt
step "torch"
echo "setup_env: building mmcv with its C++ ops unless pip has the wheel cached" \
    "(about 6 minutes on a quiet 2-core machine; see the README's Set-up and test times)"
# -g0: no debug info in the ops (Python's own CFLAGS carry -g); smaller objects, faster links.
MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-$(nproc)} CFLAGS="${CFLAGS:-} -g0" \
    "${PIP[@]}" install --no-build-isolation -r requirements/mmcv.txt -c requirements/runtime.txt
step "mmcv"
"${PIP[@]}" install -r requirements/runtime.txt -r requirements/tests.txt \
    -c requirements/torch.txt -c requirements/mmcv.txt
"${PIP[@]}" install --no-build-isolation --no-deps -e .
step "OpenMMLab stack, test tools and mmcv_custom"
# DeepSpeed from its source distribution (its setup.py imports torch), its CPU communication op
# compiled once here, into .venv/torch_extensions (TORCH_EXTENSIONS_DIR above; see the README's
# "Set-up and test times"), rather than inside the first test that launches it.
"${PIP[@]}" install --no-build-isolation -r requirements/deepspeed.txt \
    -c requirements/torch.txt -c requirements/runtime.txt
step "deepspeed"
"$VENV/bin/python" tools/build_deepspeed_ops.py
step "deepspeed op"

check_env
pins_digest > "$STAMP"
echo "setup_env: $VENV ready in $(( $(date +%s) - start )) s"
