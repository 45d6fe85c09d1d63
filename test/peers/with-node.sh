#!/usr/bin/env bash
# Runs a command with the pinned Node (test/peers/node.sh) first on PATH, so jest, the bundle and
# every `node` they spawn run on versions.json "nodeRelease" whatever the machine's node is.
#   bash test/peers/with-node.sh jest --selectProjects unit
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
NODE="$(bash "$HERE/node.sh")"
export PATH="$(dirname "$NODE"):$HERE/../../node_modules/.bin:$PATH"
exec "$@"
