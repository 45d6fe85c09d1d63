#!/usr/bin/env bash
# smoke.sh [mlflow|postgres|seaweedfs|all]...: builds (cached) and smoke-tests the images in a
# throwaway containerd (sandbox.sh): `ctr -n k8s.io images import`, then runc containers with the
# Kubernetes contract: read-only rootfs, non-root uid, writable tmpfs /tmp (+ data mounts).
# Each container has its own network namespace with only loopback; all traffic stays there.
# The uid is the image's own User (ctr run has no --user); the tests check it with `id`.
source "$(dirname "$0")/lib.sh"
source "$IMAGES_DIR/sandbox.sh"
[ "$(id -u)" = 0 ] || die "must run as root"
targets=("${@:-all}"); [ "${targets[*]}" = all ] && targets=(mlflow postgres seaweedfs mlflow-postgres)

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
    sb_ctr tasks ls 2>/dev/null | grep -E "^$c\s" | grep -e RUNNING >/dev/null || fail "$c is not running"
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
  exq mlflow python -c "$get" /metrics | grep -e . >/dev/null || fail "mlflow /metrics"
  ok "mlflow REST experiment create/get, /metrics"
  ex mlflow mlflow db upgrade sqlite:////tmp/mlflow.db || fail "mlflow db upgrade"
  ok "mlflow db upgrade sqlite:////tmp/mlflow.db"
  sb_rm mlflow
}

# task_pid ID / stop_task ID SIGNAL: pid of a running task; graceful stop then delete
task_pid() { sb_ctr tasks ls 2>/dev/null | awk -v c="$1" '$1==c{print $2}'; }
stop_task() { sb_ctr tasks kill -s "$2" "$1" >/dev/null 2>&1 || true; local end=$((SECONDS + 60))
  while sb_ctr tasks ls 2>/dev/null | grep -E "^$1\s" | grep -e RUNNING >/dev/null; do
    [ $SECONDS -lt $end ] || fail "$1 did not stop on $2"; sleep 1; done; sb_rm "$1"; }
# in_netns ID CMD...: run a host command (curl) inside a container's network namespace
in_netns() { local c=$1; shift; nsenter --net="/proc/$(task_pid "$c")/ns/net" -- "$@"; }

PG_MAJOR=${POSTGRES_MAJOR:-$(pin postgres)}
PG_PASSWORD=smoke-$RANDOM-pw
pg_start() { # ID: the StatefulSet's contract: uid 999 (image User), read-only rootfs, 3 writable mounts
  sb_run_opts "$1" "docker.io/library/postgres:$PG_MAJOR" -d --log-uri "file://$SB_DIR/$1.log" --read-only "${TMPFS[@]}" \
    --mount "type=tmpfs,src=tmpfs,dst=/var/run/postgresql,options=rw:nosuid:nodev:mode=1777" \
    --mount "type=bind,src=$SB_DIR/pgvol,dst=/var/lib/postgresql/data,options=rbind:rw" \
    --env POSTGRES_USER=mlflow --env POSTGRES_DB=mlflow --env POSTGRES_PASSWORD="$PG_PASSWORD" \
    --env PGDATA=/var/lib/postgresql/data/pgdata --
  wait_for 180 "$1" pg_isready -h 127.0.0.1 -p 5432 -U mlflow -d mlflow
}
pgsql() { local c=$1 pw=$2; shift 2; exq "$c" env PGPASSWORD="$pw" psql -h 127.0.0.1 -p 5432 -U mlflow -d mlflow -Atq "$@"; }

smoke_postgres() {
  local a n=docker.io/library/postgres:$PG_MAJOR
  a=$(POSTGRES_MAJOR=$PG_MAJOR "$IMAGES_DIR/postgres.sh"); sb_import "$a" "$n"
  # the PVC root as fsGroup 999 leaves it: root-owned, group 999, setgid, group-writable
  install -d -o 0 -g 999 -m 2775 "$SB_DIR/pgvol"
  pg_start pg1
  [ "$(exq pg1 id -u):$(exq pg1 id -g)" = 999:999 ] || fail "postgres does not run as 999:999"
  grep -q "initializing" "$SB_DIR/pg1.log" || fail "first start did not initialize"
  ok "postgres first start: initdb, pg_isready, uid 999:999"
  [ "$(pgsql pg1 "$PG_PASSWORD" -c 'select current_user, current_database()')" = "mlflow|mlflow" ] || fail "password login"
  pgsql pg1 "$PG_PASSWORD" -c 'create table smoke(v text); insert into smoke values ($$kept$$)' || fail "write"
  pgsql pg1 wrong-password -c 'select 1' 2>/dev/null && fail "wrong password accepted over TCP"
  exq pg1 psql -h 127.0.0.1 -U mlflow -d mlflow -w -Atc 'select 1' 2>/dev/null && fail "TCP login without password accepted"
  [ "$(pgsql pg1 "$PG_PASSWORD" -c 'show listen_addresses')" = '*' ] || fail "listen_addresses"
  [ "$(pgsql pg1 "$PG_PASSWORD" -c 'show password_encryption')" = scram-sha-256 ] || fail "password_encryption"
  ok "postgres: scram password login over TCP on 127.0.0.1, wrong/no password refused, listen_addresses=*"
  stop_task pg1 SIGINT
  pg_start pg2
  grep -q "already initialized" "$SB_DIR/pg2.log" || fail "second start re-initialized"
  [ "$(pgsql pg2 "$PG_PASSWORD" -c 'select v from smoke')" = kept ] || fail "data lost across restart"
  ok "postgres second start reuses PGDATA (data kept)"
  exq pg2 sh -c 'ls -ld /var/lib/postgresql/data/pgdata' >&2
}

smoke_mlflow-postgres() { # mlflow's psycopg2 + schema creation + `mlflow db upgrade` against the postgres image
  task_pid pg2 | grep -e . >/dev/null || smoke_postgres
  local n=ghcr.io/mlflow/mlflow:v$(pin mlflow)-full
  sb_ctr images ls -q | grep -xF "$n" >/dev/null || sb_import "$("$IMAGES_DIR/mlflow.sh")" "$n"
  local url="postgresql+psycopg2://mlflow:$PG_PASSWORD@127.0.0.1:5432/mlflow"
  sb_run_opts mlflow-db "$n" --rm --read-only "${TMPFS[@]}" --with-ns "network:/proc/$(task_pid pg2)/ns/net" \
    --env PYTHONDONTWRITEBYTECODE=1 -- sh -c '
    set -e
    python -c "import sys; from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore as S; S(sys.argv[1], \"/tmp/a\"); print(\"schema created\")" "$1"
    mlflow db upgrade "$1"
    python -c "import sys, sqlalchemy as sa; t = sa.inspect(sa.create_engine(sys.argv[1])).get_table_names(); assert \"alembic_version\" in t; print(len(t), \"tables\")" "$1"' sh "$url" >&2 \
    || fail "mlflow against postgres"
  ok "mlflow: schema on postgres:$PG_MAJOR via psycopg2 (scram over TCP), mlflow db upgrade"
}

SW_AK=smokeAdminKey SW_SK=smokeAdminSecret MM_AK=mmAccessKey MM_SK=mmSecretKey-$RANDOM
smoke_seaweedfs() {
  local a n=localhost/seaweedfs:$(pin seaweedfs)
  a=$("$IMAGES_DIR/seaweedfs.sh"); sb_import "$a" "$n"
  install -d -o 1000 -g 1000 -m 0775 "$SB_DIR/swdata"; install -d "$SB_DIR/swconf"
  # an admin identity, and model-mirror's identity in the form lib/seaweedfs/s3-identities-config.ts emits
  jq -n --arg ak "$SW_AK" --arg sk "$SW_SK" --arg mak "$MM_AK" --arg msk "$MM_SK" '{identities: [
    {name: "admin", credentials: [{accessKey: $ak, secretKey: $sk}], actions: ["Admin", "Read", "Write", "List", "Tagging"]},
    {name: "model-mirror", credentials: [{accessKey: $mak, secretKey: $msk}], actions: ["Read:mlflow", "Write:mlflow", "List:mlflow", "Tagging:mlflow"]}]}' \
    > "$SB_DIR/swconf/s3.json"
  sb_run_opts seaweedfs "$n" -d --log-uri "file://$SB_DIR/seaweedfs.log" --read-only "${TMPFS[@]}" \
    --mount "type=bind,src=$SB_DIR/swdata,dst=/data,options=rbind:rw" \
    --mount "type=bind,src=$SB_DIR/swconf,dst=/etc/seaweedfs,options=rbind:ro" -- \
    weed server -dir=/data -ip=127.0.0.1 -ip.bind=127.0.0.1 -master.volumeSizeLimitMB=64 -volume.max=4 \
      -s3 -s3.port=8333 -s3.config=/etc/seaweedfs/s3.json
  local s3="http://127.0.0.1:8333" code end=$((SECONDS + 180))
  until code=$(in_netns seaweedfs curl -s -o /dev/null -w '%{http_code}' --max-time 5 --aws-sigv4 aws:amz:us-east-1:s3 --user "$SW_AK:$SW_SK" "$s3/") && [ "$code" = 200 ]; do
    [ $SECONDS -lt $end ] || fail "seaweedfs S3 not ready (last HTTP $code)"; sleep 2; done
  ok "seaweedfs S3 gateway answers a signed ListBuckets"
  # s3c CREDS|"" CURL-ARGS...: HTTP status of a (signed) request; the body is kept in $SB_DIR/s3.body
  s3c() { local creds=$1; shift; in_netns seaweedfs curl -s -o "$SB_DIR/s3.body" -w '%{http_code}' --max-time 10 \
    ${creds:+--aws-sigv4 aws:amz:us-east-1:s3 --user "$creds"} "$@"; }
  s3fail() { log "last S3 response: $(head -c 600 "$SB_DIR/s3.body" 2>/dev/null)"; fail "$@"; }
  [ "$(s3c "$SW_AK:$SW_SK" -X PUT "$s3/mlflow")" = 200 ] || s3fail "admin CreateBucket"
  [ "$(s3c "$MM_AK:$MM_SK" -X PUT --data-binary smoke-object \
    -H "x-amz-content-sha256: $(printf smoke-object | sha256sum | cut -d' ' -f1)" "$s3/mlflow/a/b.txt")" = 200 ] || s3fail "model-mirror PutObject"
  [ "$(in_netns seaweedfs curl -s --max-time 10 --aws-sigv4 aws:amz:us-east-1:s3 --user "$MM_AK:$MM_SK" "$s3/mlflow/a/b.txt")" = smoke-object ] || s3fail "GetObject content"
  ok "seaweedfs: CreateBucket (admin), PutObject/GetObject (model-mirror identity)"
  code=$(s3c "" "$s3/mlflow/a/b.txt"); [ "$code" = 403 ] || s3fail "unsigned GetObject got HTTP $code"
  code=$(s3c "$MM_AK:wrong-secret" "$s3/mlflow/a/b.txt"); [ "$code" = 403 ] || s3fail "wrong-key GetObject got HTTP $code"
  code=$(s3c "$MM_AK:$MM_SK" -X PUT "$s3/other"); [[ $code == 403 ]] || s3fail "model-mirror CreateBucket(other) got HTTP $code"
  ok "seaweedfs: unsigned, wrong-key and out-of-scope requests refused (403)"
  local w; w=$(find "$SB_DIR/swdata" -newer "$SB_DIR/swconf/s3.json" -type f | wc -l)
  [ "$w" -gt 0 ] || fail "nothing written to /data"
  ok "seaweedfs ran read-only with /data ($w files) and /tmp writable, uid $(stat -c %u "$SB_DIR"/swdata/* | sort -u | tr '\n' ' ')"
  sb_rm seaweedfs
}

for t in "${targets[@]}"; do declare -F "smoke_$t" >/dev/null || die "unknown target $t"; done
sb_start
for t in "${targets[@]}"; do log "=== $t"; "smoke_$t"; done
log "all smoke tests passed: ${targets[*]}"
