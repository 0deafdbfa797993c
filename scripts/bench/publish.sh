#!/usr/bin/env bash
# Benchmark for the catalog: first publish and no-change re-publish of core-minimal to a
# real docker-registry on 127.0.0.1, beside `skopeo copy oci:… docker://…` of the same
# image, in one run (ratios, since machines are noisy). A first publish goes to a fresh
# repository each round, so every blob is uploaded, as it is for skopeo.
#
# Targets: first publish within 1.2x of skopeo; no-change re-publish under 60 ms.
#
#   scripts/bench/publish.sh
#
# MINBASE_TARBALL=PATH reuses a minbase tarball; BENCH_STORE=DIR keeps the store (and
# its layer cache) across runs. BENCH_QUICK=1: one first-publish round each, 3 re-publishes.
source "$(dirname "$0")/lib.sh"
bench_setup
bench_workdir publish
export COREBUILD_STORE="${BENCH_STORE:-$work/store}"
export SOURCE_DATE_EPOCH=1735689600

# The candidate: core-minimal on the Debian minbase, tested so the gate passes.
import_minbase --store "$COREBUILD_STORE"
"$CB" test --locked blueprints/core-minimal >/dev/null
built=$("$CB" build --locked blueprints/core-minimal --out "$work/layout" --json)
version=$(jq -r .version <<<"$built")
digest=$(jq -r .digest <<<"$built")
layer=$(du -b "$COREBUILD_STORE"/blobs/sha256/* | sort -n | tail -1 | cut -f1)
echo "core-minimal:$version $digest, largest layer $((layer / 1000000)) MB"

# A fresh registry (lib.sh's start_registry) per first-publish round: skopeo remembers
# where blobs live and would mount them from an earlier round's repository instead of
# uploading.

now_ns() { date +%s%N; }
# best-of-N wall time (seconds) of a command that gets the round number as $1
best_of() {
  local n=$1; shift
  local best=999999 s e t
  for i in $(seq "$n"); do
    sync
    "$@" "$i" >/dev/null 2>"$work/err" || { cat "$work/err" >&2; exit 1; }; s=$(cat "$work/start"); e=$(cat "$work/end")
    t=$(awk -v a="$s" -v b="$e" 'BEGIN{printf "%.3f", (b-a)/1e9}')
    best=$(awk -v a="$t" -v b="$best" 'BEGIN{print (a<b)?a:b}')
  done
  echo "$best"
}
# mean wall time in ms over N runs
mean_ms() {
  local n=$1; shift
  local s e
  "$@" >/dev/null 2>&1 || { "$@"; exit 1; }   # warm
  s=$(now_ns)
  for _ in $(seq "$n"); do "$@" >/dev/null 2>&1 || { "$@"; exit 1; }; done
  e=$(now_ns)
  awk -v a="$s" -v b="$e" -v n="$n" 'BEGIN{printf "%.1f", (b-a)/n/1e6}'
}

# Each round: a fresh registry (not timed), the push (timed into $work/start and end).
timed_push() {
  start_registry "$1"
  now_ns > "$work/start"
  "${@:2}"
  now_ns > "$work/end"
  stop_registry
}
cb_push() { "$CB" publish core-minimal:$version --catalog "registry:$reg/cb1" --insecure; }
skopeo_push() { skopeo copy --quiet --dest-tls-verify=false "oci:$work/layout:$version" "docker://$reg/sk1/core-minimal:$version"; }
cb_first() { timed_push "cb$1" cb_push; }
skopeo_first() { timed_push "sk$1" skopeo_push; }
cb_again() { cb_push; }
cb_again_bp() { "$CB" publish blueprints/core-minimal --locked --catalog "registry:$reg/cb1" --insecure; }
skopeo_again() { skopeo_push; }

R=$(quick_or 1 3)
t_cb=$(best_of "$R" cb_first)
t_sk=$(best_of "$R" skopeo_first)
start_registry again
cb_again >/dev/null 2>&1
skopeo_again >/dev/null 2>&1
m_cb=$(mean_ms "$(quick_or 3 20)" cb_again)
m_bp=$(mean_ms "$(quick_or 3 10)" cb_again_bp)
m_sk=$(mean_ms "$(quick_or 3 10)" skopeo_again)

pushed=$(skopeo inspect --tls-verify=false "docker://$reg/cb1/core-minimal:$version" | sed -n 's/^    "Digest": "\(.*\)",$/\1/p')
[ "$pushed" = "$digest" ] || { echo "skopeo sees $pushed at cb1/core-minimal:$version, expected $digest" >&2; exit 1; }

echo
printf '%-48s %8s  %s\n' "first publish (fresh repository)" "seconds" "ratio"
printf '%-48s %8s  %s\n' "corebuild publish (gate, blobs, SBOM, provenance)" "$t_cb" "$(ratio "$t_cb" "$t_sk")x skopeo (target <= 1.2x)"
printf '%-48s %8s  %s\n' "skopeo copy oci: docker://" "$t_sk" "1.00x"
echo
printf '%-48s %8s  %s\n' "no-change re-publish" "ms" ""
printf '%-48s %8s  %s\n' "corebuild publish core-minimal:$version" "$m_cb" "target < 60"
printf '%-48s %8s  %s\n' "corebuild publish blueprints/core-minimal" "$m_bp" "(includes the cached build)"
printf '%-48s %8s  %s\n' "skopeo copy (no change)" "$m_sk" ""
