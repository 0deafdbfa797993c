#!/usr/bin/env bash
# Benchmark for build steps and the layer cache (issue 3): a cold build of core-minimal
# (packages layer in runc + files layer), then a rebuild after changing only the last
# files layer, beside buildah (vfs storage, chroot isolation, --layers) doing the same two
# builds from the same base in the same run. Prints times and ratios.
#
#   scripts/bench/incremental-build.sh
#
# Already one run of each; BENCH_QUICK=1 changes nothing.
source "$(dirname "$0")/lib.sh"
bench_setup
bench_workdir incremental
bench_on_exit 'buildah --root "$work/buildah" --runroot "$work/buildah-run" --storage-driver vfs rm -a >/dev/null 2>&1'
export COREBUILD_STORE="$work/store"
import_minbase

# Our side: a copy of the example project so the motd can change.
bp=$(project_copy core-minimal)
ours_cold=$(ms "$CB" build --locked "$bp")
echo "changed $(date +%s%N)" > "$bp/files/motd"
ours_warm=$(ms "$CB" build --locked "$bp")
hit=$("$CB" build --locked "$bp" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["layers"][1]["cache_hit"])')

# buildah: the same base (exported from our store), the same packages and file.
skopeo copy -q "oci:$work/store:debian-minbase:12" "oci:$work/base:12"
mkdir -p "$work/ctx"
cp blueprints/core-minimal/files/motd "$work/ctx/motd"
cat > "$work/ctx/Containerfile" <<CF
FROM oci:$work/base:12
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ca-certificates curl && rm -rf /var/lib/apt/lists/*
COPY motd /etc/motd
CF
B=(buildah --root "$work/buildah" --runroot "$work/buildah-run" --storage-driver vfs)
bud() { "${B[@]}" bud --isolation chroot --layers -q -t cm:1 "$work/ctx" && "${B[@]}" push -q cm:1 "oci:$work/bout:1"; }
buildah_cold=$(ms bud)
echo "changed $(date +%s%N)" > "$work/ctx/motd"
buildah_warm=$(ms bud)

pct() { awk -v a="$1" -v b="$2" 'BEGIN{ printf "%.1f%%", 100*a/b }'; }
printf '%-46s %9s %9s\n' "" "cold ms" "1 file ms"
printf '%-46s %9s %9s\n' "corebuild build --locked (packages + files)" "$ours_cold" "$ours_warm"
printf '%-46s %9s %9s\n' "buildah bud --layers + push to OCI layout" "$buildah_cold" "$buildah_warm"
echo "corebuild: the small rebuild takes $(pct "$ours_warm" "$ours_cold") of the cold build (target < 10%); packages layer cache hit: $hit"
echo "buildah is $(ratio "$buildah_warm" "$ours_warm" 1)x slower on the small rebuild (target >= 10x)"
