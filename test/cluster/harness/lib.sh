# shellcheck shell=bash
# lib.sh — paths and small helpers shared by the cluster harness scripts (sourced, not run).
# Everything the harness keeps lives under $CACHE/cluster: bin/ (built binaries), images/
# (OCI archives), src/ (wrapper modules), run/ (state of the running cluster).
HARNESS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
source "$HARNESS/versions.env"
_pin() { jq -er --arg k "$1" '.[$k]' "$HARNESS/../../../versions.json"; }
KUBERNETES_VERSION=v$(_pin kubernetes)
# The first one is up.sh's default.
ARGO_VERSIONS="v$(_pin argoWorkflows) v$(_pin argoWorkflowsPrevious)"
CACHE=${MODEL_MIRROR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/model-mirror}
CL=$CACHE/cluster
BINROOT=$CL/bin
IMGROOT=$CL/images
RUN=$CL/run
export PATH=/usr/local/go/bin:$PATH:/usr/sbin:/sbin
ARGO_DEFAULT=${ARGO_VERSIONS%% *}

# Network layout: one bridge, pods on 10.244.0.0/24, services on 10.96.0.0/16.
BRIDGE=cni0
NODE_IP=10.244.0.1
POD_CIDR=10.244.0.0/24
SVC_CIDR=10.96.0.0/16
ARGO_METRICS_PORT=9090

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# bin_dir NAME VERSION — where build.sh puts a component's binaries.
bin_dir() { echo "$BINROOT/$1-$2"; }

# Image names the cluster uses (the exact names pods and the Argo controller ask for).
PAUSE_IMAGE=registry.k8s.io/pause:3.10
LPP_HELPER_IMAGE=docker.io/library/busybox:model-mirror
argoexec_image() { echo "quay.io/argoproj/argoexec:$1"; }

# State of a running cluster (all under $RUN, wiped by down.sh; logs survive in $CL/last-logs).
PKI=$CL/pki                      # certificates + kubeconfigs, kept across up/down
KUBECONFIG_PATH=$RUN/kubeconfig  # cluster-admin kubeconfig (kubeadm's super-admin.conf)
CTR_SOCK=$RUN/containerd/containerd.sock
# containerd's root (content, image layers, metadata) is kept across up/down so an image imported
# once is not unpacked again by the next cluster; down.sh removes every container from it first and
# then leaves "$CTR_ROOT.clean" (containerd's version) beside it. up.sh reuses the root only when
# that marker matches, and starts from an empty one otherwise (a crash, another containerd).
CTR_ROOT=$CL/containerd-root
ctr_store_key() { containerd --version 2>/dev/null | awk '{print $2, $3}'; }
NODE_NAME=model-mirror-node
KBIN=$(bin_dir kubernetes "$KUBERNETES_VERSION")

k() { "$KBIN/kubectl" --kubeconfig "$KUBECONFIG_PATH" "$@"; }
ctr_() { ctr --address "$CTR_SOCK" -n k8s.io "$@"; }
# import_archive FILE — imports an OCI archive into containerd, unless the image it names is there
# already with the same manifest, complete and unpacked (the kept image store, see CTR_ROOT).
import_archive() {
  local name digest
  read -r name digest < <(tar -xOf "$1" --occurrence=1 index.json 2>/dev/null \
    | jq -r '.manifests[0] | "\(.annotations["io.containerd.image.name"] // "-") \(.digest)"' 2>/dev/null) || true
  if [ -n "${name:-}" ] && [ "$name" != - ] \
     && ctr_ images check "name==$name" 2>/dev/null | awk -v d="$digest" 'NR == 2 && $3 == d && $4 == "complete" && $NF == "true" {ok=1} END {exit !ok}'; then
    echo "already imported: $name ($digest)"
    return 0
  fi
  ctr_ images import "$1" | sed 's/^/imported: /'
}

# start_proc NAME CMD... — run CMD in its own session, log to $RUN/logs/NAME.log, record its PID
start_proc() {
  local name=$1; shift
  mkdir -p "$RUN/logs" "$RUN/pids"
  # fds 8/9 are the cluster/build locks: the daemons must not inherit (and so hold) them
  setsid "$@" >>"$RUN/logs/$name.log" 2>&1 </dev/null 8>&- 9>&- &
  echo $! > "$RUN/pids/$name.pid"
}
pid_of() { cat "$RUN/pids/$1.pid" 2>/dev/null; }
alive() {
  local p; p=$(pid_of "$1") || return 1
  [ -n "$p" ] && [ -d "/proc/$p" ] && ! grep -q '^State:.*Z' "/proc/$p/status" 2>/dev/null
}
# stop_proc NAME [SECONDS] — SIGTERM, up to SECONDS (5), then SIGKILL; only the recorded PID
stop_proc() {
  local p i; p=$(pid_of "$1") || return 0
  if [ -n "$p" ] && [ -d "/proc/$p" ]; then
    kill -TERM "$p" 2>/dev/null || true
    for i in $(seq $(( ${2:-5} * 10 ))); do [ -d "/proc/$p" ] || break; sleep 0.1; done
    [ -d "/proc/$p" ] && kill -KILL "$p" 2>/dev/null || true
  fi
  rm -f "$RUN/pids/$1.pid"
}
# fail NAME WHAT — report which component failed, with the tail of its log
fail() {
  log "FAILED: $1: $2"
  if [ -f "$RUN/logs/$1.log" ]; then
    echo "----- last lines of $RUN/logs/$1.log -----" >&2
    tail -n 40 "$RUN/logs/$1.log" >&2
    echo "-----" >&2
  fi
  log "the cluster is left as it is for inspection; run down.sh to clean up"
  exit 1
}
# wait_for NAME SECONDS CMD... — poll CMD every 0.25 s; fail NAME if it dies or time runs out
wait_for() {
  local name=$1 secs=$2; shift 2
  local end=$(( $(date +%s) + secs ))
  until "$@" >/dev/null 2>&1; do
    if [ -f "$RUN/pids/$name.pid" ] && ! alive "$name"; then fail "$name" "process exited"; fi
    [ "$(date +%s)" -lt "$end" ] || fail "$name" "not ready after ${secs}s ($*)"
    sleep 0.25
  done
}
