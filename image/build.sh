#!/usr/bin/env bash
# build.sh (npm run image): builds the repository's Dockerfile, unmodified, with BuildKit
# (buildkitd's runc worker + buildctl, no Docker daemon, no registry) and writes
#   dist-image/model-mirror-<version>.oci.tar     image name: ${IMAGE_NAME:-localhost:5000/model-mirror:<version>}
# The Dockerfile's two FROM images come from the stand-ins of image/standins.sh, given to the
# dockerfile frontend as named contexts (context:<name>=oci-layout://...). `# syntax=` is not
# followed (that would pull docker/dockerfile:1.7): `--opt cmdline=` makes the built-in frontend
# build the file itself (frontend/dockerfile/builder: a set "cmdline" means "already forwarded").
# Builder state (layer cache, the npm cache mount) lives in $CACHE/image/buildkit-state, so a warm
# rebuild only re-runs what changed. buildkitd is started for the build and stopped after it.
# Env: IMAGE_NAME, VERSION, REVISION, CREATED, SOURCE_URL override the defaults; IMAGE_OUT the path.
source "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || die "must run as root (buildkitd's runc worker, debootstrap)"
# runc: the worker's runtime; jq, debootstrap: stand-ins; containerd (ctr): test/image imports the archive
need runc:runc jq:jq debootstrap:debootstrap gzip:gzip ctr:containerd
cd "$REPO_ROOT"

VERSION=${VERSION:-$(json version package.json)}
IMAGE_NAME=${IMAGE_NAME:-localhost:5000/model-mirror:$VERSION}
REVISION=${REVISION:-$(git rev-parse HEAD 2>/dev/null || echo unknown)}
CREATED=${CREATED:-$(date -u +%Y-%m-%dT%H:%M:%SZ)}
SOURCE_URL=${SOURCE_URL:-$(git config --get remote.origin.url 2>/dev/null || true)}
OUT=${IMAGE_OUT:-$REPO_ROOT/dist-image/model-mirror-$VERSION.oci.tar}

t=$(date +%s)
bk=$(bash "$IMAGE_DIR/buildkit.sh")
mapfile -t standins < <(bash "$IMAGE_DIR/standins.sh")
[ ${#standins[@]} = 2 ] || die "standins.sh gave ${#standins[@]} images, want 2"
log "builder + stand-ins ready in $(( $(date +%s) - t )) s"

lock build     # one buildkitd on this state directory at a time
state=$BCACHE/buildkit-state
run=$(mktemp -d /tmp/model-mirror-buildkitd.XXXXXX)   # socket path must stay short (< 108 bytes)
sock=unix://$run/buildkitd.sock
cat > "$run/buildkitd.toml" <<TOML
root = "$state"
[grpc]
  address = ["$sock"]
[worker.oci]
  enabled = true
  binary = "$(command -v runc)"
  snapshotter = "overlayfs"
  gc = true
  gckeepstorage = "8GB"
[worker.containerd]
  enabled = false
TOML
mkdir -p "$state"
bkpid=
stop() {
  local rc=$?
  if [ -n "$bkpid" ] && kill -0 "$bkpid" 2>/dev/null; then
    kill -TERM "$bkpid"; for _ in $(seq 50); do kill -0 "$bkpid" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$bkpid" 2>/dev/null && kill -KILL "$bkpid"
  fi
  [ $rc = 0 ] || { log "buildkitd log tail:"; tail -n 30 "$run/buildkitd.log" >&2 || true; }
  rm -rf "$run"; log "took $(elapsed) s (exit $rc)"
}
trap stop EXIT
"$bk/buildkitd" --config "$run/buildkitd.toml" >"$run/buildkitd.log" 2>&1 &
bkpid=$!
for _ in $(seq 100); do "$bk/buildctl" --addr "$sock" debug workers >/dev/null 2>&1 && break; kill -0 "$bkpid" 2>/dev/null || die "buildkitd exited"; sleep 0.2; done
"$bk/buildctl" --addr "$sock" debug workers >&2 || die "buildkitd did not come up"

ctx=() i=0
for line in "${standins[@]}"; do
  read -r name layout digest <<<"$line"
  # The frontend looks a FROM up by its *familiar* name (dockerui.Client.NamedContext:
  # reference.FamiliarString), so docker.io/library/node:24-x is keyed context:node:24-x; a
  # context:docker.io/library/... key is never consulted and BuildKit would go to Docker Hub.
  familiar=${name#docker.io/}; familiar=${familiar#library/}
  ctx+=(--oci-layout "standin$i=$layout" --opt "context:$familiar=oci-layout://standin$i@$digest")
  i=$((i + 1))
done
mkdir -p "$(dirname "$OUT")"
[ -e "$REPO_ROOT/dist-image/.gitignore" ] || echo '*' > "$REPO_ROOT/dist-image/.gitignore" 2>/dev/null || true
log "buildctl build: $IMAGE_NAME (version $VERSION, revision ${REVISION:0:12})"
tb=$(date +%s)
"$bk/buildctl" --addr "$sock" build --progress=plain \
  --frontend dockerfile.v0 --local context=. --local dockerfile=. \
  --opt cmdline= \
  "${ctx[@]}" \
  --opt "build-arg:VERSION=$VERSION" --opt "build-arg:REVISION=$REVISION" \
  --opt "build-arg:CREATED=$CREATED" --opt "build-arg:SOURCE_URL=$SOURCE_URL" \
  --output "type=oci,dest=$OUT.part,name=$IMAGE_NAME" >&2
mv "$OUT.part" "$OUT"
log "buildctl build took $(( $(date +%s) - tb )) s"
log "image $IMAGE_NAME: $OUT, $(du -h "$OUT" | cut -f1) ($(stat -c %s "$OUT") bytes)"
echo "$OUT"
