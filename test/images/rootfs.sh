#!/usr/bin/env bash
# rootfs.sh <suite> <variant-name> [extra debian packages...]
# Builds (once, cached) a Debian root filesystem with `debootstrap --variant=minbase` from the apt
# mirror this host uses, plus the extra packages (installed with apt-get --no-install-recommends
# in a chroot), apt caches cleaned. Prints the tarball path as the only stdout line:
#   $CACHE/images/rootfs/<suite>-<variant-name>-<key>.tar
source "$(dirname "$0")/lib.sh"

[ $# -ge 2 ] || die "usage: $0 <suite> <variant-name> [extra debian packages...]"
suite=$1 variant=$2; shift 2
case $suite in bookworm|trixie) ;; *) die "unsupported suite '$suite' (bookworm|trixie)";; esac
[[ $variant =~ ^[A-Za-z0-9._-]+$ ]] || die "bad variant name '$variant'"
mapfile -t pkgs < <(printf '%s\n' "$@" | sed '/^$/d' | sort -u)

[ "$(id -u)" = 0 ] || die "must run as root (debootstrap, chroot)"
host_apt debootstrap
mirror=$(debian_mirror)
secmirror=$(debian_security_mirror)
k=$(key "$suite" "$variant" "${pkgs[*]:-}" "$mirror" "$secmirror" \
        "$(filehash "$0")" "$(dpkg-query -W -f='${Version}' debootstrap)")
out=$IMG_CACHE/rootfs/$suite-$variant-$k.tar
mkdir -p "$IMG_CACHE/rootfs" "$IMG_CACHE/debs/$suite"

lock "rootfs-$suite-$variant"
if [ -s "$out" ]; then log "cached: $out"; echo "$out"; exit 0; fi

# Is the suite on the mirror at all?
curl -fsS -o /dev/null --max-time 60 "$mirror/dists/$suite/InRelease" \
  || die "suite '$suite' is not available on $mirror"

work=$(mktemp -d "$IMG_CACHE/rootfs/.work-$suite-$variant.XXXXXX")
cleanup() { [ -n "${work:-}" ] && rm -rf --one-file-system "$work"; }
trap '_rc=$?; cleanup; log "took $(elapsed) s (exit $_rc)"' EXIT
buildlog=$work/build.log
quiet() { "$@" >>"$buildlog" 2>&1 || { tail -n 40 "$buildlog" >&2; die "failed: $*"; }; }
root=$work/root

log "debootstrap --variant=minbase $suite from $mirror"
# other variants of the same suite may run at the same time: one writer of the .deb cache at once
exec {debs_lock}>"$IMG_CACHE/locks/debs-$suite.lock"; flock "$debs_lock"
quiet debootstrap --variant=minbase --cache-dir="$IMG_CACHE/debs/$suite" \
  --keyring=/usr/share/keyrings/debian-archive-keyring.gpg "$suite" "$root" "$mirror"
flock -u "$debs_lock"

{
  echo "deb $mirror $suite main"
  echo "deb $mirror $suite-updates main"
  [ -n "$secmirror" ] && echo "deb $secmirror $suite-security main"
} > "$root/etc/apt/sources.list"
# No daemons started by maintainer scripts; no docs/man pages/locales.
printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d"; chmod 755 "$root/usr/sbin/policy-rc.d"
cat > "$root/etc/dpkg/dpkg.cfg.d/01-slim" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*
CFG
printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' > "$root/etc/apt/apt.conf.d/01-norecommends"

in_chroot() {
  # private mount namespace: /proc is gone when the command exits, nothing leaks to the host
  unshare --mount --propagation private -- sh -c 'mount -t proc proc "$0/proc" && exec chroot "$0" "$@"' "$root" \
    env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 "$@"
}
log "apt-get update${pkgs:+ + install ${pkgs[*]}}"
apt=(apt-get -q -y -o Dpkg::Use-Pty=0)
quiet in_chroot "${apt[@]}" update
quiet in_chroot "${apt[@]}" upgrade
[ ${#pkgs[@]} -eq 0 ] || quiet in_chroot "${apt[@]}" install "${pkgs[@]}"
quiet in_chroot apt-get clean

rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/debconf/*-old \
       "$root"/var/log/*.log "$root"/var/log/apt/* "$root"/tmp/* "$root"/var/tmp/* \
       "$root"/usr/share/doc/*/changelog* "$root"/usr/share/man/* "$root"/usr/share/info/* \
       "$root/usr/sbin/policy-rc.d"
find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} + 2>/dev/null || true
: > "$root/etc/machine-id"

log "writing $out"
tar --numeric-owner --xattrs --sort=name -C "$root" -cf "$out.part" .
mv "$out.part" "$out"
# drop tarballs of older recipes for the same suite/variant
find "$IMG_CACHE/rootfs" -maxdepth 1 -name "$suite-$variant-*.tar" ! -path "$out" -delete
log "rootfs $suite/$variant: $(du -h "$out" | cut -f1)"
echo "$out"
