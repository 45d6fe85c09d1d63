# shellcheck shell=bash
# config.sh — writes the cluster's certificates and config files (sourced by up.sh).
# Why: every component runs as a host process with its files under $RUN, so nothing goes to
# /etc/kubernetes, /var/lib/containerd or /etc/cni; kubeadm only makes certs and kubeconfigs.

# make_pki — kubeadm's "certs" and "kubeconfig" phases, once (kept in $PKI across up/down)
make_pki() {
  local key; key="$KUBERNETES_VERSION $NODE_NAME $NODE_IP $SVC_CIDR v1"
  [ "$(cat "$PKI/.key" 2>/dev/null)" = "$key" ] && return 0
  rm -rf "$PKI"; mkdir -p "$PKI/kubeconfigs"
  cat > "$PKI/kubeadm.yaml" <<YAML
apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
localAPIEndpoint: {advertiseAddress: $NODE_IP, bindPort: 6443}
nodeRegistration: {name: $NODE_NAME, criSocket: "unix://$CTR_SOCK"}
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
clusterName: model-mirror
kubernetesVersion: $KUBERNETES_VERSION
certificatesDir: $PKI
controlPlaneEndpoint: "$NODE_IP:6443"
networking: {serviceSubnet: $SVC_CIDR, podSubnet: $POD_CIDR, dnsDomain: cluster.local}
apiServer: {certSANs: [127.0.0.1, localhost, $NODE_IP, 10.96.0.1]}
YAML
  "$KBIN/kubeadm" init phase certs all --config "$PKI/kubeadm.yaml" >"$PKI/kubeadm.log" 2>&1 || { cat "$PKI/kubeadm.log" >&2; die "kubeadm certs failed"; }
  "$KBIN/kubeadm" init phase kubeconfig all --config "$PKI/kubeadm.yaml" --kubeconfig-dir "$PKI/kubeconfigs" >>"$PKI/kubeadm.log" 2>&1 || { cat "$PKI/kubeadm.log" >&2; die "kubeadm kubeconfig failed"; }
  echo "$key" > "$PKI/.key"
}

# render_configs — containerd, CNI, kubelet, kube-proxy, CoreDNS files under $RUN
render_configs() {
  mkdir -p "$RUN"/{containerd,cni/net.d,cni/ipam,kubelet,pod-logs,coredns,local-path,etcd,runc}
  chmod 700 "$RUN/etcd"
  cat > "$RUN/containerd/config.toml" <<TOML
version = 2
root = "$CTR_ROOT"
state = "$RUN/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
[grpc]
  address = "$CTR_SOCK"
[plugins."io.containerd.internal.v1.opt"]
  path = "$RUN/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  # this VM lacks CAP_SYS_RESOURCE: without this runc fails "can't get final child's PID from pipe"
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "$RUN/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$RUN/cni/net.d"
TOML
  # Pods get an address on cni0 and a route to the service range only: no default route.
  cat > "$RUN/cni/net.d/10-model-mirror.conflist" <<JSON
{"cniVersion": "0.4.0", "name": "model-mirror", "plugins": [
  {"type": "bridge", "bridge": "$BRIDGE", "isGateway": true, "isDefaultGateway": false,
   "ipMasq": false, "hairpinMode": true,
   "ipam": {"type": "host-local", "dataDir": "$RUN/cni/ipam",
            "ranges": [[{"subnet": "$POD_CIDR", "gateway": "$NODE_IP"}]],
            "routes": [{"dst": "$SVC_CIDR", "gw": "$NODE_IP"}]}}]}
JSON
  echo "nameserver $NODE_IP" > "$RUN/resolv.conf"
  cat > "$RUN/kubelet/config.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication: {anonymous: {enabled: false}, webhook: {enabled: true}, x509: {clientCAFile: $PKI/ca.crt}}
authorization: {mode: Webhook}
containerRuntimeEndpoint: unix://$CTR_SOCK
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
clusterDNS: [$NODE_IP]
clusterDomain: cluster.local
resolvConf: $RUN/resolv.conf
podLogsDir: $RUN/pod-logs
serializeImagePulls: false
evictionHard: {memory.available: 100Mi, nodefs.available: 1%, imagefs.available: 1%, nodefs.inodesFree: 1%}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
rotateCertificates: false
syncFrequency: 10s
fileCheckFrequency: 60s
YAML
  cat > "$RUN/kube-proxy.yaml" <<YAML
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $PKI/kubeconfigs/super-admin.conf}
mode: iptables
hostnameOverride: $NODE_NAME
clusterCIDR: $POD_CIDR
bindAddress: $NODE_IP
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
nodePortAddresses: [$NODE_IP/32]
# service traffic is SNATed to the bridge address, so replies come back through the host
# (no br_netfilter needed); leave the conntrack sysctls alone (0 = do not set)
iptables: {masqueradeAll: true, localhostNodePorts: false}
conntrack: {maxPerCore: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
YAML
  render_coredns
}

# render_coredns — Corefile + hosts file. Tests add names by appending "IP name..." lines to
# $RUN/coredns/hosts (re-read every second) or via CLUSTER_EXTRA_HOSTS at up:
# "ip name name;ip name" or the path of a hosts-format file.
render_coredns() {
  local h=$RUN/coredns/hosts
  [ -f "$h" ] || echo "# model-mirror test hosts: IP name [name...]" > "$h"
  if [ -n "${CLUSTER_EXTRA_HOSTS:-}" ]; then
    if [ -f "$CLUSTER_EXTRA_HOSTS" ]; then cat "$CLUSTER_EXTRA_HOSTS" >> "$h"
    else tr ';' '\n' <<<"$CLUSTER_EXTRA_HOSTS" | sed 's/^ *//' | grep -v '^$' >> "$h"; fi
  fi
  # no "forward": names outside the cluster and the hosts file do not resolve
  cat > "$RUN/coredns/Corefile" <<EOC
.:53 {
    bind $NODE_IP
    errors
    hosts $h {
        reload 1s
        fallthrough
    }
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig $PKI/kubeconfigs/super-admin.conf
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 5
    }
    loadbalance
}
EOC
}
