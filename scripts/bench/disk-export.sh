#!/usr/bin/env bash
# Benchmark for disk export: `corebuild disk` (flatten from the store, mke2fs -d with pinned
# inputs, the native inode-time reset, the native GPT, qemu-img convert, qemu-img check,
# the move into the store) beside the plain pipeline on the same flattened rootfs
# (`mke2fs -t ext4 -d` into a file + `qemu-img convert -O qcow2`, no partition table, not
# reproducible), in one run, best of N, with ratios. Cases: core-minimal (Debian minbase
# + curl, about 200 MB), a tree with 18,000 entries in one directory (mke2fs -d's slow
# case), and core-minimal as zstd-compressed qcow2.
#
#   scripts/bench/disk-export.sh [RUNS]      (default 3)
#
# Needs the network once (the core-minimal packages layer); MINBASE_TARBALL as in
# blueprints/bases/debian-minbase.sh (default target/it-cache/minbase.tar).
# BENCH_QUICK=1: one run per case, and 2,000 entries in the wide directory. BENCH_STORE=DIR
# keeps the store (the built image) across runs (scripts/bench/all.sh shares one).
source "$(dirname "$0")/lib.sh"
RUNS=${1:-$(quick_or 1 3)}
WIDE=$(quick_or 2000 18000)
bench_setup
bench_workdir disk-export
export COREBUILD_STORE="${BENCH_STORE:-$work/store}"
import_minbase
# The image the blueprint builds today (its version moves with every release).
cm=$("$CB" build --locked blueprints/core-minimal --json | jq -r '"\(.name):\(.version)"')

# A tree with one directory of $WIDE (empty) files, imported as an image.
mkdir -p "$work/wide/d"
( cd "$work/wide/d" && seq -f 'f%05g' 0 $((WIDE - 1)) | xargs touch )
"$CB" base import --rootfs "$work/wide" --name wide --version 1 --epoch 1735689600 >/dev/null

# best-of-RUNS wall time (ms) of a shell function
best_ms() {
  local best=999999999 s e
  for _ in $(seq "$RUNS"); do
    sync
    s=$(now_ms); "$@" >/dev/null 2>"$work/err" || { cat "$work/err" >&2; exit 1; }; e=$(now_ms)
    [ $((e - s)) -lt "$best" ] && best=$((e - s))
  done
  echo "$best"
}

ours() { "$CB" disk "$1" --size 2GiB --rebuild --compression "${2:-none}" --json > "$work/last.json"; }
plain() {
  local rootfs=$1 c=${2:-none}
  rm -f "$work/plain.img" "$work/plain.qcow2"
  truncate -s 2046M "$work/plain.img"
  mke2fs -q -F -t ext4 -d "$rootfs" "$work/plain.img"
  if [ "$c" = none ]; then
    qemu-img convert -f raw -O qcow2 "$work/plain.img" "$work/plain.qcow2"
  else
    qemu-img convert -c -o compression_type="$c" -f raw -O qcow2 "$work/plain.img" "$work/plain.qcow2"
  fi
}
# ours, best of RUNS: wall ms, and from the same runs the best "disk part" (the total
# less flattening the image) with that run's phases
ours_best() {
  local best=999999999 bestpart=999999999 s e part
  for _ in $(seq "$RUNS"); do
    sync
    s=$(now_ms); ours "$@" 2>"$work/err" || { cat "$work/err" >&2; exit 1; }; e=$(now_ms)
    [ $((e - s)) -lt "$best" ] && best=$((e - s))
    part=$(python3 -c 'import json,sys; t=json.load(open(sys.argv[1]))["timings"]; print(t["total_ms"]-t["unpack_ms"])' "$work/last.json")
    if [ "$part" -lt "$bestpart" ]; then bestpart=$part; cp "$work/last.json" "$work/best.json"; fi
  done
  echo "$best $bestpart"
}
phases() {
  python3 - "$work/best.json" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))["timings"]
print("    ours by phase (ms): " + ", ".join(f"{k[:-3]} {v}" for k, v in t.items() if k != "total_ms"))
PY
}

printf '%-34s %8s %8s %12s %7s %10s\n' case ours_s plain_s ours_disk_s ratio ratio_disk
run_case() {
  local name=$1 ref=$2 comp=${3:-none}
  local rootfs="$work/rootfs-$ref"
  [ -d "$rootfs" ] || "$CB" unpack "$ref" "$rootfs" >/dev/null 2>&1
  local o d p
  read -r o d < <(ours_best "$ref" "$comp")
  p=$(best_ms plain "$rootfs" "$comp")
  printf '%-34s %8s %8s %12s %7s %10s\n' "$name" "$(secs "$o")" "$(secs "$p")" "$(secs "$d")" \
    "$(ratio "$o" "$p")" "$(ratio "$d" "$p")"
  phases
}
run_case "core-minimal qcow2" "$cm"
run_case "$((WIDE / 1000))k entries in one dir" wide:1
run_case "core-minimal qcow2 zstd" "$cm" zstd
# After `corebuild test`, the flattened candidate is cached in the store and the export
# reuses it (the pipeline is build -> test -> export).
"$CB" test "$cm" --suite posix-base >/dev/null
run_case "core-minimal qcow2, after test" "$cm"
echo "ratio = ours / plain (plain starts from the flattened tree; ours flattens the image"
echo "from the store, checks the result with qemu-img check and hashes and fsyncs it into"
echo "the store); ratio_disk = ours without the flattening / plain. Load: $(cut -d' ' -f1-3 /proc/loadavg)"
