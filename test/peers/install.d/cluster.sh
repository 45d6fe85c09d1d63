#!/usr/bin/env bash
# Builds (or finds cached) what the `cluster` jest project runs, so its cold cost shows up here
# with progress instead of inside a test hook: the Kubernetes/etcd/CoreDNS/local-path/Argo binaries
# from the Go module proxy (test/cluster/harness/build.sh), the model-mirror image from the
# Dockerfile (image/build.sh, BuildKit) and the peer images (test/images). All cached under $CACHE,
# keyed on versions; a warm run takes seconds. MODEL_MIRROR_SKIP_CLUSTER=1 skips it (and the suite
# then builds what it needs itself).
set -euo pipefail
REPO_ROOT="${REPO_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)}"
[ "${MODEL_MIRROR_SKIP_CLUSTER:-}" = 1 ] && { echo "cluster: skipped (MODEL_MIRROR_SKIP_CLUSTER=1)" >&2; exit 0; }
t=$(date +%s)
bash "$REPO_ROOT/test/cluster/harness/build.sh" >&2
bash "$REPO_ROOT/image/build.sh" >/dev/null
bash "$REPO_ROOT/test/images/build-all.sh" >/dev/null
MLFLOW_VERSION="$(jq -r .mlflowPrevious "$REPO_ROOT/versions.json")" bash "$REPO_ROOT/test/images/mlflow.sh" >/dev/null
echo "cluster: binaries and images ready in $(( $(date +%s) - t )) s" >&2
