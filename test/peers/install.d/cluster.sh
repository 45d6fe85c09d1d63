#!/usr/bin/env bash
# Builds (or finds cached) what the `cluster` jest project runs, so its cold cost shows up here
# with progress instead of inside a test hook: the Kubernetes/etcd/CoreDNS/local-path/Argo binaries
# from the Go module proxy (test/cluster/harness/build.sh), the model-mirror image from the
# Dockerfile (image/build.sh, BuildKit) and the peer images (test/images). All cached under $CACHE,
# keyed on versions; a warm run takes seconds. MODEL_MIRROR_SKIP_CLUSTER=1 skips it (and the suite
# then builds what it needs itself).
#
# The three builds need nothing from each other, so they run side by side once the host packages
# are in (one apt-get at a time). The Go builds keep both cores busy; the image builds spend much
# of their time in debootstrap, pip and disk I/O, which now overlaps the Go builds instead of
# following them.
set -euo pipefail
REPO_ROOT="${REPO_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)}"
[ "${MODEL_MIRROR_SKIP_CLUSTER:-}" = 1 ] && { echo "cluster: skipped (MODEL_MIRROR_SKIP_CLUSTER=1)" >&2; exit 0; }
t=$(date +%s)
bash "$REPO_ROOT/test/cluster/harness/build.sh" --packages-only >&2

declare -A pids=()
# start NAME CMD...: CMD in the background, its stdout dropped (the scripts print paths there),
# its stderr prefixed with [NAME]
start() {
  local name=$1; shift
  ( set -o pipefail; { "$@" >/dev/null; } 2>&1 | sed -u "s/^/[$name] /" >&2 ) &
  pids[$name]=$!
}
start binaries bash "$REPO_ROOT/test/cluster/harness/build.sh"
start product-image bash "$REPO_ROOT/image/build.sh"
start peer-images bash -c 'set -e; bash "$1/test/images/build-all.sh"
  MLFLOW_VERSION="$(jq -r .mlflowPrevious "$1/versions.json")" bash "$1/test/images/mlflow.sh"' _ "$REPO_ROOT"
failed=()
for name in "${!pids[@]}"; do wait "${pids[$name]}" || failed+=("$name"); done
[ ${#failed[@]} -eq 0 ] || { echo "cluster: failed: ${failed[*]} (see their [name] lines above)" >&2; exit 1; }
echo "cluster: binaries and images ready in $(( $(date +%s) - t )) s" >&2
