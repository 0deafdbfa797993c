#!/usr/bin/env bash
# Benchmark for registry faults (issue 11): `corebuild publish` to a real docker-registry
# on 127.0.0.1, clean and through the in-test fault proxy that answers 20% of requests
# with 500/502/503, 429 + Retry-After: 1, or a dropped connection. Both runs go to a
# fresh registry, so every blob is uploaded in both. Prints clean vs faulty time (ratio)
# per round; the test asserts identical digests and that no 4xx but 429 is retried.
#
# Target: the faulty publish within 3x the clean one.
#
#   scripts/bench/registry-faults.sh            # 3 rounds, a 48 MiB file (a contract suite searches it: < 64 MiB)
#   ROUNDS=5 PAGE_MB=16 scripts/bench/registry-faults.sh
#
# BENCH_QUICK=1: 1 round, an 8 MiB file, and the time not judged (the digests still are).
source "$(dirname "$0")/lib.sh"
bash scripts/setup.sh
bench_workdir registry-faults
out="$work/out"
status=0
judge=(REGISTRY_FAULTS_JUDGE_TIME=1)
if bench_quick; then judge=(); fi
env "${judge[@]}" REGISTRY_FAULTS_ROUNDS="${ROUNDS:-$(quick_or 1 3)}" REGISTRY_FAULTS_PAGE_MB="${PAGE_MB:-$(quick_or 8 48)}" \
  cargo test --release --quiet --test it registry_faults::publish_survives -- --nocapture \
  >"$out" 2>&1 || status=$?
grep '^registry-faults round' "$out" || { cat "$out" >&2; exit 1; }
grep -q 'test result: ok' "$out" || { echo "the test failed (exit $status):" >&2; grep -A3 panicked "$out" >&2; }
echo
awk '/^registry-faults round/ {
  for (i = 1; i <= NF; i++) { if ($i == "clean") c += $(i+1); if ($i == "faulty") f += $(i+1) }
  n++ }
  END { if (n) printf "mean of %d rounds: clean %.2f s, faulty %.2f s, ratio %.2fx (target <= 3x)\n", n, c/n, f/n, f/c }' "$out"
exit "$status"
