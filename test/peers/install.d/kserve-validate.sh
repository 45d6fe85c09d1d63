#!/usr/bin/env bash
# The KServe InferenceService CRD (from the KServe Go module at versions.json's `kserve`, fetched
# with `go mod download` through the Go module proxy) and test/kserve-validate (the API server's
# own CRD validation code) built into $CACHE/bin/kserve-validate. Run by test/peers/install.sh with
# CACHE set; does nothing when both are already there for these inputs.
#
#   $CACHE/kserve/<version>/serving.kserve.io_inferenceservices.yaml
#   $CACHE/bin/kserve-validate
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="${REPO_ROOT:-$(cd "$HERE/../../.." && pwd)}"
CACHE="${CACHE:?CACHE must be set (install.sh sets it)}"
SRC="$REPO_ROOT/test/kserve-validate"
OUT="$CACHE/bin/kserve-validate"
STAMP="$OUT.stamp"

command -v go >/dev/null 2>&1 || { echo "kserve-validate: go is not on PATH (Go >= 1.25 is required)" >&2; exit 1; }
VERSION="$(node -e 'process.stdout.write(String(require(process.argv[1]).kserve||""))' "$REPO_ROOT/versions.json")"
[ -n "$VERSION" ] || { echo "kserve-validate: versions.json has no 'kserve' entry" >&2; exit 1; }

CRD_DIR="$CACHE/kserve/$VERSION"
CRD="$CRD_DIR/serving.kserve.io_inferenceservices.yaml"
if [ ! -s "$CRD" ]; then
  echo "kserve-validate: fetching github.com/kserve/kserve@v$VERSION (Go module proxy)" >&2
  dir="$(go mod download -json "github.com/kserve/kserve@v$VERSION" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const j=JSON.parse(s);if(j.Error){console.error(j.Error);process.exit(1)}process.stdout.write(j.Dir)})')"
  mkdir -p "$CRD_DIR"
  cp "$dir/config/crd/full/serving.kserve.io_inferenceservices.yaml" "$CRD.tmp"
  mv "$CRD.tmp" "$CRD"
fi

want="$(cat "$SRC/go.mod" "$SRC/go.sum" "$SRC/main.go" | sha256sum | cut -d' ' -f1)-$(go env GOVERSION)"
if [ -x "$OUT" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
  echo "kserve-validate: up to date ($OUT, CRD v$VERSION)" >&2
  exit 0
fi
mkdir -p "$CACHE/bin"
echo "kserve-validate: building $OUT" >&2
start=$(date +%s)
(cd "$SRC" && GOFLAGS="${GOFLAGS:-} -mod=readonly" CGO_ENABLED=0 go build -trimpath -o "$OUT.tmp" .)
mv "$OUT.tmp" "$OUT"
printf '%s\n' "$want" > "$STAMP"
echo "kserve-validate: built in $(( $(date +%s) - start ))s" >&2
