#!/usr/bin/env bash
# down.sh — stops the test cluster and leaves the machine as up.sh found it: processes (by
# recorded PID; containerd shims by their socket), pod processes and kubepods cgroups, mounts
# under the state dir and the pods' netns, cni0 + veths, KUBE-/CNI- chains and the guard rules,
# sysctls, and the directories the components create outside the state dir. Idempotent.
# Logs of the last run are kept in $CACHE/cluster/last-logs.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
source "$HARNESS/hoststate.sh"
T0=$(date +%s)
mkdir -p "$CL"
if [ -z "${MM_CLUSTER_LOCKED:-}" ]; then
  exec 8>"$CL/cluster.lock"; flock -w 900 8 || die "another up.sh/down.sh holds $CL/cluster.lock"
fi

# 1. host processes, newest first (containerd last: it must see its containers go; hub-fixture:
#    the one `npm run cluster:up` starts)
# (all get SIGTERM at once; a test cluster has nothing to drain)
for p in hub-fixture argo-controller local-path coredns kube-proxy kube-scheduler kube-controller-manager kubelet kube-apiserver etcd; do
  stop_proc "$p" 3 &
done
wait
# 2. pod processes: everything in the kubepods cgroups, then the shims of our containerd
cg_procs() { find /sys/fs/cgroup/pids/kubepods /sys/fs/cgroup/freezer/kubepods -name cgroup.procs -exec cat {} + 2>/dev/null | sort -u; }
shim_pids() {
  local d
  for d in /proc/[0-9]*; do
    { tr '\0' ' ' < "$d/cmdline"; } 2>/dev/null | grep -q -- "containerd-shim.* -address $CTR_SOCK" && echo "${d#/proc/}"
  done
}
for _ in 1 2 3 4 5; do
  pids=$(cg_procs); [ -z "$pids" ] && break
  kill -KILL $pids 2>/dev/null; sleep 0.3
done
# Keep containerd's image store for the next up.sh, with no container of this cluster in it
# (their processes are dead by now); if that cannot be done, the next up.sh starts empty.
clean_image_store() {
  local ids
  ids=$(ctr_ tasks ls -q 2>/dev/null) || return 1
  for id in $ids; do ctr_ tasks rm -f "$id" >/dev/null 2>&1; done
  ids=$(ctr_ containers ls -q 2>/dev/null) || return 1
  [ -z "$ids" ] || ctr_ containers rm $ids >/dev/null 2>&1
  [ -z "$(ctr_ containers ls -q 2>/dev/null)" ]
}
# store: clean (emptied now), kept (already clean: an earlier down.sh left it, no containerd has
# run on it since) or dirty (removed below).
store=dirty
if alive containerd; then
  rm -f "$CTR_ROOT.clean"
  clean_image_store && store=clean
elif [ -f "$CTR_ROOT.clean" ] && [ "$(cat "$CTR_ROOT.clean")" = "$(ctr_store_key)" ]; then
  store=kept
fi
stop_proc containerd
for p in $(shim_pids); do kill -TERM "$p" 2>/dev/null; done; sleep 0.5
for p in $(shim_pids); do kill -KILL "$p" 2>/dev/null; done
# 3. mounts under the state dir (deepest first) and the pods' network namespaces
umount_under() {
  local m
  for m in $(awk -v r="$1" '$5 == r || index($5, r "/") == 1 {print $5}' /proc/self/mountinfo | sort -r -u); do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || log "could not unmount $m"
  done
}
umount_under "$RUN"
umount_under "$CTR_ROOT"
if [ "$store" = clean ]; then
  # the CRI plugin's per-pod directories (logs, hostname, resolv.conf): nothing to reuse
  rm -rf "$CTR_ROOT/io.containerd.grpc.v1.cri"
  ctr_store_key > "$CTR_ROOT.clean"
elif [ "$store" = dirty ]; then
  rm -f "$CTR_ROOT.clean"
  [ -d "$CTR_ROOT" ] && { log "containerd's image store could not be cleaned: removed"; rm -rf "$CTR_ROOT"; }
fi
if [ -d /run/netns ]; then
  for n in /run/netns/cni-*; do
    [ -e "$n" ] || continue
    grep -qx "${n##*/}" "$HOST/netns-before" 2>/dev/null && continue
    umount "$n" 2>/dev/null || umount -l "$n" 2>/dev/null; rm -f "$n"
  done
fi
# 4. network: veths on the bridge, the bridge, guard rules, KUBE-/CNI- chains, conntrack
for v in $(ip -o link show master "$BRIDGE" 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1); do ip link del "$v" 2>/dev/null; done
ip link show "$BRIDGE" >/dev/null 2>&1 && ip link del "$BRIDGE"
while read -r t c r; do
  while iptables -t "$t" -C "$c" $r 2>/dev/null; do iptables -t "$t" -D "$c" $r; done
done < <(guard_rules)
for ipt in iptables ip6tables; do
  for t in filter nat mangle raw; do
    $ipt -t "$t" -S 2>/dev/null | grep -E '^-A [A-Z]+ .*-j (KUBE-|CNI-)' | grep -vE '^-A (KUBE-|CNI-)' | cut -d' ' -f2- \
      | while read -r rule; do eval "$ipt -t $t -D $rule" 2>/dev/null; done
    for ch in $($ipt -t "$t" -S 2>/dev/null | awk '$1=="-N" && $2 ~ /^(KUBE-|CNI-)/ {print $2}'); do $ipt -t "$t" -F "$ch" 2>/dev/null; done
    for ch in $($ipt -t "$t" -S 2>/dev/null | awk '$1=="-N" && $2 ~ /^(KUBE-|CNI-)/ {print $2}'); do $ipt -t "$t" -X "$ch" 2>/dev/null; done
  done
done
# iptables-nft tables that only exist because of the cluster and are now empty: delete them
if [ -f "$HOST/ipt-tables-before" ] && command -v nft >/dev/null; then
  for fam in ip ip6; do
    save=iptables-save; [ $fam = ip6 ] && save=ip6tables-save
    for t in $($save 2>/dev/null | sed -n 's/^\*//p'); do
      grep -qx "$fam $t" "$HOST/ipt-tables-before" && continue
      $save -t "$t" | grep -vE '^(#|\*|COMMIT|:(INPUT|FORWARD|OUTPUT|PREROUTING|POSTROUTING) ACCEPT)' | grep . >/dev/null \
        || nft delete table "$fam" "$t" 2>/dev/null
    done
  done
fi
conntrack -D -s "$POD_CIDR" >/dev/null 2>&1 || true
conntrack -D -d "$POD_CIDR" >/dev/null 2>&1 || true
# 5. sysctls, cgroups, directories outside the state dir
if [ -f "$HOST/sysctl" ]; then
  while IFS='=' read -r k v; do
    [ "$(sysctl -n "$k" 2>/dev/null)" = "$v" ] || sysctl -qw "$k=$v"
  done < "$HOST/sysctl"
fi
if [ -f "$HOST/absent-cgroups" ]; then
  while read -r cg; do
    [ -d "$cg" ] && find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null
    [ -d "$cg" ] && log "could not remove cgroup $cg"
  done < "$HOST/absent-cgroups"
fi
if [ -f "$HOST/absent-dirs" ]; then
  for d in $(sort -r "$HOST/absent-dirs"); do
    case $d in
      /run/netns) rmdir "$d" 2>/dev/null ;;   # others may have made namespaces there since
      *) umount_under "$d"; rm -rf "$d" ;;
    esac
  done
fi
# 6. kernel modules the cluster loaded (best effort: a module still in use stays)
if [ -f "$HOST/modules-before" ] && [ -e /proc/modules ]; then
  for m in $(comm -13 "$HOST/modules-before" <(awk '{print $1}' /proc/modules | sort)); do
    modprobe -r "$m" 2>/dev/null
  done
fi
# 7. keep the logs, drop the state
if [ -d "$RUN" ]; then
  rm -rf "$CL/last-logs"; [ -d "$RUN/logs" ] && mv "$RUN/logs" "$CL/last-logs"
  rm -rf "$RUN"
fi
log "cluster down in $(( $(date +%s) - T0 ))s"
