#!/usr/bin/env bash
# The dedicated fuzzing run (stable Rust, proptest): each target below runs PROPTEST_CASES
# cases (100,000 unless set) from the fixed seed its test sets; a normal `cargo test`
# runs the same properties with 256. A failure prints the minimal failing input.
set -euo pipefail
cd "$(dirname "$0")/.."
export PROPTEST_CASES="${PROPTEST_CASES:-100000}"
run() {
  local start=$SECONDS
  cargo test --release --lib "$1" -- --test-threads=1 2>&1 |
    grep -E '^test |test result|panicked|minimal failing'
  echo "fuzz: $1: $PROPTEST_CASES cases each in $((SECONDS - start)) s"
}
run layer::apply::fuzz_tests       # the tar reader + layer apply
run fuzz::parsers::                # blueprints (includes, suites) and contract suites
run fuzz::manifests::              # manifests, configs and indexes in a layout
run fuzz::pins::                   # Dockerfiles, YAML and lists that pins check reads
