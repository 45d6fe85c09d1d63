#!/usr/bin/env bash
# oci-image.sh --rootfs DIR|TAR --name REGISTRY/REPO:TAG --out ARCHIVE.tar [options]
# Writes an OCI image-layout archive (oci-layout, index.json, blobs/sha256/{layer,config,manifest})
# with one layer, importable with `ctr -n k8s.io images import ARCHIVE.tar`. Prints ARCHIVE path.
# Options (repeatable where it makes sense):
#   --entrypoint JSON   e.g. '["docker-entrypoint.sh"]'      --cmd JSON   e.g. '["postgres"]'
#   --env K=V           --label K=V        --user U[:G]      --workdir DIR
#   --expose PORT/tcp   --volume DIR       --stop-signal SIG   --compress zstd|gzip|none
# The layer is zstd by default (containerd >= 1.5 unpacks it). The MLflow image's 1 GB layer on
# this 2-core box: gzip -6 67 s (one core), zstd -3 -T0 5 s and 8% smaller; zstd's output does not
# depend on the thread count, so the digest is still reproducible.
source "$(dirname "$0")/lib.sh"

rootfs= name= out= entrypoint=null cmd=null user= workdir= compress=zstd stopsig=
envs=() labels=() ports=() volumes=()
while [ $# -gt 0 ]; do
  case $1 in
    --rootfs) rootfs=$2;; --name) name=$2;; --out) out=$2;;
    --entrypoint) entrypoint=$2;; --cmd) cmd=$2;; --user) user=$2;; --workdir) workdir=$2;;
    --env) envs+=("$2");; --label) labels+=("$2");; --expose) ports+=("$2");; --volume) volumes+=("$2");;
    --compress) compress=$2;; --stop-signal) stopsig=$2;;
    *) die "unknown option $1";;
  esac; shift 2
done
[ -n "$rootfs" ] && [ -n "$name" ] && [ -n "$out" ] || die "need --rootfs, --name and --out"
[ -e "$rootfs" ] || die "no such rootfs: $rootfs"
[[ $name == */*:* ]] || die "--name must be a full reference like docker.io/library/postgres:17"
tag=${name##*:}
jq -e 'type=="array" or .==null' <<<"$entrypoint" >/dev/null || die "--entrypoint must be a JSON array"
jq -e 'type=="array" or .==null' <<<"$cmd" >/dev/null || die "--cmd must be a JSON array"

work=$(mktemp -d "$(dirname "$out")/.oci.XXXXXX")
trap '_rc=$?; rm -rf "$work"; log "took $(elapsed) s (exit $_rc)"' EXIT
blobs=$work/layout/blobs/sha256; mkdir -p "$blobs"

# put FILE into blobs/sha256/<digest>; echo digest
put() { local d; d=$(sha256sum "$1" | cut -d' ' -f1); mv "$1" "$blobs/$d"; echo "$d"; }

log "layer from $rootfs"
if [ -d "$rootfs" ]; then
  tar --numeric-owner --xattrs --sort=name -C "$rootfs" -cf "$work/layer.tar" .
else
  cp --reflink=auto "$rootfs" "$work/layer.tar"
fi
diff_id=$(sha256sum "$work/layer.tar" | cut -d' ' -f1); raw_size=$(stat -c %s "$work/layer.tar")
case $compress in
  zstd) zstd -q -3 -T0 --rm "$work/layer.tar"; layer_file=$work/layer.tar.zst
        layer_type=application/vnd.oci.image.layer.v1.tar+zstd;;
  gzip) gzip -n -6 "$work/layer.tar"; layer_file=$work/layer.tar.gz
        layer_type=application/vnd.oci.image.layer.v1.tar+gzip;;
  none) layer_file=$work/layer.tar; layer_type=application/vnd.oci.image.layer.v1.tar;;
  *) die "--compress zstd|gzip|none";;
esac
layer_size=$(stat -c %s "$layer_file"); layer_digest=$(put "$layer_file")

kv_obj() { jq -n '[$ARGS.positional[] | capture("^(?<key>[^=]+)=(?<value>.*)$")] | from_entries' --args "$@"; }
set_obj() { jq -n '[$ARGS.positional[] | {key: ., value: {}}] | from_entries' --args "$@"; }
created=1970-01-01T00:00:00Z
jq -n --argjson ep "$entrypoint" --argjson cmd "$cmd" --arg user "$user" --arg wd "$workdir" --arg stopsig "$stopsig" \
  --argjson env "$(jq -n '$ARGS.positional' --args "${envs[@]}")" \
  --argjson labels "$(kv_obj "${labels[@]}")" --argjson ports "$(set_obj "${ports[@]}")" \
  --argjson vols "$(set_obj "${volumes[@]}")" --arg diff "sha256:$diff_id" --arg created "$created" '
  {created: $created, architecture: "amd64", os: "linux",
   config: ({Env: $env, Entrypoint: $ep, Cmd: $cmd, User: $user, WorkingDir: $wd, Labels: $labels}
            + (if $ports == {} then {} else {ExposedPorts: $ports} end)
            + (if $vols == {} then {} else {Volumes: $vols} end)
            + (if $stopsig == "" then {} else {StopSignal: $stopsig} end)),
   rootfs: {type: "layers", diff_ids: [$diff]},
   history: [{created: $created, created_by: "model-mirror test/images/oci-image.sh"}]}' > "$work/config.json"
config_size=$(stat -c %s "$work/config.json"); config_digest=$(put "$work/config.json")

jq -n --arg cd "sha256:$config_digest" --argjson cs "$config_size" \
      --arg ld "sha256:$layer_digest" --argjson ls "$layer_size" --arg lt "$layer_type" '
  {schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
   config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $cd, size: $cs},
   layers: [{mediaType: $lt, digest: $ld, size: $ls}]}' > "$work/manifest.json"
manifest_size=$(stat -c %s "$work/manifest.json"); manifest_digest=$(put "$work/manifest.json")

jq -n --arg md "sha256:$manifest_digest" --argjson ms "$manifest_size" --arg name "$name" --arg tag "$tag" '
  {schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json",
   manifests: [{mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $md, size: $ms,
                platform: {architecture: "amd64", os: "linux"},
                annotations: {"io.containerd.image.name": $name, "org.opencontainers.image.ref.name": $tag}}]}' \
  > "$work/layout/index.json"
echo '{"imageLayoutVersion":"1.0.0"}' > "$work/layout/oci-layout"

tar --numeric-owner --owner=0 --group=0 --sort=name -C "$work/layout" -cf "$out.part" oci-layout index.json blobs
mv "$out.part" "$out"
log "$name -> $out (archive $(du -h "$out" | cut -f1), unpacked $(numfmt --to=iec "$raw_size"), manifest sha256:${manifest_digest:0:12})"
echo "$out"
