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
set -euo pipefail
cd "$(dirname "$0")/../.."
bash scripts/setup.sh
out=$(mktemp)
trap 'rm -f "$out"' EXIT
status=0
REGISTRY_FAULTS_JUDGE_TIME=1 REGISTRY_FAULTS_ROUNDS=${ROUNDS:-3} REGISTRY_FAULTS_PAGE_MB=${PAGE_MB:-48} \
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
