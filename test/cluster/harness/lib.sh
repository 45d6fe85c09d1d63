# lib.sh — paths and small helpers shared by the cluster harness scripts (sourced, not run).
# Everything the harness keeps lives under $CACHE/cluster: bin/ (built binaries), images/
# (OCI archives), src/ (wrapper modules), run/ (state of the running cluster).
HARNESS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
source "$HARNESS/versions.env"
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
