#!/usr/bin/env bash
# Makes a tiny base from the busybox-static package (one static binary, its applet
# symlinks, /etc/passwd and /etc/group) and imports it as busybox-tiny:1. Used by fast
# tests and as a small example base.
#
#   blueprints/bases/busybox-tiny.sh [--store DIR]
set -euo pipefail
CB=${COREBUILD:-corebuild}
EPOCH=${SOURCE_DATE_EPOCH:-1735689600}
BUSYBOX=${BUSYBOX:-/bin/busybox}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
r="$work/rootfs"
umask 022
mkdir -p "$r"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,root,var/www,proc,sys,dev}
chmod 1777 "$r/tmp"
chmod 0700 "$r/root"
install -m 0755 "$BUSYBOX" "$r/bin/busybox"
for applet in $("$BUSYBOX" --list-full); do
  [ "$applet" = bin/busybox ] && continue
  mkdir -p "$r/$(dirname "$applet")"
  ln -sf /bin/busybox "$r/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$r/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$r/etc/group"
printf 'NAME="BusyBox tiny base"\nID=busybox\nVERSION_ID=1\nPRETTY_NAME="BusyBox tiny base 1"\n' > "$r/etc/os-release"
echo '<html>ok</html>' > "$r/var/www/index.html"
chown -R 0:0 "$r" 2>/dev/null || true
"$CB" "$@" base import --rootfs "$r" --name busybox-tiny --version 1 --epoch "$EPOCH"
