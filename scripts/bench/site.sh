#!/usr/bin/env bash
# Benchmark for `corebuild catalog site`: a layout catalog with 3 core builds and 180
# released versions (60 each; small core builds on the busybox base, each released with
# `corebuild release`, so every version has notes, a contract report, an SBOM of 120
# packages and provenance; some deprecated, one revoked, channels promoted), then
#   - `corebuild catalog site --out DIR` (best of 3, into a fresh directory each time),
#   - beside the peer: what one scripts without corebuild for a plain version listing —
#     `skopeo inspect` of every version (manifest and config) and one HTML table row each,
# in one run, with the ratio. Both must list every version.
#
# Target: the site of 3 core builds and 60 versions is generated in under 2 s (measured
# here with 60 versions each, the stricter reading).
#
#   scripts/bench/site.sh [--quick]     (--quick, or BENCH_QUICK=1: 3 x 3 versions, one
#                                        site run, the target not judged; for CI)
#
# BENCH_VERSIONS=N overrides the versions per core build (default 60: 180 in all).
if [ "${1:-}" = "--quick" ]; then export BENCH_QUICK=1; fi
source "$(dirname "$0")/lib.sh"
N=${BENCH_VERSIONS:-$(quick_or 3 60)}
bench_setup
bench_workdir site
export COREBUILD_STORE="$work/store"
export SOURCE_DATE_EPOCH=1735689600
export COREBUILD_CATALOG="oci-layout:$work/catalog"

import_busybox --store "$COREBUILD_STORE"
proj="$work/proj"
mkdir -p "$proj/contract-tests"
cat > "$proj/contract-tests/corelib.toml" <<'TOML'
name = "corelib"
version = "1.0.0"
description = "corelib is installed"
[[test]]
name = "libcore is there"
file = "/usr/lib/libcore.so.1"
type = "file"
TOML

# write_blueprint NAME: a core build whose files layer carries a dpkg database.
write_blueprint() {
  local bp="$proj/$1"
  mkdir -p "$bp/files"
  cat > "$bp/blueprint.toml" <<TOML
name = "$1"
version = "1.0.1"
description = "$1: a small core build for the site benchmark"
epoch = 1735689600
[base]
ref = "busybox-tiny:1"
[[layer]]
files = [
  { src = "files/status", dest = "/var/lib/dpkg/status", mode = "0644" },
  { src = "files/libcore.so.1", dest = "/usr/lib/libcore.so.1", mode = "0644" },
]
[contract]
suites = ["corelib"]
[lifecycle]
end_of_support = "2027-12-31"
[product]
owner = "platform-os"
bug_tracker = "https://bugs.example.com/$1"
[[known_issue]]
id = "KI-1"
summary = "a known issue of $1"
workaround = "none needed"
[[change]]
kind = "enhancement"
summary = "version bump"
TOML
}

# write_version NAME I: version 1.0.I with 120 packages, one of them moving each time.
write_version() {
  local bp="$proj/$1" i=$2
  sed -i "s/^version = .*/version = \"1.0.$i\"/" "$bp/blueprint.toml"
  {
    printf 'Package: corelib\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1.0-%d\n\n' "$i"
    for p in $(seq 119); do
      printf 'Package: pkg%03d\nStatus: install ok installed\nArchitecture: amd64\nVersion: %d.%d-1\n\n' "$p" "$p" $((i / 5))
    done
  } > "$bp/files/status"
  echo "$1 build $i" > "$bp/files/libcore.so.1"
}

names="core-alpha core-beta core-gamma"
echo "releasing 3 x $N versions into $work/catalog ..."
s=$(date +%s)
for name in $names; do
  write_blueprint "$name"
  for i in $(seq "$N"); do
    write_version "$name" "$i"
    ch=candidate; [ $((i % 4)) = 0 ] && ch=stable
    (cd "$proj" && "$CB" release "$name" --notes-dir "$work/notes" --channel "$ch" >/dev/null 2>"$work/err") \
      || { cat "$work/err" >&2; exit 1; }
  done
  echo "  $name: $N released ($(( $(date +%s) - s )) s)"
done
"$CB" deprecate core-alpha:1.0.1 --reason "superseded" >/dev/null
"$CB" revoke core-beta:1.0.2 --reason "CVE-2099-1: corelib overflow" >/dev/null
total=$("$CB" catalog list --json | jq '[.[].releases[]] | length')

now_ns() { date +%s%N; }
secs_ns() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.3f", (b-a)/1e9}'; }

best=999
for k in $(seq "$(quick_or 1 3)"); do
  rm -rf "$work/site"
  t0=$(now_ns)
  /usr/bin/time -f '%M' -o "$work/rss" "$CB" catalog site --out "$work/site" --today 2026-12-01 >/dev/null
  t1=$(now_ns)
  t=$(secs_ns "$t0" "$t1")
  best=$(awk -v a="$t" -v b="$best" 'BEGIN{print (a<b)?a:b}')
done
rss_kb=$(cat "$work/rss")
pages=$(find "$work/site" -name '*.html' | wc -l)
bytes=$(du -sb "$work/site" | cut -f1)
# Every version has its page.
for name in $names; do
  for i in $(seq "$N"); do
    [ -s "$work/site/builds/$name/1.0.$i.html" ] || { echo "no page for $name 1.0.$i" >&2; exit 1; }
  done
done

# The peer: skopeo inspect of every version (manifest + config), one table row each.
peer() {
  local name v
  echo "<table>"
  for name in $names; do
    for i in $(seq "$N"); do
      v="1.0.$i"
      skopeo inspect --raw "oci:$work/catalog:$name:$v" >/dev/null
      skopeo inspect "oci:$work/catalog:$name:$v" \
        | jq -r --arg n "$name" --arg v "$v" '"<tr><td>\($n)</td><td>\($v)</td><td>\(.Digest)</td><td>\(.Created)</td></tr>"'
    done
  done
  echo "</table>"
}
t0=$(now_ns); peer > "$work/peer.html"; t1=$(now_ns)
t_peer=$(secs_ns "$t0" "$t1")
rows=$(grep -c '<tr>' "$work/peer.html")
[ "$rows" = "$total" ] || { echo "the peer listed $rows versions, the catalog has $total" >&2; exit 1; }

echo
printf '%-62s %8s  %s\n' "site of 3 core builds, $total versions" "seconds" "ratio"
printf '%-62s %8s  %s\n' "corebuild catalog site ($pages pages, $((bytes / 1024)) KiB, best of $(quick_or 1 3))" "$best" "$(ratio "$t_peer" "$best" 1)x faster than the peer (target < 2 s); peak RSS $((rss_kb / 1024)) MiB"
printf '%-62s %8s  %s\n' "peer: skopeo inspect per version + jq rows (a listing only)" "$t_peer" "1.0x"
if ! bench_quick; then
  awk -v t="$best" 'BEGIN{ exit !(t < 2.0) }' || { echo "the site took $best s: over the 2 s target" >&2; exit 1; }
fi
