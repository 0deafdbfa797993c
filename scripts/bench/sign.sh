#!/usr/bin/env bash
# Benchmark for signed releases (issue 13): what `--sign-key` adds to publishing a release.
# The same tested core-minimal candidate (its SBOM with files is the realistic attestation
# size) is published into a fresh catalog each round, unsigned and signed (an unencrypted
# key) interleaved, to an OCI layout and to a docker-registry on 127.0.0.1 that this
# script starts (a fresh one per round, not timed). Medians and bests of N rounds, the
# difference in ms and the ratio, in one run since machines are noisy. Apart from that,
# the one-off cost of opening an encrypted key (PBKDF2-HMAC-SHA256, 600k rounds): a
# no-change re-sign with the encrypted key against the same with the plain key.
#
# Target: signing and attesting add at most 50 ms to a release.
#
#   scripts/bench/sign.sh [--quick]      (--quick, or BENCH_QUICK=1: 1 round, layout only, for CI)
#
# BENCH_ROUNDS=N sets the rounds (default 7); MINBASE_TARBALL=PATH reuses a minbase tarball;
# BENCH_STORE=DIR keeps the store (the built candidate) across runs; each run tests it
# again, and every stored contract report is attested, so the .att grows by one envelope.
if [ "${1:-}" = "--quick" ]; then export BENCH_QUICK=1; fi
source "$(dirname "$0")/lib.sh"
QUICK=$(quick_or 1 0)
N=${BENCH_ROUNDS:-$(quick_or 1 7)}
bench_setup
bench_workdir sign
export COREBUILD_STORE="${BENCH_STORE:-$work/store}"
export SOURCE_DATE_EPOCH=1735689600
unset COREBUILD_SIGN_KEY COREBUILD_TRUSTED_KEYS COREBUILD_KEY_PASSWORD COREBUILD_CATALOG

# The candidate: core-minimal on the Debian minbase, tested so the gate passes.
import_minbase --store "$COREBUILD_STORE"
"$CB" test --locked blueprints/core-minimal --json >"$work/test.json" 2>"$work/test.err" || { tail -20 "$work/test.err" >&2; exit 1; }
digest=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["candidate"])' "$work/test.json")
"$CB" key generate --out "$work/key" >/dev/null 2>&1
COREBUILD_KEY_PASSWORD=bench "$CB" key generate --out "$work/key-enc" >/dev/null 2>&1

# "wall-ms cpu-ms" of one publish of the candidate to catalog $1 (extra arguments passed
# on); cpu is user + sys of the process, less disturbed by other jobs on the machine.
publish_ms() {
  local cat=$1 t; shift
  sync
  t=$( { TIMEFORMAT='%3R %3U %3S'; time "$CB" publish "core-minimal@$digest" --catalog "$cat" --insecure --json "$@" \
    >"$work/out.json" 2>"$work/err"; } 2>&1 ) || { cat "$work/err" >&2; exit 1; }
  awk '{printf "%d %d\n", $1 * 1000, ($2 + $3) * 1000}' <<<"$t"
}
median() { sort -n | awk '{a[NR]=$1} END {printf "%d\n", (NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2}'; }
# median of column $2 of file $1
col() { cut -d' ' -f"$2" "$1" | median; }
# median of the per-round differences (file $2 minus file $1) in column $3
paired() { paste -d' ' <(cut -d' ' -f"$3" "$1") <(cut -d' ' -f"$3" "$2") | awk '{print $2 - $1}' | median; }

targets=(layout)
[ "$QUICK" = 1 ] || targets+=(registry)
for t in "${targets[@]}"; do : >"$work/$t-unsigned"; : >"$work/$t-signed"; done
for i in $(seq "$N"); do
  for t in "${targets[@]}"; do
    # Alternate which goes first, so neither always meets a warmer page cache.
    for kind in $( ((i % 2)) && echo "unsigned signed" || echo "signed unsigned"); do
      if [ "$t" = layout ]; then cat="oci-layout:$work/cat-$kind-$i"; else start_registry sign; cat="registry:$reg/$kind$i"; fi
      if [ "$kind" = signed ]; then
        publish_ms "$cat" --sign-key "$work/key/cosign.key" >>"$work/$t-$kind"
        python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["signed"]; assert s["signatures_added"]==1 and s["attestations_added"]>=4, s' "$work/out.json"
      else
        publish_ms "$cat" >>"$work/$t-$kind"
      fi
      if [ "$t" = layout ] && [ "$i" -gt 1 ]; then rm -rf "$work/cat-$kind-$i"; fi
    done
  done
done
stop_registry

# What the signed layout catalog of round 1 holds, and that it verifies.
"$CB" verify "core-minimal@$digest" --catalog "oci-layout:$work/cat-signed-1" --key "$work/key/cosign.pub" --json >"$work/verify.json"
att=$(python3 - "$work/cat-signed-1" "$digest" <<'PY'
import json, os, sys
root, digest = sys.argv[1], sys.argv[2]
tag = ":sha256-%s.att" % digest.split(":")[1]
for dirpath, _, files in os.walk(root):
    if "index.json" not in files:
        continue
    for m in json.load(open(os.path.join(dirpath, "index.json")))["manifests"]:
        if (m.get("annotations") or {}).get("org.opencontainers.image.ref.name", "").endswith(tag):
            h = m["digest"].split(":")[1]
            man = json.load(open(os.path.join(dirpath, "blobs", "sha256", h)))
            print("%d envelopes, %.1f MB" % (len(man["layers"]), sum(l["size"] for l in man["layers"]) / 1e6))
            sys.exit(0)
print("no %s found" % tag)
PY
)

# The encrypted key: a no-change re-sign (nothing is written) with each key, on a
# catalog both already signed. The difference is opening the key. Beside it, the same
# no-change re-publish unsigned.
enc_cat="oci-layout:$work/cat-enc"
publish_ms "$enc_cat" --sign-key "$work/key/cosign.key" >/dev/null
COREBUILD_KEY_PASSWORD=bench publish_ms "$enc_cat" --sign-key "$work/key-enc/cosign.key" >/dev/null
: >"$work/plain-resign"; : >"$work/enc-resign"; : >"$work/republish"
for _ in $(seq "$N"); do
  publish_ms "$enc_cat" >>"$work/republish"
  publish_ms "$enc_cat" --sign-key "$work/key/cosign.key" >>"$work/plain-resign"
  COREBUILD_KEY_PASSWORD=bench publish_ms "$enc_cat" --sign-key "$work/key-enc/cosign.key" >>"$work/enc-resign"
done

echo "core-minimal $digest; attestations: $att; $N rounds each, interleaved; medians in ms"
printf '%-26s %9s %9s %9s %7s   %9s %9s %9s\n' "publish (fresh catalog)" "unsigned" "signed" "+wall" "ratio" "cpu uns." "cpu sig." "+cpu"
verdict=""
for t in "${targets[@]}"; do
  u="$work/$t-unsigned" g="$work/$t-signed"
  dw=$(paired "$u" "$g" 1) dc=$(paired "$u" "$g" 2)
  verdict="$verdict $t $(printf '%+d' "$dw") ms wall, $(printf '%+d' "$dc") ms cpu;"
  printf '%-26s %9d %9d %+9d %7s   %9d %9d %+9d\n' "$t" "$(col "$u" 1)" "$(col "$g" 1)" "$dw" \
    "$(awk -v a="$(col "$g" 1)" -v b="$(col "$u" 1)" 'BEGIN{printf "%.3fx", a/b}')" "$(col "$u" 2)" "$(col "$g" 2)" "$dc"
done
printf '%-26s %9d ms plain key, %d ms encrypted: opening it costs %+d ms wall, %+d ms cpu (once per command)\n' \
  "no-change re-sign" "$(col "$work/plain-resign" 1)" "$(col "$work/enc-resign" 1)" \
  "$(paired "$work/plain-resign" "$work/enc-resign" 1)" "$(paired "$work/plain-resign" "$work/enc-resign" 2)"
printf '%-26s %9d ms unsigned, %d ms re-signing with the plain key (nothing added either way)\n' \
  "no-change re-publish" "$(col "$work/republish" 1)" "$(col "$work/plain-resign" 1)"
python3 -c 'import json,sys; v=json.load(open(sys.argv[1])); print("verify: %d problem(s), %d signature(s), %d attestation(s)" % (len(v["problems"]), len(v["signatures"]), len(v["attestations"])))' "$work/verify.json"
echo "target: signing adds at most 50 ms (median of per-round differences):$verdict"
