# sandbox.sh (sourced by smoke.sh): a throwaway containerd with its own root/state/socket under
# /tmp, used to import images with `ctr -n k8s.io images import` and run them with runc.
# Nothing here touches any other containerd (e.g. the cluster's under $CACHE/cluster): own socket,
# own root/state, CRI plugin disabled, containers in their own cgroup parent, stopped by PID.

SB_NS=k8s.io
sb_start() {
  host_apt containerd runc
  SB_DIR=$(mktemp -d /tmp/mm-images-sandbox.XXXXXX)
  SB_SOCK=$SB_DIR/containerd.sock
  SB_CGROUP=/mm-images-smoke-$$
  mkdir -p "$SB_DIR/root" "$SB_DIR/state" "$SB_DIR/opt"
  cat > "$SB_DIR/config.toml" <<TOML
version = 2
root = "$SB_DIR/root"
state = "$SB_DIR/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
[grpc]
  address = "$SB_SOCK"
[ttrpc]
  address = "$SB_SOCK.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$SB_DIR/opt"
TOML
  containerd --config "$SB_DIR/config.toml" >"$SB_DIR/containerd.log" 2>&1 &
  SB_PID=$!
  log "throwaway containerd pid $SB_PID in $SB_DIR"
  for _ in $(seq 100); do [ -S "$SB_SOCK" ] && sb_ctr version >/dev/null 2>&1 && return 0; sleep 0.2; done
  tail -20 "$SB_DIR/containerd.log" >&2; die "containerd did not start"
}

sb_ctr() { ctr --address "$SB_SOCK" -n "$SB_NS" "$@"; }

# sb_import ARCHIVE NAME: import and check the name is listed
sb_import() {
  sb_ctr images import "$1" >&2 || die "import of $1 failed"
  sb_ctr images ls -q | grep -xF "$2" >/dev/null || { sb_ctr images ls >&2; die "$2 not listed after import"; }
  log "imported $2"
}

# sb_run ID IMAGE [ctr run options...] -- [args]: run detached/foreground with the cgroup parent set
sb_run() { local id=$1 image=$2; shift 2; sb_ctr run --cgroup "$SB_CGROUP/$id" "$@" "$image" "$id"; }
sb_run_opts() { local id=$1 image=$2; shift 2
  local opts=() ; while [ $# -gt 0 ] && [ "$1" != -- ]; do opts+=("$1"); shift; done; [ $# -gt 0 ] && shift
  sb_ctr run --cgroup "$SB_CGROUP/$id" "${opts[@]}" "$image" "$id" "$@"; }

sb_rm() { # stop and delete a container (and its task)
  sb_ctr tasks kill -s SIGKILL "$1" >/dev/null 2>&1 || true
  for _ in $(seq 50); do sb_ctr tasks ls -q 2>/dev/null | grep -xF "$1" >/dev/null || break
    sb_ctr tasks delete "$1" >/dev/null 2>&1 || sleep 0.2; done
  sb_ctr containers delete "$1" >/dev/null 2>&1 || true
}

sb_stop() {
  [ -n "${SB_PID:-}" ] || return 0
  local c p; set +e
  for c in $(sb_ctr containers ls -q 2>/dev/null); do sb_rm "$c"; done
  kill "$SB_PID" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$SB_PID" 2>/dev/null || break; sleep 0.2; done
  kill -9 "$SB_PID" 2>/dev/null || true
  # shims started by this containerd carry our socket path on their command line
  for p in /proc/[0-9]*; do
    tr '\0' ' ' 2>/dev/null <"$p/cmdline" | grep -F -- "$SB_SOCK" >/dev/null && kill -9 "${p#/proc/}" 2>/dev/null || true
  done
  grep -F " $SB_DIR/" /proc/self/mounts | awk '{print $2}' | sort -r | while read -r m; do umount -l "$m" || true; done
  find /sys/fs/cgroup -maxdepth 2 -type d -name "${SB_CGROUP#/}" 2>/dev/null | while read -r d; do
    find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null || true; done
  rm -rf --one-file-system "$SB_DIR"
  log "throwaway containerd $SB_PID stopped, $SB_DIR removed"
  SB_PID=; set -e
}
