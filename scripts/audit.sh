#!/usr/bin/env bash
# cargo audit of Cargo.lock against the RustSec advisory database, offline. These machines
# cannot fetch the database: it comes from a git bundle, the shared one when this checkout
# sits beside it (../shared/data), else the copy committed under scripts/audit/ (a
# snapshot: replace it with a newer bundle to pick up newer advisories).
set -euo pipefail
cd "$(dirname "$0")/.."
bundle="${ADVISORY_DB_BUNDLE:-}"
for c in ../shared/data/rustsec-advisory-db.bundle scripts/audit/rustsec-advisory-db.bundle; do
  [ -n "$bundle" ] || { [ -f "$c" ] && bundle="$c"; }
done
db=target/advisory-db
rm -rf "$db"
git -c advice.detachedHead=false -c init.defaultBranch=main clone -q "$bundle" "$db"
echo "audit: advisory database from $bundle ($(git -C "$db" log -1 --format=%cs))" >&2
cargo audit --db "$db" --no-fetch --stale --deny warnings
