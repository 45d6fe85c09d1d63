#!/usr/bin/env bash
# Builds test/argo-validate (Argo's WorkflowTemplate validation as a small offline binary) into
# $CACHE/bin/argo-validate. Run by test/peers/install.sh with CACHE set; rebuilds only when
# main.go, the Argo version or Go changes (their hash is stored next to the binary).
#
# The validator is built as one more command inside a copy of the Argo module it validates with
# (versions.json argoWorkflowsPrevious: the v3 line, whose Go API main.go is written against),
# with Argo's own go.mod, exactly as test/cluster/harness/build.sh copies that module
# to build the v3 controller, executor and CLI. Same sources, same dependency versions and the
# same flags give the same build IDs, so the Argo packages compiled here are build-cache hits
# for the cluster's Argo v3 build later in a cold install, instead of being compiled twice.
#
# First build: Go downloads the argo-workflows module graph (a few hundred MB into GOMODCACHE,
# default ~/go/pkg/mod) and compiles it: minutes on 2 cores. Later builds: instant.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="${REPO_ROOT:-$(cd "$HERE/../../.." && pwd)}"
CACHE="${CACHE:?CACHE must be set (install.sh sets it)}"
SRC="$REPO_ROOT/test/argo-validate/main.go"
OUT="$CACHE/bin/argo-validate"
STAMP="$OUT.stamp"

command -v go >/dev/null 2>&1 || { echo "argo-validate: go is not on PATH (Go >= 1.25 is required to build the Argo validator)" >&2; exit 1; }
ARGO="v$(node -e 'process.stdout.write(String(require(process.argv[1]).argoWorkflowsPrevious||""))' "$REPO_ROOT/versions.json")"
[ "$ARGO" != v ] || { echo "argo-validate: versions.json has no 'argoWorkflowsPrevious' entry" >&2; exit 1; }
case "$ARGO" in v3.*) ;; *) echo "argo-validate: argoWorkflowsPrevious is $ARGO; the validator is written against the v3 Go API" >&2; exit 1 ;; esac
MOD=github.com/argoproj/argo-workflows/v3

want="$(sha256sum < "$SRC" | cut -d' ' -f1)-$ARGO-$(go env GOVERSION)"
if [ -x "$OUT" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
  echo "argo-validate: up to date ($OUT, Argo $ARGO)" >&2
  exit 0
fi

mkdir -p "$CACHE/bin" "$CACHE/src"
echo "argo-validate: building $OUT against Argo $ARGO (first build downloads Go modules; takes a few minutes)" >&2
start=$(date +%s)
dir="$(go mod download -json "$MOD@$ARGO" | sed -n 's/^\s*"Dir": "\(.*\)",$/\1/p')"
[ -d "$dir" ] || { echo "argo-validate: go mod download $MOD@$ARGO failed" >&2; exit 1; }
work="$(mktemp -d "$CACHE/src/argo-validate.XXXXXX")"
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
cp -r "$dir" "$work/argo"; chmod -R u+w "$work/argo"
mkdir -p "$work/argo/cmd/modelmirror-argo-validate"
cp "$SRC" "$work/argo/cmd/modelmirror-argo-validate/main.go"
# -mod=readonly: Argo's go.sum decides. -trimpath (as build.sh): no directory in the build IDs.
(cd "$work/argo" && GOFLAGS="${GOFLAGS:-} -mod=readonly" CGO_ENABLED=0 go build -trimpath -o "$OUT.tmp" ./cmd/modelmirror-argo-validate)
mv "$OUT.tmp" "$OUT"
printf '%s\n' "$want" > "$STAMP"
echo "argo-validate: built in $(( $(date +%s) - start ))s" >&2
