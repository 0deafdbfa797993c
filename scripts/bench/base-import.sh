#!/usr/bin/env bash
# Benchmark for the foundation: base import, small builds and no-change rebuilds on the
# Debian minbase rootfs, printed beside the peers in one run (ratios, since machines are
# noisy). Peers: umoci (init/new/insert), the limit pipeline `tar | zstd -T0 | sha256sum`,
# `tar | gzip -1`, and `umoci insert` of 10 small files.
#
#   scripts/bench/base-import.sh [ROOTFS_TAR]     (default: the minbase tarball the tests
#                                                  share, made with mmdebstrap when missing)
#
# BENCH_QUICK=1: one run of each import, 2 builds and rebuilds instead of 20.
source "$(dirname "$0")/lib.sh"
bench_setup
bench_workdir base-import
export SOURCE_DATE_EPOCH=1735689600

tarball=${1:-}
if [ -z "$tarball" ]; then
  [ -s "$MINBASE_TARBALL" ] || { import_minbase --store "$work/store-tmp"; rm -rf "$work/store-tmp"; }
  tarball=$MINBASE_TARBALL
fi
rootfs="$work/rootfs"
mkdir -p "$rootfs"
tar -xf "$tarball" -C "$rootfs" --exclude './dev/*'
size=$(du -sb "$rootfs" | cut -f1)
entries=$(find "$rootfs" | wc -l)
echo "rootfs: $((size / 1000000)) MB, $entries entries"

# best-of-N wall time in seconds of a command; the peak RSS (KiB) of the largest process
# in any run is left in $work/rss (read it with `rss`)
best() {
  local n=$1; shift
  local best=999999 t r maxr=0
  for _ in $(seq "$n"); do
    sync
    /usr/bin/time -f '%e %M' -o "$work/time" "$@" >/dev/null 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
    read -r t r < "$work/time"
    best=$(awk -v a="$t" -v b="$best" 'BEGIN{print (a<b)?a:b}')
    [ "$r" -gt "$maxr" ] && maxr=$r
  done
  echo "$maxr" > "$work/rss"
  echo "$best"
}
# mean wall time in milliseconds over N runs (for commands too quick for /usr/bin/time)
mean_ms() {
  local n=$1; shift
  local start end
  start=$(date +%s%N)
  for _ in $(seq "$n"); do "$@" >/dev/null 2>&1 || { "$@"; exit 1; }; done
  end=$(date +%s%N)
  awk -v a="$start" -v b="$end" -v n="$n" 'BEGIN{printf "%.1f", (b-a)/n/1e6}'
}
rss() { echo $(( $(cat "$work/rss") / 1024 )); }
N3=$(quick_or 1 3) N2=$(quick_or 1 2) N20=$(quick_or 2 20) N5=$(quick_or 1 5)

cb_import() { rm -rf "$work/store-$1"; "$CB" --store "$work/store-$1" base import --rootfs "$rootfs" --name b --version 1 --compression "$1"; }
umoci_import() {
  rm -rf "$work/umoci"
  umoci init --layout "$work/umoci" && umoci new --image "$work/umoci:b" &&
    umoci insert --rootless --image "$work/umoci:b" "$rootfs" / 
}
export -f cb_import umoci_import
export CB work rootfs

t_zstd=$(best "$N3" bash -c 'cb_import zstd'); rss_zstd=$(rss)
t_gzip=$(best "$N3" bash -c 'cb_import gzip'); rss_gzip=$(rss)
t_limit=$(best "$N3" bash -c 'tar --sort=name -C "$rootfs" -cf - . | zstd -3 -T0 -q | sha256sum')
t_gzip1=$(best "$N3" bash -c 'tar --sort=name -C "$rootfs" -cf - . | gzip -1 | sha256sum')
t_umoci=$(best "$N2" bash -c 'umoci_import')

echo
printf '%-44s %8s  %s\n' "base import of the rootfs" "seconds" "ratio"
printf '%-44s %8s  %s\n' "corebuild base import (zstd)" "$t_zstd" "$(ratio "$t_zstd" "$t_limit")x the limit pipeline (target <= 1.4x)"
printf '%-44s %8s  %s\n' "limit: tar --sort=name | zstd -3 -T0 | sha256" "$t_limit" "1.00x"
printf '%-44s %8s  %s\n' "corebuild base import (gzip)" "$t_gzip" "umoci is $(ratio "$t_umoci" "$t_gzip")x slower (target >= 1.5x)"
printf '%-44s %8s\n' "umoci init/new/insert (gzip)" "$t_umoci"
printf '%-44s %8s\n' "tar --sort=name | gzip -1 | sha256" "$t_gzip1"
printf 'peak RSS: import zstd %s MiB, gzip %s MiB (target < 100 MiB)\n' "$rss_zstd" "$rss_gzip"

# A blueprint that adds 10 small files on that base.
bp="$work/bp"
mkdir -p "$bp/files"
files=""
for i in $(seq 10); do
  echo "file $i" > "$bp/files/f$i"
  files="$files { src = \"files/f$i\", dest = \"/etc/bench/f$i\", mode = \"0644\" },"
done
cat > "$bp/blueprint.toml" <<TOML
name = "bench"
version = "1.0.0"
description = "benchmark"
[base]
ref = "b:1"
[[layer]]
files = [ $files ]
TOML
export bp
best 1 "$CB" --store "$work/store-gzip" build "$bp" >/dev/null; rss_build=$(rss)
# A fresh store copy per "first build" would cost more than the build; instead change a
# file each time so the layer really is rebuilt, then time an unchanged rebuild.
change_and_build() { date +%s%N > "$bp/files/f1"; "$CB" --store "$work/store-gzip" build "$bp"; }
export -f change_and_build
t_build=$(mean_ms "$N20" bash -c change_and_build)
t_rebuild=$(mean_ms "$N20" "$CB" --store "$work/store-gzip" build "$bp")
mkdir -p "$work/ins/etc/bench" && cp "$bp"/files/* "$work/ins/etc/bench/"
t_uins=$(mean_ms "$N5" bash -c 'umoci insert --rootless --image "$work/umoci:b" "$work/ins" /')
echo
printf '%-44s %8s  %s\n' "small change on the base" "ms" ""
printf '%-44s %8s  %s\n' "corebuild build (10 files, one changed)" "$t_build" "target < 50 (includes a bash start)"
printf '%-44s %8s  %s\n' "corebuild no-change rebuild" "$t_rebuild" "target < 50"
printf '%-44s %8s  %s\n' "umoci insert (10 files)" "$t_uins" "umoci is $(ratio "$t_uins" "$t_build")x slower"
printf 'peak RSS: build %s MiB\n' "$rss_build"
