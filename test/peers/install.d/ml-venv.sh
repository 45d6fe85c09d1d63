#!/usr/bin/env bash
# Builds a second venv, $CACHE/venv-ml, for the integration tests that load a mirrored model
# with the official MLflow Python client and transformers (test/integration/py/*.py):
#   mlflow==<versions.json mlflow>, torch (CPU is enough), transformers, boto3.
# It is separate from $CACHE/venv so torch/transformers never change the peers' own venv.
#
# Cost: the PyPI torch wheel for Linux x86_64 depends on the CUDA libraries (nvidia-*), about
# 3.5 GB of downloads. pip's own cache (~/.cache/pip, or PIP_CACHE_DIR) keeps the wheels, and a
# stamp in the venv makes a warm run a no-op. Set MODEL_MIRROR_SKIP_ML_VENV=1 to skip it (the
# tests that need it then fail with a message naming this hook).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="${REPO_ROOT:-$(cd "$HERE/../../.." && pwd)}"
CACHE="${CACHE:?CACHE must be set (install.sh sets it)}"
VENV="$CACHE/venv-ml"
STAMP="$VENV/.model-mirror-stamp"

if [ "${MODEL_MIRROR_SKIP_ML_VENV:-}" = 1 ]; then
  echo "ml-venv: skipped (MODEL_MIRROR_SKIP_ML_VENV=1)" >&2
  exit 0
fi

MLFLOW_VERSION="$(node -e 'process.stdout.write(String(require(process.argv[1]).mlflow))' "$REPO_ROOT/versions.json")"
# Pinned so a new torch/transformers release cannot change what the tests check.
REQUIREMENTS="mlflow==$MLFLOW_VERSION
torch==2.15.0
transformers==5.24.0
boto3"
WANT="$(printf '%s\n' "$REQUIREMENTS" | sort)"

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ] && "$VENV/bin/python" -c '' 2>/dev/null; then
  echo "ml-venv: up to date ($VENV)" >&2
  exit 0
fi

PY="${MODEL_MIRROR_PYTHON:-python3}"
start=$(date +%s)
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import pip' 2>/dev/null; then
  rm -rf "$VENV"
  "$PY" -m venv "$VENV" >&2
fi
rm -f "$STAMP"
echo "ml-venv: installing into $VENV: $(echo $REQUIREMENTS) (first time: ~3.5 GB of wheels, cached by pip)" >&2
# shellcheck disable=SC2086
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check $REQUIREMENTS >&2
"$VENV/bin/python" - "$MLFLOW_VERSION" <<'PY' >&2
import sys
from importlib.metadata import version
assert version("mlflow") == sys.argv[1], version("mlflow")
import mlflow, torch, transformers, boto3  # noqa: F401
print(f"ml-venv: mlflow {mlflow.__version__}, torch {torch.__version__}, transformers {transformers.__version__}")
PY
printf '%s\n' "$WANT" > "$STAMP"
echo "ml-venv: ready in $(( $(date +%s) - start ))s" >&2
