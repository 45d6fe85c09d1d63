#!/usr/bin/env bash
# smoke.sh [mlflow|postgres|seaweedfs|all]...: builds (cached) and smoke-tests the images in a
# throwaway containerd (sandbox.sh): `ctr -n k8s.io images import`, then runc containers with the
# Kubernetes contract: read-only rootfs, non-root uid, writable tmpfs /tmp (+ data mounts).
# Each container has its own network namespace with only loopback; all traffic stays there.
# The uid is the image's own User (ctr run has no --user); the tests check it with `id`.
source "$(dirname "$0")/lib.sh"
source "$IMAGES_DIR/sandbox.sh"
[ "$(id -u)" = 0 ] || die "must run as root"
targets=("${@:-all}"); [ "${targets[*]}" = all ] && targets=(mlflow postgres seaweedfs)

lock smoke
trap '_rc=$?; sb_stop; log "took $(elapsed) s (exit $_rc)"' EXIT
TMPFS=(--mount "type=tmpfs,src=tmpfs,dst=/tmp,options=rw:nosuid:nodev:mode=1777")
fail() { log "FAIL: $*"; local f; for f in "$SB_DIR"/*.log; do
  [ -e "$f" ] && [ "${f##*/}" != containerd.log ] && { log "--- $f"; tail -n 40 "$f" >&2; }; done; exit 1; }
ok() { log "ok: $*"; }
# ex CONTAINER CMD...: exec in a running container (same user/env/mounts), output to stderr
ex() { local c=$1; shift; sb_ctr tasks exec --exec-id "x$RANDOM$RANDOM" "$c" "$@" >&2; }
exq() { local c=$1; shift; sb_ctr tasks exec --exec-id "x$RANDOM$RANDOM" "$c" "$@"; }
# wait_for SECONDS CONTAINER CMD...
wait_for() { local t=$1 c=$2; shift 2; local end=$((SECONDS + t))
  until exq "$c" "$@" >/dev/null 2>&1; do
    sb_ctr tasks ls 2>/dev/null | grep -E "^$c\s" | grep -q RUNNING || fail "$c is not running"
    [ $SECONDS -lt $end ] || fail "$c: timeout waiting for: $*"; sleep 2; done; }

smoke_mlflow() {
  local a n=ghcr.io/mlflow/mlflow:v$(pin mlflow)-full
  a=$("$IMAGES_DIR/mlflow.sh"); sb_import "$a" "$n"
  local env=(--env TMPDIR=/tmp --env XDG_CACHE_HOME=/tmp/.cache --env PYTHONDONTWRITEBYTECODE=1
             --env MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false)
  sb_run_opts mlflow-cli "$n" --rm --read-only "${TMPFS[@]}" "${env[@]}" -- sh -c '
    set -e; id; echo "HOME=$HOME PATH=$PATH"; command -v python mlflow
    python -c "import sqlalchemy, psycopg2, boto3, prometheus_flask_exporter; print(\"imports ok\", sqlalchemy.__version__, psycopg2.__version__, boto3.__version__)"
    mlflow --version; mlflow server --help >/dev/null; echo "server --help ok"
    ! touch /usr/local/x 2>/dev/null' >&2 || fail "mlflow CLI checks"
  ok "mlflow: imports, mlflow server --help, read-only rootfs as uid 1000"

  sb_run_opts mlflow "$n" -d --log-uri "file://$SB_DIR/mlflow.log" --read-only "${TMPFS[@]}" "${env[@]}" -- \
    mlflow server --host 127.0.0.1 --port 5000 --backend-store-uri sqlite:////tmp/mlflow.db \
      --default-artifact-root s3://mlflow/artifacts --no-serve-artifacts --allowed-hosts localhost,127.0.0.1 \
      --workers 2 --expose-prometheus /tmp/prometheus
  local get='import sys, urllib.request as u; print(u.urlopen(u.Request("http://127.0.0.1:5000"+sys.argv[1], headers={"Host": "localhost"}), timeout=5).read().decode()[:200])'
  wait_for 300 mlflow python -c "$get" /health
  ok "mlflow server: /health = $(exq mlflow python -c "$get" /health)"
  ex mlflow python -c 'import json, urllib.request as u
req = lambda p, d=None: json.load(u.urlopen(u.Request("http://127.0.0.1:5000/api/2.0/mlflow/" + p, data=None if d is None else json.dumps(d).encode(), headers={"Host": "localhost", "Content-Type": "application/json"}), timeout=10))
eid = req("experiments/create", {"name": "smoke"})["experiment_id"]
assert req("experiments/get-by-name?experiment_name=smoke")["experiment"]["artifact_location"].startswith("s3://mlflow/artifacts"), "artifact root"
print("experiment", eid, "created and read back")' || fail "mlflow REST"
  exq mlflow python -c "$get" /metrics | grep -q . || fail "mlflow /metrics"
  ok "mlflow REST experiment create/get, /metrics"
  ex mlflow mlflow db upgrade sqlite:////tmp/mlflow.db || fail "mlflow db upgrade"
  ok "mlflow db upgrade sqlite:////tmp/mlflow.db"
  sb_rm mlflow
}

for t in "${targets[@]}"; do declare -F "smoke_$t" >/dev/null || die "unknown target $t"; done
sb_start
for t in "${targets[@]}"; do log "=== $t"; "smoke_$t"; done
log "all smoke tests passed: ${targets[*]}"
