#!/usr/bin/env bash
# oci-image.sh — writes a one-layer OCI image-layout archive from a directory or a tar, with
# nothing but tar, sha256sum and jq, so images can exist on a machine without any registry.
# The archive is what `ctr -n k8s.io images import` takes (see import-image.sh).
# Usage: oci-image.sh <rootfs-dir|rootfs.tar[.gz|.zst]> <image-name> <out.tar>
#          [--entrypoint 'a b c'] [--cmd 'a b c'] [--user U] [--env K=V]... [--workdir DIR]
#          [--label K=V]...
#   image-name: the full reference pods will use, e.g. quay.io/argoproj/argoexec:v4.0.5
#   --entrypoint/--cmd: words split on spaces, or a JSON array ('["sh","-c","echo hi"]').
set -euo pipefail
[ $# -ge 3 ] || { sed -n '2,12p' "$0" >&2; exit 2; }
src=$1 name=$2 out=$3; shift 3
entry=null cmd=null user="" workdir="" envs=() labels=()
words() { if [[ $1 == \[* ]]; then jq -c . <<<"$1"; else jq -cn --arg s "$1" '$s|split(" ")|map(select(.!=""))'; fi; }
while [ $# -gt 0 ]; do
  case $1 in
    --entrypoint) entry=$(words "$2"); shift 2 ;;
    --cmd) cmd=$(words "$2"); shift 2 ;;
    --user) user=$2; shift 2 ;;
    --env) envs+=("$2"); shift 2 ;;
    --workdir) workdir=$2; shift 2 ;;
    --label) labels+=("$2"); shift 2 ;;
    *) echo "oci-image.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[[ $name == *:* || $name == *@* ]] || name=$name:latest

tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/blobs/sha256"
layer=$tmp/layer.tar
if [ -d "$src" ]; then
  tar -C "$src" --numeric-owner --owner=0 --group=0 --sort=name --mtime=@0 -cf "$layer" .
else
  case $src in
    *.gz|*.tgz) gzip -dc "$src" > "$layer" ;;
    *.zst) zstd -qdc "$src" > "$layer" ;;
    *) cp "$src" "$layer" ;;
  esac
fi
# put a blob in place; prints its digest
blob() { local d; d=$(sha256sum "$1" | cut -d' ' -f1); mv "$1" "$tmp/blobs/sha256/$d"; echo "$d"; }
size() { stat -c %s "$tmp/blobs/sha256/$1"; }

ldig=$(blob "$layer")
envjson=$(printf '%s\n' "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" "${envs[@]}" | jq -R . | jq -sc 'map(select(.!=""))')
labjson=$(printf '%s\n' "${labels[@]}" | jq -R 'select(.!="")|split("=")|{(.[0]):(.[1:]|join("="))}' | jq -sc 'add // {}')
jq -cn --argjson e "$entry" --argjson c "$cmd" --arg u "$user" --arg w "$workdir" \
  --argjson env "$envjson" --argjson l "$labjson" --arg d "sha256:$ldig" '{
    architecture: "amd64", os: "linux", created: "1970-01-01T00:00:00Z",
    config: ({Env: $env, Labels: $l}
      + (if $e then {Entrypoint: $e} else {} end) + (if $c then {Cmd: $c} else {} end)
      + (if $u != "" then {User: $u} else {} end) + (if $w != "" then {WorkingDir: $w} else {} end)),
    rootfs: {type: "layers", diff_ids: [$d]},
    history: [{created: "1970-01-01T00:00:00Z", created_by: "oci-image.sh"}]
  }' > "$tmp/config.json"
cdig=$(blob "$tmp/config.json")
jq -cn --arg c "sha256:$cdig" --argjson cs "$(size "$cdig")" --arg l "sha256:$ldig" --argjson ls "$(size "$ldig")" '{
    schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $c, size: $cs},
    layers: [{mediaType: "application/vnd.oci.image.layer.v1.tar", digest: $l, size: $ls}]
  }' > "$tmp/manifest.json"
mdig=$(blob "$tmp/manifest.json")
jq -cn --arg m "sha256:$mdig" --argjson ms "$(size "$mdig")" --arg n "$name" '{
    schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json",
    manifests: [{mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $m, size: $ms,
      platform: {architecture: "amd64", os: "linux"},
      annotations: {"io.containerd.image.name": $n, "org.opencontainers.image.ref.name": $n}}]
  }' > "$tmp/index.json"
echo '{"imageLayoutVersion":"1.0.0"}' > "$tmp/oci-layout"
mkdir -p "$(dirname "$out")"
tar -C "$tmp" --numeric-owner --owner=0 --group=0 --sort=name --mtime=@0 \
  -cf "$out.tmp" oci-layout index.json blobs
mv "$out.tmp" "$out"
echo "$name sha256:$mdig -> $out"
