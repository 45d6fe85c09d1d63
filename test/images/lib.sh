# Shared helpers for test/images/*.sh (sourced, not executed).
# Logs go to stderr; stdout is reserved for the result line(s) of each script.
set -euo pipefail

IMAGES_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$IMAGES_DIR/../.." && pwd)
CACHE=${MODEL_MIRROR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/model-mirror}
IMG_CACHE=$CACHE/images
mkdir -p "$IMG_CACHE"

log() { printf '[%s %s] %s\n' "$(basename "$0")" "$(date +%T)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Print elapsed time on exit (to stderr).
_T0=$(date +%s%N)
elapsed() { awk -v a="$_T0" -v b="$(date +%s%N)" 'BEGIN{printf "%.1f", (b-a)/1e9}'; }
trap '_rc=$?; log "took $(elapsed) s (exit $_rc)"' EXIT

# lock NAME: hold an exclusive flock on $IMG_CACHE/locks/NAME.lock for the rest of the script.
lock() {
  mkdir -p "$IMG_CACHE/locks"
  exec {_lockfd}>"$IMG_CACHE/locks/$1.lock"
  if ! flock -n "$_lockfd"; then
    log "waiting for lock $1 (another build is running)"
    flock "$_lockfd"
  fi
}

# key PARTS...: short sha256 of the given strings (use file hashes for recipes).
key() { printf '%s\n' "$@" | sha256sum | cut -c1-16; }
filehash() { sha256sum "$@" | cut -c1-64; }

# versions.json lookup
pin() { jq -er --arg k "$1" '.[$k]' "$REPO_ROOT/versions.json" || die "no \"$1\" in versions.json"; }

# host_apt PKG...: install Debian packages on the host if a command is missing (apt-get update once).
host_apt() {
  local missing=() p
  for p in "$@"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  ( exec {fd}>"$IMG_CACHE/locks/host-apt.lock"; flock "$fd"
    if [ ! -e "$IMG_CACHE/locks/apt-updated" ]; then
      log "apt-get update"; apt-get -o DPkg::Lock::Timeout=600 update -qq >&2 && touch "$IMG_CACHE/locks/apt-updated"
    fi
    log "apt-get install ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >&2 )
}

# The Debian mirror this host uses (first enabled deb URI for debian, not debian-security).
debian_mirror() {
  local u
  u=$( { grep -hsE '^\s*deb\s' /etc/apt/sources.list /etc/apt/sources.list.d/*.list | awk '{for(i=2;i<=NF;i++) if($i ~ /^[a-z]+:\/\//){print $i; break}}';
         grep -hsiE '^\s*URIs:' /etc/apt/sources.list.d/*.sources | awk '{for(i=2;i<=NF;i++) print $i}'; } \
       | grep -v -- '-security' | grep -E '/debian/?$' | head -1)
  [ -n "$u" ] || die "cannot find a Debian mirror in /etc/apt/sources.list*"
  echo "${u%/}"
}
debian_security_mirror() {
  { grep -hsE '^\s*deb\s' /etc/apt/sources.list /etc/apt/sources.list.d/*.list | awk '{for(i=2;i<=NF;i++) if($i ~ /^[a-z]+:\/\//){print $i; break}}';
    grep -hsiE '^\s*URIs:' /etc/apt/sources.list.d/*.sources | awk '{for(i=2;i<=NF;i++) print $i}'; } \
    | grep -E 'debian-security/?$' | head -1 | sed 's:/$::'
}

# chroot_run ROOT [--bind HOSTDIR:DIR]... -- CMD...: run CMD in ROOT with /proc (and bind mounts)
# inside a private mount namespace, so nothing stays mounted on the host when it exits.
chroot_run() {
  local root=$1; shift; local binds=()
  while [ "$1" != -- ]; do [ "$1" = --bind ] && binds+=("$2"); shift 2; done; shift
  local script='set -e; r=$1; shift; mount -t proc proc "$r/proc"
    while [ "$1" != -- ]; do mkdir -p "$r${1#*:}"; mount --bind "${1%%:*}" "$r${1#*:}"; shift; done; shift
    exec chroot "$r" "$@"'
  unshare --mount --propagation private -- sh -c "$script" sh "$root" "${binds[@]}" -- \
    env -i PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"
}

# unpack_rootfs TAR DIR
unpack_rootfs() { mkdir -p "$2"; tar --numeric-owner --xattrs -xpf "$1" -C "$2"; }
