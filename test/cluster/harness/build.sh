#!/usr/bin/env bash
# build.sh — builds every binary the local cluster needs, from the Go module proxy only
# (no images, no release downloads), then the OCI images (images.sh).
# Why: the test machine reaches no registry but the Go proxy and Debian; the binaries are cached
# under $CACHE/cluster/bin/<component>-<version>/ and rebuilt only when that component's version
# or build recipe (the text of its build_* function) changes, so a warm run takes seconds.
# Go's own caches stay at their defaults (~/go/pkg/mod, ~/.cache/go-build).
# Usage: build.sh [--no-images | --packages-only]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
mkdir -p "$BINROOT" "$CL/src"

# --- Debian packages the cluster needs; apt-get update once, only if one is missing ---------
# (debootstrap: the image builds beside this one, install.d/cluster.sh, which runs this first)
PKGS="containerd runc containernetworking-plugins conntrack socat iptables busybox-static jq zstd
      iproute2 util-linux kmod procps nftables bc curl debootstrap"
ensure_pkgs() {
  local missing=() p
  for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "apt: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -q -o DPkg::Lock::Timeout=600 update >/dev/null
  apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=600 "${missing[@]}" >/dev/null
}

# modcopy MOD@VER DEST — a writable copy of a module's source (keeps its own replace directives)
modcopy() {
  local dir
  dir=$(go mod download -json "$1" | jq -r .Dir)
  rm -rf "$2"; mkdir -p "$(dirname "$2")"
  cp -r "$dir" "$2"; chmod -R u+w "$2"
}

# --- recipes: each writes its binaries into $1 (an empty directory) --------------------------
build_kubernetes() {
  local out=$1 v=$KUBERNETES_VERSION src=$CL/src/kubernetes-$KUBERNETES_VERSION kdir
  kdir=$(go mod download -json "k8s.io/kubernetes@$v" | jq -r .Dir)
  rm -rf "$src"; mkdir -p "$src"
  # k8s.io/kubernetes replaces its 31 staging modules with ./staging/...; a wrapper module
  # replaces them with the published v0.X.Y of the same release instead.
  {
    echo "module modelmirror.test/kubernetes"
    echo "go 1.24.0"
    echo "godebug default=go1.24"
    echo "require k8s.io/kubernetes $v"
    sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#replace \1 => \1 v0.'"${v#v1.}"'#p' "$kdir/go.mod"
  } > "$src/go.mod"
  local cmds="kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl kubeadm" c
  { echo "//go:build tools"; echo "package tools"; echo "import ("
    for c in $cmds; do echo "  _ \"k8s.io/kubernetes/cmd/$c\""; done; echo ")"; } > "$src/tools.go"
  (cd "$src" && go mod tidy >/dev/null)
  local minor=${v#v1.}; minor=${minor%%.*}
  local p=k8s.io/component-base/version
  local ldf="-s -w -X $p.gitVersion=$v -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
  ldf="$ldf -X k8s.io/client-go/pkg/version.gitVersion=$v -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=$minor"
  (cd "$src" && CGO_ENABLED=0 go build -trimpath -ldflags "$ldf" -o "$out/" \
     $(for c in $cmds; do echo "k8s.io/kubernetes/cmd/$c"; done))
}

build_etcd() {
  local out=$1 v=$ETCD_VERSION src=$CL/src/etcd-$ETCD_VERSION
  # The server/etcdctl modules replace their siblings with ../api etc.; a wrapper module that
  # requires them uses the published siblings of the same version instead.
  rm -rf "$src"; mkdir -p "$src"
  printf 'module modelmirror.test/etcd\ngo 1.24.0\nrequire (\n go.etcd.io/etcd/server/v3 %s\n go.etcd.io/etcd/etcdctl/v3 %s\n)\n' "$v" "$v" > "$src/go.mod"
  printf '//go:build tools\npackage tools\nimport (\n _ "go.etcd.io/etcd/server/v3"\n _ "go.etcd.io/etcd/etcdctl/v3"\n)\n' > "$src/tools.go"
  (cd "$src" && go mod tidy >/dev/null &&
   CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$out/etcd" go.etcd.io/etcd/server/v3 &&
   CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$out/etcdctl" go.etcd.io/etcd/etcdctl/v3)
}

# CoreDNS with only the plugins our Corefile (config.sh render_coredns) uses, plus log/health/
# ready for debugging: its stock main links every plugin, and the cloud ones (route53, azure,
# clouddns) pull in their SDKs; cold, 450 -> 267 CPU s (238 -> 139 s on the idle 2-core box).
# A wrapper module's main imports the plugins it wants and calls coremain, CoreDNS's documented
# way to choose plugins at compile time.
build_coredns() {
  local out=$1 v=$COREDNS_VERSION src=$CL/src/coredns-$COREDNS_VERSION p
  local plugins="bind errors hosts kubernetes loadbalance log health ready"
  rm -rf "$src"; mkdir -p "$src"
  printf 'module modelmirror.test/coredns\ngo 1.25.0\nrequire github.com/coredns/coredns %s\n' "$v" > "$src/go.mod"
  { echo "package main"; echo "import ("
    for p in $plugins; do echo "  _ \"github.com/coredns/coredns/plugin/$p\""; done
    echo "  \"github.com/coredns/coredns/coremain\""; echo ")"
    echo "func main() { coremain.Run() }"; } > "$src/main.go"
  (cd "$src" && go mod tidy >/dev/null &&
   CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$out/coredns" .)
}

build_local_path() {
  local out=$1 src=$CL/src/local-path-$LOCAL_PATH_VERSION
  modcopy "github.com/rancher/local-path-provisioner@$LOCAL_PATH_VERSION" "$src"
  # its module zip has no vendor/ contents: resolve from the proxy
  (cd "$src" && CGO_ENABLED=0 go build -mod=mod -trimpath -ldflags "-s -w" -o "$out/local-path-provisioner" .)
}

# build_argo OUT VERSION — workflow-controller, argoexec and the argo CLI of one Argo release
build_argo() {
  local out=$1 v=$2 major=${2%%.*} src=$CL/src/argo-$2
  local mod=github.com/argoproj/argo-workflows/$major
  modcopy "$mod@$v" "$src"
  # module zips drop symlinks: signal_linux.go is a symlink to signal_darwin.go upstream
  cp "$src/workflow/executor/osspecific/signal_darwin.go" "$src/workflow/executor/osspecific/signal_linux.go"
  # the CLI embeds the UI; any file satisfies the embed pattern
  mkdir -p "$src/ui/dist/app"; echo '<html><body>UI not built</body></html>' > "$src/ui/dist/app/index.html"
  # with a tag, a commit and a clean tree `argo version` reports the plain release tag
  local commit; commit=$(go mod download -json "$mod@$v" | jq -r '.Origin.Hash // "0000000000000000000000000000000000000000"')
  local ldf="-s -w -X $mod.version=$v -X $mod.gitTag=$v -X $mod.gitCommit=$commit -X $mod.gitTreeState=clean -X $mod.buildDate=1970-01-01T00:00:00Z"
  (cd "$src" && CGO_ENABLED=0 go build -trimpath -ldflags "$ldf" -o "$out/" \
     ./cmd/workflow-controller ./cmd/argoexec ./cmd/argo)
}

# component NAME VERSION RECIPE [ARGS] — run RECIPE unless NAME-VERSION is built with this recipe
component() {
  local name=$1 ver=$2 fn=$3; shift 3
  local dir key t0
  dir=$(bin_dir "$name" "$ver")
  key=$( { declare -f "$fn" modcopy; go version; echo "$name $ver $*"; } | sha256sum | cut -c1-16)
  if [ -f "$dir/.recipe" ] && [ "$(cat "$dir/.recipe")" = "$key" ]; then
    log "$name $ver: cached"; return 0
  fi
  log "$name $ver: building"
  t0=$(date +%s)
  rm -rf "$dir.tmp"; mkdir -p "$dir.tmp"
  if ! "$fn" "$dir.tmp" "$@"; then rm -rf "$dir.tmp"; die "$name $ver: build failed"; fi
  echo "$key" > "$dir.tmp/.recipe"
  rm -rf "$dir"; mv "$dir.tmp" "$dir"
  log "$name $ver: built in $(( $(date +%s) - t0 ))s"
}

main() {
  local t0; t0=$(date +%s)
  exec 9>"$CL/build.lock"
  flock 9     # a concurrent caller waits here, then finds everything cached
  ensure_pkgs
  [ "${1:-}" = "--packages-only" ] && return 0
  component kubernetes "$KUBERNETES_VERSION" build_kubernetes
  component etcd "$ETCD_VERSION" build_etcd
  component coredns "$COREDNS_VERSION" build_coredns
  component local-path "$LOCAL_PATH_VERSION" build_local_path
  local v
  for v in $ARGO_VERSIONS; do component argo "$v" build_argo "$v"; done
  if [ "${1:-}" != "--no-images" ] && [ -f "$HARNESS/images.sh" ]; then
    bash "$HARNESS/images.sh"
  fi
  log "build done in $(( $(date +%s) - t0 ))s"
}
main "$@"
