#!/usr/bin/env bash
# rootfs-min.sh <suite> <variant> [pkgs...]: fallback when test/images/rootfs.sh is not there:
# one cached `debootstrap --variant=minbase [--include=pkgs]` tarball; prints its path.
source "$(dirname "$0")/lib.sh"
[ $# -ge 2 ] || die "usage: $0 <suite> <variant> [pkgs...]"
suite=$1 variant=$2; shift 2
command -v debootstrap >/dev/null || { apt-get update -qq >&2; apt-get install -y -qq debootstrap >&2; }
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
inc=$(IFS=,; echo "$*")
out=$BCACHE/rootfs/$suite-$variant-$(key "$suite" "$inc" "$mirror" "$(filehash "$0")").tar
mkdir -p "$BCACHE/rootfs"
lock "rootfs-$suite-$variant"
if [ -s "$out" ]; then log "cached: $out"; echo "$out"; exit 0; fi
work=$(mktemp -d "$BCACHE/rootfs/.work.XXXXXX")
trap '_rc=$?; rm -rf --one-file-system "$work"; log "took $(elapsed) s (exit $_rc)"' EXIT
log "debootstrap --variant=minbase ${inc:+--include=$inc }$suite"
debootstrap --variant=minbase ${inc:+--include="$inc"} "$suite" "$work/root" "$mirror" >"$work/log" 2>&1 \
  || { tail -30 "$work/log" >&2; die "debootstrap failed"; }
# slim like debian:*-slim: no apt lists, .debs, docs, man pages, locales
rm -rf "$work"/root/var/lib/apt/lists/* "$work"/root/var/cache/apt/archives/*.deb "$work"/root/var/cache/apt/*.bin \
       "$work"/root/usr/share/man/* "$work"/root/usr/share/info/* "$work"/root/var/log/*.log
find "$work/root/usr/share/doc" -mindepth 2 ! -name copyright ! -type d -delete 2>/dev/null || true
find "$work/root/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} + 2>/dev/null || true
tar --numeric-owner --sort=name -C "$work/root" -cf "$out.part" . && mv "$out.part" "$out"
echo "$out"
