#!/usr/bin/env bash
# status.sh — prints what of the test cluster runs: each host process with its PID, the Argo
# version, the node, and where the kubeconfig/env/metrics are. Exit 0 if all runs, 1 if not.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
[ -d "$RUN/pids" ] || { echo "cluster: down"; exit 1; }
ok=0
for p in etcd containerd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy coredns local-path argo-controller; do
  if alive "$p"; then printf '  %-24s running  pid %s\n' "$p" "$(pid_of "$p")"
  else printf '  %-24s STOPPED  (log %s)\n' "$p" "$RUN/logs/$p.log"; ok=1; fi
done
echo "  argo version:  $(cat "$RUN/argo-version" 2>/dev/null)"
echo "  kubeconfig:    $KUBECONFIG_PATH   (source $RUN/env)"
echo "  argo metrics:  http://127.0.0.1:$ARGO_METRICS_PORT/metrics"
echo "  coredns hosts: $RUN/coredns/hosts"
k get nodes -o wide 2>/dev/null | sed 's/^/  /' || { echo "  API server not answering"; ok=1; }
exit $ok
