#!/usr/bin/env bash
# Crash consistency, the full run: kill -9 of build, publish (layout and registry),
# promote and release at every named fail point and at timed moments, at least 50 kills
# per command; after each, fsck must be clean, no catalog may list what it cannot serve,
# and the rerun must converge to the same digests. Prints each command's figures.
set -euo pipefail
cd "$(dirname "$0")/.."
COREBUILD_CRASH_STRIDE=1 COREBUILD_CRASH_POINTS="${POINTS:-50}" \
  cargo test --release --test it crash:: -- --nocapture --test-threads=2 2>&1 |
  grep -E 'named points|^test |test result'
