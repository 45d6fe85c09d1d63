#!/usr/bin/env bash
# images.sh — makes the OCI archives the cluster needs, without any registry (called by build.sh):
#   pause.tar            registry.k8s.io/pause:3.10      (pause/main.go, static)
#   busybox.tar          docker.io/library/busybox:model-mirror  (Debian busybox-static; the
#                        local-path helper image, and a small image for tests)
#   argoexec-<v>.tar     quay.io/argoproj/argoexec:<v>   (one per Argo version, USER 8737 as upstream)
# Each is rebuilt only when its inputs (these scripts, the binary it wraps) change.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
mkdir -p "$IMGROOT" "$CL/src"

# base_rootfs DIR — the few files every image here has
base_rootfs() {
  mkdir -p "$1"/{bin,etc,tmp,proc,sys,dev,var/run,root,home/argo,etc/ssl/certs}
  chmod 1777 "$1/tmp"
  printf 'root:x:0:0:root:/root:/bin/sh\nargo:x:8737:8737:argo:/home/argo:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$1/etc/passwd"
  printf 'root:x:0:\nargo:x:8737:\nnobody:x:65534:\n' > "$1/etc/group"
  echo 'hosts: files dns' > "$1/etc/nsswitch.conf"
  [ -f /etc/ssl/certs/ca-certificates.crt ] && cp /etc/ssl/certs/ca-certificates.crt "$1/etc/ssl/certs/"
  chown -R 8737:8737 "$1/home/argo"
}
add_busybox() {
  cp /bin/busybox "$1/bin/busybox"
  local a
  for a in $(/bin/busybox --list); do [ -e "$1/bin/$a" ] || ln -s busybox "$1/bin/$a"; done
}

# The project's one OCI archive writer (also used for the test-bench images).
OCI_IMAGE=$HARNESS/../../images/oci-image.sh
# image FILE NAME INPUTS-KEY MAKE-ROOTFS-FN [oci-image.sh options]
image() {
  local file=$1 name=$2 inkey=$3 fn=$4; shift 4
  local out=$IMGROOT/$file key t0
  key=$( { cat "$HARNESS/images.sh" "$OCI_IMAGE"; echo "$name $inkey"; declare -f "$fn"; } | sha256sum | cut -c1-16)
  if [ -f "$out" ] && [ "$(cat "$out.key" 2>/dev/null)" = "$key" ]; then log "image $name: cached"; return 0; fi
  t0=$(date +%s)
  local root; root=$(mktemp -d)
  "$fn" "$root/rootfs"
  bash "$OCI_IMAGE" --rootfs "$root/rootfs" --name "$name" --out "$out" "$@" >/dev/null
  rm -rf "$root"
  echo "$key" > "$out.key"
  log "image $name: built in $(( $(date +%s) - t0 ))s -> $out"
}

rootfs_pause() {
  mkdir -p "$1"
  (cd "$HARNESS/pause" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$1/pause" .)
}
rootfs_busybox() { base_rootfs "$1"; add_busybox "$1"; }
ARGOEXEC_SRC=
rootfs_argoexec() { base_rootfs "$1"; add_busybox "$1"; cp "$ARGOEXEC_SRC" "$1/bin/argoexec"; }

bbkey=$(sha256sum /bin/busybox | cut -c1-16)
image pause.tar "$PAUSE_IMAGE" "$(cat "$HARNESS/pause/main.go" | sha256sum)" rootfs_pause \
  --entrypoint '["/pause"]' --user 65535:65535
image busybox.tar "$LPP_HELPER_IMAGE" "$bbkey" rootfs_busybox --cmd '["sh"]'
for v in $ARGO_VERSIONS; do
  ARGOEXEC_SRC=$(bin_dir argo "$v")/argoexec
  [ -x "$ARGOEXEC_SRC" ] || die "argoexec $v not built (run build.sh)"
  image "argoexec-$v.tar" "$(argoexec_image "$v")" "$bbkey $(cat "$(bin_dir argo "$v")/.recipe")" \
    rootfs_argoexec --entrypoint '["argoexec"]' --user 8737
done
