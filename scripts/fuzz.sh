#!/usr/bin/env bash
# The dedicated fuzzing run (stable Rust, proptest): every property test under src/fuzz/
# and the layer reader's, with PROPTEST_CASES cases each (default 100,000). The normal
# test suite runs a small fixed slice of the same properties. A failure prints the
# minimal failing input; proptest also records its seed under proptest-regressions/.
set -euo pipefail
cd "$(dirname "$0")/.."
export PROPTEST_CASES="${PROPTEST_CASES:-100000}"
run() {
  local start=$SECONDS
  cargo test --release --lib "$1" -- --test-threads=1 2>&1 | grep -E '^test |test result|panicked|minimal failing'
  echo "fuzz: $1: $PROPTEST_CASES cases each in $((SECONDS - start)) s"
}
run fuzz::parsers::
run fuzz::manifests::
