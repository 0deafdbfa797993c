#!/usr/bin/env bash
# The main job: set up, make the known-good base if missing, then release the example
# blueprint with --locked: build → contract tests → gate → publish into the default local
# catalog (./catalog) → release notes (release-notes/) → promotion to `candidate`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build --release --quiet
CB="$PWD/target/release/corebuild"
export PATH="$PWD/target/release:$PATH"
BLUEPRINT=${1:-blueprints/core-minimal}
base_ref=$(sed -n 's/^ref *= *"\(.*\)"/\1/p' "$BLUEPRINT/blueprint.toml" | head -1)
if [ "$base_ref" = "debian-minbase:12" ] && ! "$CB" images | grep -q '^debian-minbase:12	'; then
  bash blueprints/bases/debian-minbase.sh
fi
"$CB" release --locked "$BLUEPRINT" --channel candidate
