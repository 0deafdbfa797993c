# Shared set-up for the benchmarks in scripts/bench/ (sourced, never run): the repository
# root, the tools and the release binary, a scratch directory removed on exit, a
# docker-registry of our own on a free port, the busybox and Debian minbase bases, a copy
# of the example project, and timing helpers.
#
# BENCH_QUICK=1 (what CI and scripts/bench/all.sh use): one run, small inputs; figures are
# printed, not judged, so a benchmark fails only when a command it measures fails.
# BENCH_KEEP=1 keeps the scratch directory.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
BENCH_QUICK=${BENCH_QUICK:-0}
export BENCH_QUICK

# True in quick mode.
bench_quick() { [ "$BENCH_QUICK" = 1 ]; }
# quick_or QUICK FULL: the value for this mode.
quick_or() { if bench_quick; then echo "$1"; else echo "$2"; fi; }

# Installs what is missing and builds the release binary; sets $CB.
bench_setup() {
  bash scripts/setup.sh >/dev/null
  cargo build --release --quiet
  CB="${CARGO_TARGET_DIR:-$PWD/target}/release/corebuild"
  export CB
}

# bench_workdir NAME: a scratch directory in $work, removed on exit with any registry
# still running and whatever `bench_on_exit CMD` added.
_bench_exit_hooks=()
bench_on_exit() { _bench_exit_hooks+=("$1"); }
_bench_cleanup() {
  local h
  stop_registry
  for h in "${_bench_exit_hooks[@]}"; do eval "$h" || true; done
  if [ -z "${BENCH_KEEP:-}" ]; then rm -rf "$work"; else echo "kept $work" >&2; fi
}
bench_workdir() {
  # Lower case only (not mktemp's letters): buildah reads an OCI layout path as an image
  # name, which must be lower case. mkdir fails rather than reuse a directory.
  work="/var/tmp/cb-bench-$1-$$-$RANDOM"
  mkdir "$work"
  export work
  trap _bench_cleanup EXIT
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_registry NAME: a fresh docker-registry on 127.0.0.1 with its own storage under
# $work (stopping the one started before); sets $reg (HOST:PORT).
reg_pid=""
start_registry() {
  stop_registry
  local port
  port=$(free_port)
  rm -rf "$work/registry-$1"
  cat > "$work/registry-$1.yml" <<YAML
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $work/registry-$1
http:
  addr: 127.0.0.1:$port
YAML
  docker-registry serve "$work/registry-$1.yml" 2>"$work/registry.log" &
  reg_pid=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.05; done
  curl -sf "http://127.0.0.1:$port/v2/" >/dev/null || { echo "docker-registry did not start:" >&2; cat "$work/registry.log" >&2; exit 3; }
  reg="127.0.0.1:$port"
}
stop_registry() {
  if [ -n "$reg_pid" ]; then kill "$reg_pid" 2>/dev/null || true; wait "$reg_pid" 2>/dev/null || true; reg_pid=""; fi
}

# The Debian minbase as debian-minbase:12 in the store ($COREBUILD_STORE, or --store DIR),
# from the tarball the tests share (made once with mmdebstrap when missing).
export MINBASE_TARBALL=${MINBASE_TARBALL:-$PWD/target/it-cache/minbase.tar}
import_minbase() {
  mkdir -p "$(dirname "$MINBASE_TARBALL")"
  COREBUILD="$CB" bash blueprints/bases/debian-minbase.sh "$@" >/dev/null 2>"$work/minbase.err" \
    || { cat "$work/minbase.err" >&2; exit 3; }
}
# The busybox tiny base as busybox-tiny:1 (same arguments).
import_busybox() { COREBUILD="$CB" bash blueprints/bases/busybox-tiny.sh "$@" >/dev/null; }

# A copy of the example project (contract-tests/ and blueprints/NAME) in $work/proj, so a
# benchmark can change its files; prints the blueprint's directory.
project_copy() {
  mkdir -p "$work/proj/blueprints"
  [ -d "$work/proj/contract-tests" ] || cp -a contract-tests "$work/proj/"
  cp -a "blueprints/$1" "$work/proj/blueprints/"
  echo "$work/proj/blueprints/$1"
}

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
# ms CMD…: the wall time of one run in ms; a failing command prints its output and fails.
ms() { local s e; s=$(date +%s%N); "$@" >/dev/null 2>&1 || { "$@"; exit 1; }; e=$(date +%s%N); echo $(( (e - s) / 1000000 )); }
# ratio A B [DECIMALS]: A/B (B = 0 counts as a tiny number).
ratio() { awk -v a="$1" -v b="$2" -v d="${3:-2}" 'BEGIN{ if (b == 0) b = 0.001; printf "%." d "f", a/b }'; }
secs() { awk -v a="$1" 'BEGIN{ printf "%.2f", a/1000 }'; }
