#!/usr/bin/env bash
# buildkit.sh: builds (once, cached) buildkitd + buildctl $BUILDKIT_VERSION from the Go module proxy
# and prints the directory holding both binaries:  $CACHE/image/buildkit/<version>-<key>/
# `go install pkg@version` refuses modules with exclude directives (buildkit's go.mod has some),
# so the module source is downloaded and built as the main module, exactly as its go.mod says.
source "$(dirname "$0")/lib.sh"

command -v go >/dev/null || die "go is not installed"
k=$(key "$BUILDKIT_VERSION" "$(go env GOVERSION)" "$(filehash "$0")")
out=$BCACHE/buildkit/$BUILDKIT_VERSION-$k
lock buildkit
if [ -x "$out/buildkitd" ] && [ -x "$out/buildctl" ]; then log "cached: $out"; echo "$out"; exit 0; fi

mkdir -p "$BCACHE/buildkit"
work=$(mktemp -d "$BCACHE/buildkit/.work.XXXXXX")
trap '_rc=$?; chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"; log "took $(elapsed) s (exit $_rc)"' EXIT
log "go mod download github.com/moby/buildkit@$BUILDKIT_VERSION"
dir=$(GOFLAGS=-mod=mod go mod download -json "github.com/moby/buildkit@$BUILDKIT_VERSION" | sed -n 's/^\s*"Dir": "\(.*\)",$/\1/p')
[ -d "$dir" ] || die "module download failed"
cp -r "$dir" "$work/src"; chmod -R u+w "$work/src"
ldflags="-s -w -X github.com/moby/buildkit/version.Version=$BUILDKIT_VERSION -X github.com/moby/buildkit/version.Package=github.com/moby/buildkit"
log "go build buildkitd buildctl (CGO_ENABLED=0; this takes minutes on 2 cores)"
# One go build for both, with buildkitd's static tags: the packages they share (most of
# buildkit's client side) compile once. Two builds with different tags shared almost none of
# them: the netgo tag changes package net, so every package that imports it gets another build ID.
mkdir -p "$work/bin"
( cd "$work/src" && export CGO_ENABLED=0 GOFLAGS='-mod=mod -buildvcs=false' \
  && go build -trimpath -ldflags "$ldflags" -tags 'osusergo netgo static_build' -o "$work/bin/" ./cmd/buildctl ./cmd/buildkitd ) >&2
"$work/bin/buildkitd" --version >&2
rm -rf "$out"; mv "$work/bin" "$out"
echo "$out"
