#!/usr/bin/env bash
# Runs every benchmark in scripts/bench/ in quick mode (BENCH_QUICK=1: one run, small
# inputs, figures printed and not judged), each one's output under a header, then a table
# of how long each took. Fails (exit 1) if any benchmark failed, naming them; the test
# command (scripts/test.sh) runs it so that no benchmark rots.
#
#   scripts/bench/all.sh [NAME…]      (default: every scripts/bench/*.sh but lib.sh and all.sh)
set -uo pipefail
cd "$(dirname "$0")/../.."
export BENCH_QUICK=1
# The benchmarks whose build is set-up, not measured (disk-export, boot-disk, publish,
# sign), share one store: core-minimal is built once. The others keep their own.
shared=$(mktemp -d /var/tmp/cb-bench-all.XXXXXX)
trap 'rm -rf "$shared"' EXIT
export BENCH_STORE="$shared/store"
bash scripts/setup.sh >/dev/null || exit 3
cargo build --release --quiet || exit 3

if [ $# -gt 0 ]; then
  benches=("$@")
else
  benches=()
  for f in scripts/bench/*.sh; do
    case "$(basename "$f")" in lib.sh | all.sh) ;; *) benches+=("$(basename "$f" .sh)") ;; esac
  done
fi
failed=()
times=()
start=$(date +%s)
for b in "${benches[@]}"; do
  echo "===== scripts/bench/$b.sh (BENCH_QUICK=1) ====="
  s=$(date +%s)
  bash "scripts/bench/$b.sh"
  rc=$?
  t=$(( $(date +%s) - s ))
  times+=("$(printf '%-22s %5d s  %s' "$b" "$t" "$([ "$rc" = 0 ] && echo ok || echo "FAILED (exit $rc)")")")
  [ "$rc" = 0 ] || failed+=("$b")
  echo
done
echo "===== quick benchmarks: $(( $(date +%s) - start )) s in all ====="
printf '%s\n' "${times[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "benchmarks failed: ${failed[*]}" >&2
  exit 1
fi
