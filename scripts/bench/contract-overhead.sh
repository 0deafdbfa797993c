#!/usr/bin/env bash
# Benchmark for contract tests (issue 4): the per-command overhead of a contract
# `command` test (fresh overlay + runc, read-only, no network, no capabilities) against a
# bare `runc run /bin/true` of the same rootfs, in one run; and a 50-test suite on one
# job versus both cores.
#
#   scripts/bench/contract-overhead.sh
#
# BENCH_QUICK=1: a 10-test suite.
source "$(dirname "$0")/lib.sh"
bench_setup
bench_workdir contract
export COREBUILD_STORE="$work/store"
import_busybox
N=$(quick_or 10 50)
mkdir -p "$work/suites"
{
  echo 'name = "bench50"'; echo 'version = "1.0.0"'; echo "description = \"$N trivial commands\""
  for i in $(seq $N); do printf '[[test]]\nname = "true %s"\ncommand = ["/bin/true"]\n' "$i"; done
} > "$work/suites/bench50.toml"
# Warm the unpacked candidate cache, then time.
"$CB" test busybox-tiny:1 --suites "$work/suites" --suite bench50 --jobs 1 >/dev/null
one=$(ms "$CB" test busybox-tiny:1 --suites "$work/suites" --suite bench50 --jobs 1)
two=$(ms "$CB" test busybox-tiny:1 --suites "$work/suites" --suite bench50 --jobs 2)

# Bare runc on the same rootfs: a minimal bundle, /bin/true, run and deleted N times.
"$CB" unpack busybox-tiny:1 "$work/bundle/rootfs" 2>/dev/null
(cd "$work/bundle" && runc spec && python3 - <<'PY'
import json
c = json.load(open("config.json"))
c["process"]["terminal"] = False
c["process"]["args"] = ["/bin/true"]
c["root"]["readonly"] = True
json.dump(c, open("config.json", "w"))
PY
)
bare() { for i in $(seq $N); do runc --root "$work/runc" run --bundle "$work/bundle" "b$i" >/dev/null; done; }
bare_ms=$(ms bare)

per() { awk -v a="$1" -v n="$N" 'BEGIN{printf "%.1f", a/n}'; }
printf '%-52s %8s %8s\n' "" "total ms" "per test"
printf '%-52s %8s %8s\n' "corebuild test, $N command tests, --jobs 1" "$one" "$(per "$one")"
printf '%-52s %8s %8s\n' "bare runc run /bin/true x $N (no overlay)" "$bare_ms" "$(per "$bare_ms")"
printf '%-52s %8s %8s\n' "corebuild test, $N command tests, --jobs 2" "$two" "$(per "$two")"
echo "per-command overhead: $(ratio "$one" "$bare_ms")x bare runc (target <= 1.5x)"
echo "both cores: --jobs 2 is $(ratio "$one" "$two")x faster than --jobs 1"
