#!/usr/bin/env bash
# oci-image.sh <rootdir> <config.json> <layout-dir> <image-name>
# Packs <rootdir> as the single gzip layer of an OCI image whose runtime config (the "config"
# object of the image config: User, Env, Entrypoint, Cmd, WorkingDir, Labels) is <config.json>,
# and writes an OCI image layout directory <layout-dir> (replaced atomically) whose index.json
# names it <image-name> (io.containerd.image.name + org.opencontainers.image.ref.name = the tag).
# Deterministic: sorted entries, numeric owners, mtimes clamped to SOURCE_DATE_EPOCH (default 0),
# gzip -n, so the same tree gives the same digest. Prints the manifest digest (sha256:...).
source "$(dirname "$0")/lib.sh"
[ $# -eq 4 ] || die "usage: $0 <rootdir> <config.json> <layout-dir> <image-name>"
root=$1 cfg=$2 layout=$3 name=$4
epoch=${SOURCE_DATE_EPOCH:-0}
created=$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ)
tmp=$(mktemp -d "$(dirname "$layout")/.oci.XXXXXX")
trap '_rc=$?; rm -rf "$tmp"; log "took $(elapsed) s (exit $_rc)"' EXIT
blobs=$tmp/blobs/sha256; mkdir -p "$blobs"
put() { local d; d=$(sha256sum "$1" | cut -d' ' -f1); mv "$1" "$blobs/$d"; echo "$d"; }

tar --numeric-owner --xattrs --sort=name --mtime="@$epoch" --clamp-mtime --format=posix \
    --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
    -C "$root" -cf "$tmp/layer.tar" .
diffid=$(sha256sum "$tmp/layer.tar" | cut -d' ' -f1)
gzip -n -6 "$tmp/layer.tar"
lsize=$(stat -c %s "$tmp/layer.tar.gz"); ldig=$(put "$tmp/layer.tar.gz")

jq -n --slurpfile c "$cfg" --arg d "sha256:$diffid" --arg t "$created" --arg n "$name" '{
  created: $t, architecture: "amd64", os: "linux", config: $c[0],
  rootfs: {type: "layers", diff_ids: [$d]},
  history: [{created: $t, created_by: ("model-mirror image/ stand-in for " + $n)}]}' > "$tmp/config.json"
csize=$(stat -c %s "$tmp/config.json"); cdig=$(put "$tmp/config.json")

jq -n --arg c "sha256:$cdig" --argjson cs "$csize" --arg l "sha256:$ldig" --argjson ls "$lsize" '{
  schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
  config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $c, size: $cs},
  layers: [{mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: $l, size: $ls}]}' > "$tmp/manifest.json"
msize=$(stat -c %s "$tmp/manifest.json"); mdig=$(put "$tmp/manifest.json")

jq -n --arg m "sha256:$mdig" --argjson ms "$msize" --arg n "$name" '{
  schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json",
  manifests: [{mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $m, size: $ms,
    platform: {architecture: "amd64", os: "linux"},
    annotations: {"io.containerd.image.name": $n, "org.opencontainers.image.ref.name": ($n | sub("^.*:"; ""))}}]}' > "$tmp/index.json"
echo '{"imageLayoutVersion":"1.0.0"}' > "$tmp/oci-layout"
rm -rf "$layout.old"; [ -e "$layout" ] && mv "$layout" "$layout.old"
mv "$tmp" "$layout"; rm -rf "$layout.old"
log "$name: sha256:$mdig, layer $(numfmt --to=iec "$lsize")"
echo "sha256:$mdig"
