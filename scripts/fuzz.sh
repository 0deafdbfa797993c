#!/usr/bin/env bash
# The dedicated fuzzing run (stable Rust, proptest): each target below runs
# PROPTEST_CASES cases (100,000 unless set) with the fixed seed its test sets; a normal
# `cargo test` runs the same tests with 256. One `cargo test --release <filter>` line per
# target; add yours below.
set -euo pipefail
cd "$(dirname "$0")/.."
export PROPTEST_CASES="${PROPTEST_CASES:-100000}"

# The tar reader + layer apply (src/layer/apply/fuzz_tests.rs).
cargo test --release --lib layer::apply::fuzz_tests
