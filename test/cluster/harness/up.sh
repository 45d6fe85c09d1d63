#!/usr/bin/env bash
# up.sh — starts the single-node test cluster: etcd, kube-apiserver, controller-manager,
# scheduler, containerd, kubelet, kube-proxy, CoreDNS, local-path-provisioner and the Argo
# workflow-controller, all as host processes with state under $CACHE/cluster/run.
# Why: a real Kubernetes + Argo for the suite on a machine with no Docker and no registries.
# Usage: up.sh [--argo v4.0.5|v3.7.18]     then: source $CACHE/cluster/run/env
# Already up with the same Argo version: no-op. With another: only the Argo controller (+CRDs)
# is swapped. Env CLUSTER_EXTRA_HOSTS="ip name name;ip name" (or a hosts-format file path)
# adds names to CoreDNS (later: append to $CACHE/cluster/run/coredns/hosts, re-read each second).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$HARNESS/config.sh"
source "$HARNESS/argo.sh"
source "$HARNESS/hoststate.sh"

ARGO=$ARGO_DEFAULT
while [ $# -gt 0 ]; do
  case $1 in
    --argo) ARGO=$2; shift 2 ;;
    --argo=*) ARGO=${1#*=}; shift ;;
    *) die "usage: up.sh [--argo VERSION]" ;;
  esac
done
[[ " $ARGO_VERSIONS " == *" $ARGO "* ]] || die "unknown Argo version $ARGO (have: $ARGO_VERSIONS)"
T0=$(date +%s.%N)
elapsed() { printf '%.1f' "$(echo "$(date +%s.%N) - $T0" | bc -l 2>/dev/null || echo 0)"; }

mkdir -p "$CL"
exec 8>"$CL/cluster.lock"
flock -w 900 8 || die "another up.sh/down.sh holds $CL/cluster.lock"
export MM_CLUSTER_LOCKED=1

PROCS="etcd containerd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy coredns local-path argo-controller"
node_ready() {
  [ "$(k get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" = True ]
}
dns_answers() { busybox nslookup kubernetes.default.svc.cluster.local "$NODE_IP" | grep 10.96.0.1 >/dev/null; }
services_programmed() { iptables -t nat -S KUBE-SERVICES | grep 10.96.0.1/32 >/dev/null; }
all_alive() { local p; for p in $PROCS; do alive "$p" || return 1; done; }
if [ -d "$RUN/pids" ] && all_alive && k get --raw /readyz >/dev/null 2>&1; then
  cur=$(cat "$RUN/argo-version")
  if [ "$cur" = "$ARGO" ]; then log "cluster already up (Argo $ARGO)"; exit 0; fi
  log "cluster up with Argo $cur: swapping the controller to $ARGO"
  stop_proc argo-controller
  start_argo "$ARGO"; wait_argo
  write_env
  log "Argo $ARGO up in $(elapsed)s"; exit 0
fi
if [ -d "$RUN" ]; then log "found a partial cluster: cleaning it first"; bash "$HARNESS/down.sh"; fi

bash "$HARNESS/build.sh" >&2   # seconds when warm
mkdir -p "$RUN/bin" "$RUN/logs" "$RUN/pids"
save_host_state
setup_network
make_pki
render_configs
cp "$PKI/kubeconfigs/super-admin.conf" "$KUBECONFIG_PATH"
for b in kubectl kubeadm; do ln -sfn "$KBIN/$b" "$RUN/bin/$b"; done
ln -sfn "$(bin_dir etcd "$ETCD_VERSION")/etcdctl" "$RUN/bin/etcdctl"

EB=$(bin_dir etcd "$ETCD_VERSION")
start_proc etcd "$EB/etcd" --name model-mirror --data-dir "$RUN/etcd" \
  --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
  --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
  --initial-cluster model-mirror=http://127.0.0.1:2380 --listen-metrics-urls "" \
  --unsafe-no-fsync --quota-backend-bytes 2147483648 --log-level warn
# The image store of the last cluster, if down.sh left it clean for this containerd (see lib.sh).
# The marker goes first: a cluster that dies from here on leaves a store that is not reused.
if [ -f "$CTR_ROOT.clean" ] && [ "$(cat "$CTR_ROOT.clean")" = "$(ctr_store_key)" ]; then
  rm -f "$CTR_ROOT.clean"; log "containerd: reusing the image store of the last cluster"
else
  rm -f "$CTR_ROOT.clean"; rm -rf "$CTR_ROOT"
fi
start_proc containerd containerd --config "$RUN/containerd/config.toml"

wait_for etcd 30 curl -sf http://127.0.0.1:2379/health
start_proc kube-apiserver "$KBIN/kube-apiserver" \
  --advertise-address "$NODE_IP" --bind-address "$NODE_IP" --secure-port 6443 \
  --etcd-servers http://127.0.0.1:2379 --service-cluster-ip-range "$SVC_CIDR" \
  --client-ca-file "$PKI/ca.crt" --tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" \
  --kubelet-client-certificate "$PKI/apiserver-kubelet-client.crt" --kubelet-client-key "$PKI/apiserver-kubelet-client.key" \
  --kubelet-preferred-address-types InternalIP \
  --service-account-issuer https://kubernetes.default.svc.cluster.local \
  --service-account-key-file "$PKI/sa.pub" --service-account-signing-key-file "$PKI/sa.key" \
  --requestheader-client-ca-file "$PKI/front-proxy-ca.crt" --proxy-client-cert-file "$PKI/front-proxy-client.crt" \
  --proxy-client-key-file "$PKI/front-proxy-client.key" --requestheader-allowed-names front-proxy-client \
  --requestheader-username-headers X-Remote-User --requestheader-group-headers X-Remote-Group \
  --requestheader-extra-headers-prefix X-Remote-Extra- \
  --authorization-mode Node,RBAC --enable-admission-plugins NodeRestriction \
  --allow-privileged=true --profiling=false --v=1

# images: into containerd while the API server starts
wait_for containerd 30 ctr --address "$CTR_SOCK" version
( for f in "$IMGROOT"/pause.tar "$IMGROOT"/busybox.tar "$IMGROOT"/argoexec-*.tar; do
    import_archive "$f" || { echo "import $f failed" >&2; exit 1; }
  done ) > "$RUN/logs/images.log" 2>&1 &
IMPORT_PID=$!

wait_for kube-apiserver 90 k get --raw /readyz
KC=$PKI/kubeconfigs
start_proc kube-controller-manager "$KBIN/kube-controller-manager" --kubeconfig "$KC/controller-manager.conf" \
  --authentication-kubeconfig "$KC/controller-manager.conf" --authorization-kubeconfig "$KC/controller-manager.conf" \
  --bind-address 127.0.0.1 --leader-elect=false --use-service-account-credentials=true \
  --cluster-signing-cert-file "$PKI/ca.crt" --cluster-signing-key-file "$PKI/ca.key" \
  --root-ca-file "$PKI/ca.crt" --service-account-private-key-file "$PKI/sa.key" \
  --controllers '*,bootstrapsigner,tokencleaner' --allocate-node-cidrs=false --v=1
start_proc kube-scheduler "$KBIN/kube-scheduler" --kubeconfig "$KC/scheduler.conf" \
  --authentication-kubeconfig "$KC/scheduler.conf" --authorization-kubeconfig "$KC/scheduler.conf" \
  --bind-address 127.0.0.1 --leader-elect=false --v=1
start_proc kubelet "$KBIN/kubelet" --config "$RUN/kubelet/config.yaml" --kubeconfig "$KC/kubelet.conf" \
  --root-dir "$RUN/kubelet" --hostname-override "$NODE_NAME" --node-ip "$NODE_IP" --v=1
start_proc kube-proxy "$KBIN/kube-proxy" --config "$RUN/kube-proxy.yaml" --v=1
start_proc coredns "$(bin_dir coredns "$COREDNS_VERSION")/coredns" -conf "$RUN/coredns/Corefile"

sed -e "s#@LOCAL_PATH_DIR@#$RUN/local-path#" -e "s#@HELPER_IMAGE@#$LPP_HELPER_IMAGE#" "$HARNESS/base.yaml" \
  | k apply -f - >/dev/null || die "applying base.yaml failed"
start_proc local-path "$(bin_dir local-path "$LOCAL_PATH_VERSION")/local-path-provisioner" --debug start \
  --kubeconfig "$KC/super-admin.conf" --namespace local-path-storage --configmap-name local-path-config \
  --helper-image "$LPP_HELPER_IMAGE" --service-account-name local-path-provisioner-service-account
start_argo "$ARGO"
write_env

wait "$IMPORT_PID" || { cat "$RUN/logs/images.log" >&2; die "image import failed"; }
wait_for kubelet 60 node_ready
wait_for kube-controller-manager 60 k -n default get serviceaccount default
wait_for coredns 30 dns_answers
wait_for kube-proxy 30 services_programmed
wait_argo
for p in $PROCS; do alive "$p" || fail "$p" "process exited"; done
log "cluster up (Kubernetes $KUBERNETES_VERSION, Argo $ARGO) in $(elapsed)s"
log "use it: source $RUN/env"
