#!/usr/bin/env bash
# Builds the container image of corebuild itself (blueprints/corebuild) with corebuild:
# stages target/release/corebuild (debug info stripped) into the blueprint's files/
# (gitignored), builds the locked blueprint into the store, or releases it (build, contract
# tests, gate, publish) with --release, and prints the pinned reference NAME@sha256:…
# that `corebuild plan` jobs run. Leaves `git status` clean.
#
#   scripts/corebuild-image.sh [--store DIR] [--release --catalog CATALOG [--insecure] [--notes-dir DIR]]
#   scripts/corebuild-image.sh [--store DIR] --lock [LOCK ARGS…]   (writes blueprint.lock; the
#                                  lock reads the staged binary too, so it goes through here)
#
# --notes-dir defaults to a temporary directory (release-notes/ is for core builds).
# Needs the debian-minbase:12 base in the store (blueprints/bases/debian-minbase.sh) and
# the Debian mirror once (the packages layer). Exit codes are corebuild's; 2 for bad usage
# or a blueprint version that is not the binary's.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=build
store=()
rel=()
notes=""
lockargs=()
catalog=${COREBUILD_CATALOG:-}
while [ $# -gt 0 ]; do
  case "$1" in
    --release) mode=release ;;
    --lock) mode=lock; shift; lockargs=("$@"); break ;;
    --catalog) catalog=$2; shift ;;
    --store) store=(--store "$2"); shift ;;
    --insecure) rel+=(--insecure) ;;
    --notes-dir) notes=$2; shift ;;
    *) echo "corebuild-image.sh: unknown argument $1 (see the header of $0)" >&2; exit 2 ;;
  esac
  shift
done
cargo build --release --quiet
CB="${CARGO_TARGET_DIR:-$PWD/target}/release/corebuild"
bp=blueprints/corebuild

# The image is released under the binary's version: the two must agree.
bin_version=$("$CB" --version | awk '{print $2}')
bp_version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$bp/blueprint.toml" | head -1)
if [ "$bin_version" != "$bp_version" ]; then
  echo "corebuild-image.sh: $bp/blueprint.toml has version $bp_version but the binary is $bin_version: set the blueprint's version to $bin_version" >&2
  exit 2
fi

# Stage the binary (stripped of debug info: a third of its size) under files/, which git
# ignores; removed again on exit so nothing stays behind.
staged="$bp/files/corebuild"
tmp=$(mktemp -d)
trap 'rm -rf "$staged" "$staged.tmp" "$tmp"' EXIT
mkdir -p "$bp/files"
strip --strip-debug -o "$staged.tmp" "$CB"
mv "$staged.tmp" "$staged"

if [ "$mode" = lock ]; then
  "$CB" lock "$bp" "${store[@]}" "${lockargs[@]}"
  exit
elif [ "$mode" = release ]; then
  [ -n "$catalog" ] || { echo "corebuild-image.sh: --release needs --catalog (or COREBUILD_CATALOG)" >&2; exit 2; }
  out=$("$CB" release --locked "$bp" --catalog "$catalog" --notes-dir "${notes:-$tmp}" "${store[@]}" "${rel[@]}" --json)
  digest=$(jq -r .digest <<<"$out")
  case "$catalog" in
    registry:*) name="${catalog#registry:}/corebuild" ;;
    *) name=corebuild ;;
  esac
else
  out=$("$CB" build --locked "$bp" "${store[@]}" --json)
  digest=$(jq -r .digest <<<"$out")
  name=corebuild
fi
echo "$name@$digest"
