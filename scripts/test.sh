#!/usr/bin/env bash
# The whole test suite: set up, lint, and run every test against the real tools.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --with-audit
cargo fmt --check
cargo clippy --all-targets --quiet -- -D warnings
bash scripts/audit.sh
cargo test --release 2>&1
# Every benchmark in quick mode, so none rots (figures printed, not judged).
bash scripts/bench/all.sh
