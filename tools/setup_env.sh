#!/usr/bin/env bash
# Create or update the project's environment in .venv/ from the pins in requirements/.
#
# Idempotent: when .venv/ exists and the pins (requirements/*.txt, setup.py) are unchanged since the
# last successful run, it only checks that the stack imports. A changed pin re-runs the installs,
# and pip updates exactly what changed (mmcv is rebuilt only when its own pin changes).
#
# The first run on a fresh machine builds mmcv 2.1.0 from source with its C++ ops: about 12 minutes
# on 2 cores. pip caches the built wheel, so later environments on the same machine take ~2 minutes.
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
import mmcv, mmcv._ext, mmdet, mmseg, mmpretrain, mmengine, torch, mmcv_custom  # noqa: F401
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
if [ ! -x "$VENV/bin/python" ]; then
    echo "setup_env: creating $VENV with $($PYTHON --version)"
    "$PYTHON" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)

"${PIP[@]}" install -r requirements/build.txt
# torch first: the mmcv build imports it.
"${PIP[@]}" install -r requirements/torch.txt
echo "setup_env: building mmcv with its C++ ops if not cached (about 12 minutes on 2 cores)"
MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-$(nproc)} \
    "${PIP[@]}" install --no-build-isolation -r requirements/mmcv.txt -c requirements/runtime.txt
"${PIP[@]}" install -r requirements/runtime.txt -r requirements/tests.txt \
    -c requirements/torch.txt -c requirements/mmcv.txt
"${PIP[@]}" install --no-build-isolation --no-deps -e .
# DeepSpeed from its source distribution (its setup.py imports torch; about 30 s), its CPU
# communication op compiled once here (25-75 s measured on 2 cores; cached in
# ~/.cache/torch_extensions) rather than inside the first test that launches it.
"${PIP[@]}" install --no-build-isolation -r requirements/deepspeed.txt \
    -c requirements/torch.txt -c requirements/runtime.txt
"$VENV/bin/python" tools/build_deepspeed_ops.py

check_env
pins_digest > "$STAMP"
echo "setup_env: $VENV ready in $(( $(date +%s) - start )) s"
