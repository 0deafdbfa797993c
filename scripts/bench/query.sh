#!/usr/bin/env bash
# Benchmark for `corebuild query`: 200 released versions on a real docker-registry on
# 127.0.0.1 (small core builds on the busybox base whose files layer carries a dpkg
# database of 120 packages and 200 files, different in every version), then
#   - `corebuild query --package corelib` cold (empty cache) and warm (cached SBOMs),
#   - beside the peer: a shell loop with curl and jq that lists the tags and, one release
#     at a time, reads its referrers index, the SBOM manifest and the SBOM blob and greps
#     it for the package (what one does without corebuild),
# in one run, with the ratio. Both answers are checked to name the same releases.
#
# Target: the query answers in under 2 s (cold) over 200 versions.
#
#   scripts/bench/query.sh [--quick]     (--quick, or BENCH_QUICK=1: 5 versions, one
#                                         query run each, the target not judged; for CI)
#
# BENCH_VERSIONS=N overrides the number of versions.
if [ "${1:-}" = "--quick" ]; then export BENCH_QUICK=1; fi
source "$(dirname "$0")/lib.sh"
N=${BENCH_VERSIONS:-$(quick_or 5 200)}
bench_setup
bench_workdir query
export COREBUILD_STORE="$work/store"
export SOURCE_DATE_EPOCH=1735689600
export COREBUILD_INSECURE=1

start_registry query
export COREBUILD_CATALOG="registry:$reg/core"

# The project: the busybox base, a one-test suite, a blueprint whose files vary.
import_busybox --store "$COREBUILD_STORE"
proj="$work/proj"
bp="$proj/corelib-bench"
mkdir -p "$proj/contract-tests" "$bp/files/lib"
cat > "$proj/contract-tests/corelib.toml" <<'TOML'
name = "corelib"
version = "1.0.0"
description = "corelib is installed"
[[test]]
name = "libcore is there"
file = "/usr/lib/libcore.so.1"
type = "file"
TOML
{
  echo 'name = "corelib-bench"'
  echo 'version = "1.0.0"'
  echo 'description = "a small core build for the query benchmark"'
  echo 'epoch = 1735689600'
  echo '[base]'
  echo 'ref = "busybox-tiny:1"'
  echo '[[layer]]'
  echo 'files = ['
  echo '  { src = "files/status", dest = "/var/lib/dpkg/status", mode = "0644" },'
  echo '  { src = "files/corelib.list", dest = "/var/lib/dpkg/info/corelib.list", mode = "0644" },'
  echo '  { src = "files/libcore.so.1", dest = "/usr/lib/libcore.so.1", mode = "0644" },'
  echo '  { src = "files/lib", dest = "/usr/lib/bench", mode = "0644" },'
  echo ']'
  echo '[contract]'
  echo 'suites = ["corelib"]'
} > "$bp/blueprint.toml"
printf '/.\n/usr\n/usr/lib\n/usr/lib/libcore.so.1\n' > "$bp/files/corelib.list"

# Version i carries corelib 1.0-$((i % 10 + 1)) and 119 other packages.
write_version() {
  local i=$1
  sed -i "s/^version = .*/version = \"1.0.$i\"/" "$bp/blueprint.toml"
  {
    printf 'Package: corelib\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1.0-%d\n\n' $((i % 10 + 1))
    for p in $(seq 119); do
      printf 'Package: pkg%03d\nStatus: install ok installed\nArchitecture: amd64\nVersion: %d.%d-1\n\n' "$p" "$p" "$i"
    done
  } > "$bp/files/status"
  echo "corelib build $i" > "$bp/files/libcore.so.1"
  for f in $(seq 200); do echo "file $f of version $i" > "$bp/files/lib/f$f"; done
}

echo "publishing $N versions of corelib-bench to $reg ..."
s=$(date +%s)
for i in $(seq "$N"); do
  write_version "$i"
  "$CB" test "$bp" >/dev/null 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
  "$CB" publish "$bp" >/dev/null 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
  if [ $((i % 50)) = 0 ]; then echo "  $i published ($(( $(date +%s) - s )) s)"; fi
done

now_ns() { date +%s%N; }
secs_ns() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.3f", (b-a)/1e9}'; }

# corebuild: cold (no cache), then warm (the cache the cold run filled); best of 3 each
# (1 in quick mode), as the machine is shared.
best=""
timed() { # timed OUT ARGS...: runs the query, sets $t to the wall seconds
  local out=$1 t0 t1; shift
  t0=$(now_ns); "$CB" query "$@" --json > "$out"; t1=$(now_ns)
  t=$(secs_ns "$t0" "$t1")
}
best_of_3() { # best_of_3 CLEAR OUT ARGS...
  local clear=$1 out=$2 i; shift 2
  best=999
  for i in $(seq "$(quick_or 1 3)"); do
    if [ "$clear" = cold ]; then rm -rf "$COREBUILD_STORE/cache/advisory"; fi
    timed "$out" "$@"
    best=$(awk -v a="$t" -v b="$best" 'BEGIN{print (a<b)?a:b}')
  done
}
best_of_3 cold "$work/cold.json" --package corelib; t_cold=$best
best_of_3 warm "$work/warm.json" --package corelib; t_warm=$best
best_of_3 warm "$work/old.json" --package corelib --version '<< 1.0-2'; t_constraint=$best
cmp -s "$work/cold.json" "$work/warm.json" || { echo "cold and warm answers differ" >&2; exit 1; }
jq -r '.matches[].version' "$work/cold.json" | sort > "$work/cb.txt"

# The peer: one release at a time with curl and jq.
peer() {
  local base="http://$reg/v2/core/corelib-bench" t d idx m blob
  curl -sf "$base/tags/list?n=100000" | jq -r '.tags[]' | grep -E '^[0-9]+\.[0-9]+\.[0-9]+$' | while read -r t; do
    d=$(curl -sfI -H 'Accept: application/vnd.oci.image.manifest.v1+json' "$base/manifests/$t" \
      | tr -d '\r' | sed -n 's/^[Dd]ocker-[Cc]ontent-[Dd]igest: //p')
    idx=$(curl -sf -H 'Accept: application/vnd.oci.image.index.v1+json' "$base/manifests/sha256-${d#sha256:}")
    m=$(jq -r '.manifests[] | select(.artifactType == "application/spdx+json") | .digest' <<<"$idx" | head -1)
    blob=$(curl -sf -H 'Accept: application/vnd.oci.image.manifest.v1+json' "$base/manifests/$m" | jq -r '.layers[0].digest')
    # (no grep -q: under pipefail, curl would die of SIGPIPE when grep stops early)
    if curl -sf "$base/blobs/$blob" | grep '"name": "corelib"' >/dev/null; then echo "$t"; fi
  done
}
t0=$(now_ns); peer > "$work/peer.txt"; t1=$(now_ns)
t_peer=$(secs_ns "$t0" "$t1")
sort -o "$work/peer.txt" "$work/peer.txt"
cmp -s "$work/cb.txt" "$work/peer.txt" || { echo "corebuild and the peer answer different releases" >&2; diff "$work/cb.txt" "$work/peer.txt" >&2 || true; exit 1; }

n=$(wc -l < "$work/cb.txt")
n_old=$(jq '.matches | length' "$work/old.json")
sbom=$(jq '.releases' "$work/cold.json")
echo
printf '%-58s %8s  %s\n' "query over $sbom released versions ($n match)" "seconds" "ratio"
printf '%-58s %8s  %s\n' "corebuild query --package corelib (cold cache, best of $(quick_or 1 3))" "$t_cold" "$(ratio "$t_peer" "$t_cold" 1)x faster than the peer (target < 2 s)"
printf '%-58s %8s  %s\n' "corebuild query --package corelib (warm cache, best of $(quick_or 1 3))" "$t_warm" "$(ratio "$t_peer" "$t_warm" 1)x"
printf '%-58s %8s  %s\n' "corebuild query ... --version '<< 1.0-2' (warm, $n_old match)" "$t_constraint" ""
printf '%-58s %8s  %s\n' "peer: curl + jq, one release at a time" "$t_peer" "1.0x"
if ! bench_quick; then
  awk -v t="$t_cold" 'BEGIN{ exit !(t < 2.0) }' || { echo "query took $t_cold s: over the 2 s target" >&2; exit 1; }
fi
