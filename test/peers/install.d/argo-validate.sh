#!/usr/bin/env bash
# Builds test/argo-validate (Argo's WorkflowTemplate validation as a small offline binary) into
# $CACHE/bin/argo-validate. Run by test/peers/install.sh with CACHE set; rebuilds only when
# go.mod, go.sum or main.go change (their hash is stored next to the binary).
#
# First build: Go downloads the argo-workflows module graph (a few hundred MB into GOMODCACHE,
# default ~/go/pkg/mod) and compiles it: about 2-3 minutes on 2 cores. Later builds: instant.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="${REPO_ROOT:-$(cd "$HERE/../../.." && pwd)}"
CACHE="${CACHE:?CACHE must be set (install.sh sets it)}"
SRC="$REPO_ROOT/test/argo-validate"
OUT="$CACHE/bin/argo-validate"
STAMP="$OUT.stamp"

command -v go >/dev/null 2>&1 || { echo "argo-validate: go is not on PATH (Go >= 1.25 is required to build the Argo validator)" >&2; exit 1; }

want="$(cat "$SRC/go.mod" "$SRC/go.sum" "$SRC/main.go" | sha256sum | cut -d' ' -f1)-$(go env GOVERSION)"
if [ -x "$OUT" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
  echo "argo-validate: up to date ($OUT)" >&2
  exit 0
fi

mkdir -p "$CACHE/bin"
echo "argo-validate: building $OUT (first build downloads Go modules; takes a few minutes)" >&2
start=$(date +%s)
# -mod=readonly: go.sum is committed, a build must not rewrite it. -trimpath: reproducible paths.
(cd "$SRC" && GOFLAGS="${GOFLAGS:-} -mod=readonly" CGO_ENABLED=0 go build -trimpath -o "$OUT.tmp" .)
mv "$OUT.tmp" "$OUT"
printf '%s\n' "$want" > "$STAMP"
echo "argo-validate: built in $(( $(date +%s) - start ))s" >&2
