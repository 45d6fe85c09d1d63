#!/usr/bin/env bash
# postgres.sh: builds docker.io/library/postgres:<major> from Debian's postgresql-<major> and
# prints the archive path. <major> is versions.json "postgres" (override: POSTGRES_MAJOR=17).
# The suite is the one that ships that major (trixie: 17, bookworm: 15; override: PG_SUITE).
# User postgres is uid/gid 999; entrypoint docker-entrypoint.sh (postgres/docker-entrypoint.sh),
# CMD postgres, PGDATA=/var/lib/postgresql/data, StopSignal SIGINT, like the official image.
source "$(dirname "$0")/lib.sh"

major=${POSTGRES_MAJOR:-$(pin postgres)}
[[ $major =~ ^[0-9]+$ ]] || die "postgres major '$major' is not a number"
name=docker.io/library/postgres:$major
entry=$IMAGES_DIR/postgres/docker-entrypoint.sh

# Which suite ships postgresql-<major>? Ask the mirror's package index (fetched once per suite;
# delete $CACHE/images/indexes to refresh), so warm builds need no network.
suite_has() { # suite package
  local idx=$IMG_CACHE/indexes/$1-main-amd64.Packages
  if [ ! -s "$idx" ]; then
    mkdir -p "$IMG_CACHE/indexes"
    curl -fsS --max-time 120 "$(debian_mirror)/dists/$1/main/binary-amd64/Packages.xz" | xz -dc > "$idx.part" \
      && mv "$idx.part" "$idx" || { rm -f "$idx.part"; die "cannot read the $1 package index from $(debian_mirror)"; }
  fi
  grep -qx "Package: $2" "$idx"
}
if [ -n "${PG_SUITE:-}" ]; then
  suite=$PG_SUITE
  suite_has "$suite" "postgresql-$major" || die "Debian $suite has no postgresql-$major"
else
  suite=
  for s in trixie bookworm; do suite_has "$s" "postgresql-$major" && { suite=$s; break; }; done
  [ -n "$suite" ] || die "Debian has no postgresql-$major in trixie or bookworm (trixie ships 17, bookworm 15): set \"postgres\" in versions.json to one of those"
fi

debs=("postgresql-$major" ca-certificates)
k=$(key "$major" "$suite" "${debs[*]}" "$(filehash "$0" "$entry" "$IMAGES_DIR/rootfs.sh" "$IMAGES_DIR/oci-image.sh")")
out=$IMG_CACHE/postgres-$major-$k.oci.tar

lock "postgres-$major"
if [ -s "$out" ]; then log "cached: $out"; echo "$out"; exit 0; fi
log "postgresql-$major from Debian $suite"
rootfs_tar=$("$IMAGES_DIR/rootfs.sh" "$suite" "postgres$major" "${debs[@]}")

work=$(mktemp -d "$IMG_CACHE/.postgres.XXXXXX")
trap '_rc=$?; rm -rf --one-file-system "$work"; log "took $(elapsed) s (exit $_rc)"' EXIT
root=$work/root
unpack_rootfs "$rootfs_tar" "$root"

# The package's own cluster (and its config) is not used: the entrypoint runs initdb on PGDATA.
rm -rf "$root/var/lib/postgresql/$major" "$root/etc/postgresql/$major" \
       "$root/etc/ssl/private/ssl-cert-snakeoil.key" "$root/etc/ssl/certs/ssl-cert-snakeoil.pem"

# No JIT: llvmjit.so pulls in libLLVM + libz3 (~160 MB) and nothing else uses them. PostgreSQL
# treats a missing jit_provider as "JIT not available" (no error); jit=off says so explicitly.
rm -rf "$root/usr/lib/postgresql/$major/lib/llvmjit"* "$root/usr/lib/postgresql/$major/lib/bitcode" \
       "$root"/usr/lib/x86_64-linux-gnu/libLLVM* "$root"/usr/lib/x86_64-linux-gnu/libz3.so*
sed -ri "s/^#?(jit)\s*=\s*\S+/\1 = off/" "$root/usr/share/postgresql/$major/postgresql.conf.sample"
grep -q "^jit = off" "$root/usr/share/postgresql/$major/postgresql.conf.sample" || die "jit=off in the conf sample"
if chroot_run "$root" -- sh -c "ldd /usr/lib/postgresql/$major/bin/* /usr/lib/postgresql/$major/lib/*.so" 2>/dev/null | grep 'not found'; then
  die "a library the server needs was removed"
fi

# postgres user/group -> 999:999 (Debian allocates a dynamic system id)
old_uid=$(awk -F: '$1=="postgres"{print $3}' "$root/etc/passwd")
old_gid=$(awk -F: '$1=="postgres"{print $3}' "$root/etc/group")
[ -n "$old_uid" ] && [ -n "$old_gid" ] || die "no postgres user in the rootfs"
! awk -F: -v u="$old_uid" '$3==999 && $1!="postgres"{f=1} END{exit !f}' "$root/etc/passwd" || die "uid 999 taken"
! awk -F: '$3==999 && $1!="postgres"{f=1} END{exit !f}' "$root/etc/group" || die "gid 999 taken"
find "$root" -xdev \( -uid "$old_uid" -o -gid "$old_gid" \) -print0 \
  | while IFS= read -r -d '' f; do
      u=$(stat -c %u "$f"); g=$(stat -c %g "$f")
      [ "$u" = "$old_uid" ] && u=999; [ "$g" = "$old_gid" ] && g=999
      chown -h "$u:$g" "$f"; done
sed -i -E "s/^postgres:([^:]*):$old_uid:$old_gid:/postgres:\\1:999:999:/" "$root/etc/passwd"
sed -i -E "s/^postgres:([^:]*):$old_gid:/postgres:\\1:999:/" "$root/etc/group"
grep -q '^postgres:x:999:999:' "$root/etc/passwd" || die "renumbering postgres failed"

# Like the official image: listen on all addresses by default; dirs owned by postgres.
sed -ri "s/^#?(listen_addresses)\s*=\s*\S+.*/\1 = '*'/" "$root/usr/share/postgresql/$major/postgresql.conf.sample"
grep -q "^listen_addresses = '\*'" "$root/usr/share/postgresql/$major/postgresql.conf.sample" || die "conf sample"
install -d -o 999 -g 999 -m 1777 "$root/var/lib/postgresql/data"
install -d -o 999 -g 999 -m 3777 "$root/run/postgresql"
install -d -m 755 "$root/docker-entrypoint-initdb.d"
install -m 755 "$entry" "$root/usr/local/bin/docker-entrypoint.sh"
ln -sf usr/local/bin/docker-entrypoint.sh "$root/docker-entrypoint.sh"   # official compat path
rm -rf "$root"/tmp/* "$root"/var/log/postgresql/*

bindir=/usr/lib/postgresql/$major/bin
[ -x "$root$bindir/postgres" ] && [ -x "$root$bindir/pg_isready" ] || die "no $bindir/postgres"
"$IMAGES_DIR/oci-image.sh" --rootfs "$root" --name "$name" --out "$out.part" \
  --env PATH=$bindir:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --env PG_MAJOR="$major" --env LANG=C.UTF-8 --env PGDATA=/var/lib/postgresql/data \
  --entrypoint '["docker-entrypoint.sh"]' --cmd '["postgres"]' --stop-signal SIGINT \
  --user 999:999 --expose 5432/tcp --volume /var/lib/postgresql/data \
  --label org.opencontainers.image.title=postgres --label org.opencontainers.image.version="$major" \
  --label org.opencontainers.image.description="PostgreSQL $major from Debian $suite (model-mirror test build)" >/dev/null
mv "$out.part" "$out"
find "$IMG_CACHE" -maxdepth 1 -name "postgres-$major-*.oci.tar" ! -path "$out" -delete
echo "$out"
