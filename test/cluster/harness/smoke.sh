#!/usr/bin/env bash
# smoke.sh — checks a running test cluster end to end: a pod, a Deployment behind a ClusterIP
# (reached by name from a pod, with busybox nc: Debian's static busybox wget segfaults), DNS
# (cluster names and the CoreDNS hosts file), pods have no default route, a PVC bound through
# local-path, and a 2-step Argo workflow (output parameter, PVC, a model_mirror_* custom metric)
# run with the real `argo submit --wait`. All traffic stays on the bridge and loopback.
# Usage: smoke.sh   (after up.sh; leaves namespace "smoke" deleted)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$RUN/env"
NS=smoke IMG=$LPP_HELPER_IMAGE
t() { date +%s.%N; }
since() { printf '%.1f' "$(echo "$(t) - $1" | bc -l)"; }
T0=$(t)
grep -q ' hub.test' "$RUN/coredns/hosts" || echo "$NODE_IP hub.test cdn-lfs.hub.test" >> "$RUN/coredns/hosts"
kubectl delete ns "$NS" --ignore-not-found --wait=true >/dev/null
kubectl create ns "$NS" >/dev/null
kubectl -n "$NS" apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Pod
metadata: {name: client}
spec:
  terminationGracePeriodSeconds: 1
  containers: [{name: c, image: $IMG, imagePullPolicy: Never, command: [sleep, "3600"]}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: web
        image: $IMG
        imagePullPolicy: Never
        command: [sh, -c, 'mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 8080 -h /www']
        ports: [{containerPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {selector: {app: web}, ports: [{port: 80, targetPort: 8080}]}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Mi}}}
---
apiVersion: v1
kind: Pod
metadata: {name: pvc-user}
spec:
  terminationGracePeriodSeconds: 1
  containers: [{name: c, image: $IMG, imagePullPolicy: Never, command: [sh, -c, 'echo ok > /data/f && sleep 3600'],
                volumeMounts: [{name: d, mountPath: /data}]}]
  volumes: [{name: d, persistentVolumeClaim: {claimName: data}}]
YAML
kubectl -n "$NS" wait --for=condition=Ready pod/client pod/pvc-user --timeout=120s >/dev/null
kubectl -n "$NS" rollout status deploy/web --timeout=120s >/dev/null
echo "pods ready:         $(since "$T0")s"
[ "$(kubectl -n "$NS" get pvc data -o jsonpath='{.status.phase}')" = Bound ] || { echo "PVC not bound"; exit 1; }
echo "PVC bound via local-path: $(kubectl -n "$NS" exec pvc-user -- cat /data/f)"
ex() { kubectl -n "$NS" exec client -- "$@"; }
ex nslookup web.$NS.svc.cluster.local | grep -q 'Address.*10\.96\.' || { echo "DNS: service name"; exit 1; }
ex nslookup kubernetes.default.svc.cluster.local | grep -q 10.96.0.1 || { echo "DNS: kubernetes"; exit 1; }
ex nslookup cdn-lfs.hub.test | grep -q "$NODE_IP" || { echo "DNS: hosts file"; exit 1; }
echo "DNS ok (service, kubernetes.default, hosts file)"
ex ip route | grep -q '^default' && { echo "pod has a default route"; exit 1; }
echo "pod routes: $(ex ip route | tr '\n' ';')"
body=$(ex sh -c "printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 5 web 80" | tail -n1)
case $body in web-*) echo "ClusterIP service answered from $body" ;; *) echo "service: got '$body'"; exit 1 ;; esac

# Argo: the executor needs to write workflowtaskresults in the workflow's namespace
kubectl -n "$NS" apply -f - >/dev/null <<YAML
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: argo-executor}
rules: [{apiGroups: [argoproj.io], resources: [workflowtaskresults], verbs: [create, patch]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: argo-executor}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: argo-executor}
subjects: [{kind: ServiceAccount, name: default, namespace: $NS}]
YAML
cat > "$RUN/smoke-wf.yaml" <<YAML
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: smoke-}
spec:
  entrypoint: main
  metrics:
    prometheus:
    - name: model_mirror_smoke_runs
      help: smoke workflows run by the harness
      counter: {value: "1"}
  volumeClaimTemplates:
  - metadata: {name: work}
    spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Mi}}}
  templates:
  - name: main
    steps:
    - - {name: produce, template: produce}
    - - name: consume
        template: consume
        arguments: {parameters: [{name: msg, value: "{{steps.produce.outputs.parameters.msg}}"}]}
  - name: produce
    container:
      image: $IMG
      imagePullPolicy: Never
      command: [sh, -c, 'printf hello-from-step-1 > /tmp/msg && echo shared > /work/f']
      volumeMounts: [{name: work, mountPath: /work}]
    outputs: {parameters: [{name: msg, valueFrom: {path: /tmp/msg}}]}
  - name: consume
    inputs: {parameters: [{name: msg}]}
    container:
      image: $IMG
      imagePullPolicy: Never
      command: [sh, -c, 'test "{{inputs.parameters.msg}}" = hello-from-step-1 && test "\$(cat /work/f)" = shared && echo got {{inputs.parameters.msg}}']
      volumeMounts: [{name: work, mountPath: /work}]
YAML
T1=$(t)
argo submit -n "$NS" --wait "$RUN/smoke-wf.yaml" -o name > "$RUN/smoke-wf.name"
WF=$(tail -n1 "$RUN/smoke-wf.name")
phase=$(kubectl -n "$NS" get wf "$WF" -o jsonpath='{.status.phase}')
echo "workflow $WF: $phase in $(since "$T1")s (argo $MODEL_MIRROR_CLUSTER_ARGO_VERSION)"
[ "$phase" = Succeeded ] || { argo -n "$NS" get "$WF"; exit 1; }
# the controller records the metric when it processes the finished workflow, which can be a
# moment after `argo submit --wait` returns: poll
# (not `curl | grep -q`: with pipefail, grep quitting early makes curl's exit status count)
metric() { local m; m=$(curl -sf "$MODEL_MIRROR_CLUSTER_ARGO_METRICS") && grep -q '^argo_workflows_model_mirror_smoke_runs' <<<"$m"; }
for _ in $(seq 40); do metric && break; sleep 0.25; done
metric && echo "custom metric model_mirror_smoke_runs scraped from $MODEL_MIRROR_CLUSTER_ARGO_METRICS" \
  || { echo "custom metric missing at $MODEL_MIRROR_CLUSTER_ARGO_METRICS"; exit 1; }
kubectl delete ns "$NS" --wait=false >/dev/null
echo "smoke ok in $(since "$T0")s"
