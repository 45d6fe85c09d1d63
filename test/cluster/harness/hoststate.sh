# shellcheck shell=bash
# hoststate.sh — what the cluster changes on the host, saved at up and undone at down
# (sourced by up.sh/down.sh). Why: down.sh must leave the machine as it found it.
HOST=$RUN/host
# sysctls the kubelet (and up.sh: ip_forward) change
SYSCTLS="kernel.panic kernel.panic_on_oops vm.overcommit_memory vm.panic_on_oom
  kernel.keys.root_maxkeys kernel.keys.root_maxbytes net.ipv4.ip_forward
  net.ipv4.conf.all.route_localnet net.netfilter.nf_conntrack_max
  net.netfilter.nf_conntrack_tcp_timeout_established net.netfilter.nf_conntrack_tcp_timeout_close_wait"
# directories created outside $RUN by containerd/kubelet/CNI (hard-coded paths)
OUTSIDE_DIRS="/run/containerd /run/containerd/s /var/lib/kubelet /var/lib/kubelet/device-plugins
  /var/log/containers /var/log/pods /var/lib/cni /run/netns /etc/kubernetes"
GUARD_COMMENT=model-mirror-guard

save_host_state() {
  mkdir -p "$HOST"
  local s d v
  for s in $SYSCTLS; do v=$(sysctl -n "$s" 2>/dev/null) && echo "$s=$v"; done > "$HOST/sysctl"
  for d in $OUTSIDE_DIRS; do [ -e "$d" ] || echo "$d"; done > "$HOST/absent-dirs"
  for d in /sys/fs/cgroup/*/; do [ -e "${d}kubepods" ] || echo "${d}kubepods"; done > "$HOST/absent-cgroups"
  ls /run/netns 2>/dev/null > "$HOST/netns-before" || true
  [ -e /proc/modules ] && awk '{print $1}' /proc/modules | sort > "$HOST/modules-before"
  { iptables-save 2>/dev/null | sed -n 's/^\*/ip /p'; ip6tables-save 2>/dev/null | sed -n 's/^\*/ip6 /p'; } > "$HOST/ipt-tables-before"
}

# guard rules: nothing from the pod network leaves through any interface but the bridge
guard_rules() {  # prints "table chain rule..." lines
  local t
  for t in filter mangle; do
    echo "$t FORWARD -i $BRIDGE ! -o $BRIDGE -m comment --comment $GUARD_COMMENT -j DROP"
    echo "$t FORWARD -s $POD_CIDR ! -o $BRIDGE -m comment --comment $GUARD_COMMENT -j DROP"
  done
}

setup_network() {
  if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
    ip link add "$BRIDGE" type bridge
    ip addr add "$NODE_IP/24" dev "$BRIDGE"
  fi
  ip link set "$BRIDGE" up
  local t c r
  while read -r t c r; do
    iptables -t "$t" -C "$c" $r 2>/dev/null || iptables -t "$t" -I "$c" 1 $r
  done < <(guard_rules)
  sysctl -qw net.ipv4.ip_forward=1
}

write_env() {
  cat > "$RUN/env" <<ENV
# source me: the local test cluster (Kubernetes $KUBERNETES_VERSION, Argo $(cat "$RUN/argo-version"))
export KUBECONFIG=$KUBECONFIG_PATH
export PATH=$RUN/bin:\$PATH
export CONTAINERD_ADDRESS=$CTR_SOCK
export CONTAINERD_NAMESPACE=k8s.io
export MODEL_MIRROR_CLUSTER_ARGO_VERSION=$(cat "$RUN/argo-version")
export MODEL_MIRROR_CLUSTER_ARGO_METRICS=http://127.0.0.1:$ARGO_METRICS_PORT/metrics
export MODEL_MIRROR_CLUSTER_HOSTS_FILE=$RUN/coredns/hosts
export MODEL_MIRROR_CLUSTER_NODE_IP=$NODE_IP
ENV
}
