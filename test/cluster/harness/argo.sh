# shellcheck shell=bash
# argo.sh — start/stop the Argo workflow-controller of one version as a host process (sourced
# by up.sh). Why a host process: no registry for its image; it uses super-admin.conf.
# Metrics (incl. a workflow's custom model_mirror_* metrics): http://127.0.0.1:9090/metrics
# (the controller listens on :9090, so 10.244.0.1:9090 answers too); health: :6060/healthz.

# apply_argo_crds VERSION — the module's minimal CRDs, only when they differ from what is applied
apply_argo_crds() {
  local v=$1 dir h
  dir=$CL/src/argo-$v/manifests/base/crds/minimal
  [ -d "$dir" ] || die "argo $v sources missing at $dir (run build.sh)"
  h=$(cat "$dir"/argoproj.io_*.yaml | sha256sum | cut -c1-16)
  [ "$(cat "$RUN/argo-crds.key" 2>/dev/null)" = "$h" ] && return 0
  k apply --server-side --force-conflicts $(for f in "$dir"/argoproj.io_*.yaml; do echo "-f $f"; done) >/dev/null \
    || die "applying Argo $v CRDs failed"
  k wait --for condition=established --timeout=60s crd/workflows.argoproj.io crd/workflowtaskresults.argoproj.io >/dev/null
  echo "$h" > "$RUN/argo-crds.key"
}

start_argo() {
  local v=$1 bin
  bin=$(bin_dir argo "$v")
  [ -x "$bin/workflow-controller" ] || die "argo $v not built (run build.sh)"
  apply_argo_crds "$v"
  start_proc argo-controller env LEADER_ELECTION_DISABLE=true DEFAULT_REQUEUE_TIME=2s \
    "$bin/workflow-controller" --kubeconfig "$PKI/kubeconfigs/super-admin.conf" --namespace argo \
    --configmap workflow-controller-configmap \
    --executor-image "$(argoexec_image "$v")" --executor-image-pull-policy Never
  ln -sfn "$bin/argo" "$RUN/bin/argo"
  echo "$v" > "$RUN/argo-version"
}

wait_argo() {
  wait_for argo-controller 60 curl -sf http://127.0.0.1:6060/healthz
  wait_for argo-controller 30 curl -sf -o /dev/null "http://127.0.0.1:$ARGO_METRICS_PORT/metrics"
}
