#!/usr/bin/env bash
# mlflow.sh: builds ghcr.io/mlflow/mlflow:v<versions.json mlflow>-full as an OCI archive and
# prints its path. Debian bookworm + python3 (3.11); a venv *at /usr/local* (so /usr/local/bin/python
# and /usr/local/bin/mlflow are on the default PATH, as in the official image) with
# mlflow==<pin>, boto3, psycopg2-binary, prometheus-flask-exporter from PyPI wheels (downloaded on
# the host once, installed in a chroot with --no-index). Runs as 1000:1000, HOME=/tmp.
# MLFLOW_VERSION overrides the pin (the cluster suite's upgrade path starts from the previous minor).
source "$(dirname "$0")/lib.sh"

pin=${MLFLOW_VERSION:-$(pin mlflow)}
name=ghcr.io/mlflow/mlflow:v$pin-full
pypkgs=("mlflow==$pin" boto3 psycopg2-binary prometheus-flask-exporter)
debs=(python3 python3-venv ca-certificates)
k=$(key "$pin" "${pypkgs[*]}" "${debs[*]}" "$(filehash "$0" "$IMAGES_DIR/rootfs.sh" "$IMAGES_DIR/oci-image.sh")")
out=$IMG_CACHE/mlflow-v$pin-full-$k.oci.tar

lock "mlflow"
if [ -s "$out" ]; then log "cached: $out"; echo "$out"; exit 0; fi

rootfs_tar=$("$IMAGES_DIR/rootfs.sh" bookworm python "${debs[@]}")

# Wheels: downloaded once per pin on the host (host Python is 3.11 on glibc 2.36, like bookworm).
wheels=$IMG_CACHE/wheels/mlflow-$pin-$(key "${pypkgs[*]}" | cut -c1-8)
if [ ! -e "$wheels/.complete" ]; then
  log "pip download ${pypkgs[*]}"
  rm -rf "$wheels"; mkdir -p "$wheels"
  env -u PIP_FIND_LINKS python3 -m pip download -q --only-binary=:all: -d "$wheels" "${pypkgs[@]}" >&2
  touch "$wheels/.complete"
fi

work=$(mktemp -d "$IMG_CACHE/.mlflow.XXXXXX")
trap '_rc=$?; rm -rf --one-file-system "$work"; log "took $(elapsed) s (exit $_rc)"' EXIT
root=$work/root
unpack_rootfs "$rootfs_tar" "$root"

log "venv at /usr/local + pip install ${pypkgs[*]}"
chroot_run "$root" -- python3 -m venv /usr/local
chroot_run "$root" --bind "$wheels:/wheels" -- /usr/local/bin/pip install -q --no-index \
  --find-links /wheels --no-cache-dir --disable-pip-version-check "${pypkgs[@]}" >&2
rmdir "$root/wheels"

# uid/gid 1000 (the Deployment's runAsUser) gets a name, so getpass/pwd lookups work.
echo 'mlflow:x:1000:1000:mlflow:/tmp:/usr/sbin/nologin' >> "$root/etc/passwd"
echo 'mlflow:x:1000:' >> "$root/etc/group"
echo 'mlflow:*:20000:0:99999:7:::' >> "$root/etc/shadow"
rm -rf "$root/root/.cache" "$root"/tmp/*
chroot_run "$root" -- mlflow --version >&2

"$IMAGES_DIR/oci-image.sh" --rootfs "$root" --name "$name" --out "$out.part" \
  --env PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin \
  --env HOME=/tmp --env LANG=C.UTF-8 --env PYTHONUNBUFFERED=1 \
  --user 1000:1000 --workdir /tmp --expose 5000/tcp \
  --cmd '["mlflow","server","--host","0.0.0.0","--port","5000"]' \
  --label org.opencontainers.image.title=mlflow --label org.opencontainers.image.version="$pin" \
  --label org.opencontainers.image.description="MLflow $pin (model-mirror test build from PyPI on Debian bookworm)" >/dev/null
mv "$out.part" "$out"
find "$IMG_CACHE" -maxdepth 1 -name "mlflow-v$pin-full-*.oci.tar" ! -path "$out" -delete
echo "$out"
