#!/usr/bin/env bash
# Makes a Debian bookworm minbase root filesystem with mmdebstrap and imports it into the
# store as the known-good base debian-minbase:12. With SOURCE_DATE_EPOCH set, mmdebstrap's
# tarball is byte-identical run to run while the mirror serves the same package versions;
# the digest this prints is what blueprints pin (via `corebuild lock`).
#
# By default only `bookworm main` is used: since Debian 12's last point release it no
# longer changes, so every machine makes the same base and the committed lock holds.
# Security fixes arrive as pinned `packages` layers in blueprints; set
# DEBIAN_UPDATES=1 to bootstrap with bookworm-updates and bookworm-security instead
# (the digest then moves with the mirror, and blueprints must be re-locked).
#
#   blueprints/bases/debian-minbase.sh [--store DIR]
#
# MINBASE_TARBALL=PATH keeps the bootstrapped tarball there and reuses it when present
# (the tests share one this way).
set -euo pipefail
CB=${COREBUILD:-corebuild}
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1735689600}   # 2025-01-01T00:00:00Z
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sources=("deb $MIRROR bookworm main")
if [ "${DEBIAN_UPDATES:-0}" = 1 ]; then
  sources+=("deb $MIRROR bookworm-updates main" "deb $SECURITY bookworm-security main")
fi
# The build host's resolver and name must not end up in the base: an empty resolv.conf
# (runtimes bind-mount theirs over it) and a neutral host name.
tarball=${MINBASE_TARBALL:-$work/rootfs.tar}
if [ ! -s "$tarball" ]; then
  mkdir -p "$(dirname "$tarball")"
  mmdebstrap --quiet --variant=minbase --format=tar \
    --customize-hook='printf "" > "$1/etc/resolv.conf"; echo localhost > "$1/etc/hostname"' \
    bookworm "$tarball.tmp" "${sources[@]}"
  mv "$tarball.tmp" "$tarball"
fi
"$CB" "$@" base import --rootfs "$tarball" --name debian-minbase --version 12 --epoch "$SOURCE_DATE_EPOCH"
