#!/usr/bin/env bash
# Benchmark for the whole pipeline (issue 7): `corebuild release` of core-minimal from a
# cold store, broken down by stage, beside the sum of a peer pipeline doing the same work
# with separate tools in the same run: umoci (unpack, repack, insert) with the packages
# installed by `runc run`, container-structure-style checks as bare `runc run`s (one per
# command test in core-minimal's suites), and `skopeo copy` into an OCI layout.
#
#   scripts/bench/release.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
bash scripts/setup.sh
cargo build --release --quiet
CB="$PWD/target/release/corebuild"
work=/var/tmp/cb-bench-release-$$
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT
export COREBUILD_STORE="$work/store"
mkdir -p target/it-cache
MINBASE_TARBALL="$PWD/target/it-cache/minbase.tar" COREBUILD="$CB" bash blueprints/bases/debian-minbase.sh >/dev/null 2>&1
mkdir -p "$work/proj/blueprints"
cp -a contract-tests "$work/proj/"
cp -a blueprints/core-minimal "$work/proj/blueprints/"
ms() { local s e; s=$(date +%s%N); "$@" >/dev/null 2>&1 || { "$@"; exit 1; }; e=$(date +%s%N); echo $(( (e - s) / 1000000 )); }

"$CB" release --locked "$work/proj/blueprints/core-minimal" --catalog "oci-layout:$work/catalog" \
  --notes-dir "$work/notes" --json > "$work/ours.json"
ours_total=$(python3 -c 'import json,sys; print(sum(s["ms"] for s in json.load(open(sys.argv[1]))["stages"]))' "$work/ours.json")

# The peer pipeline on the same base.
skopeo copy -q "oci:$work/store:debian-minbase:12" "oci:$work/peer:base"
t_unpack=$(ms umoci unpack --image "$work/peer:base" "$work/bundle")
python3 - "$work/bundle/config.json" <<'PY'
import json, sys
p = sys.argv[1]; c = json.load(open(p))
c["process"]["terminal"] = False
c["process"]["args"] = ["/bin/sh", "-c", "apt-get -qq update && DEBIAN_FRONTEND=noninteractive apt-get -y -qq --no-install-recommends install ca-certificates curl netbase >/dev/null && rm -rf /var/lib/apt/lists/*"]
c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "network"]
c["mounts"].append({"destination": "/etc/resolv.conf", "type": "bind", "source": "/etc/resolv.conf", "options": ["rbind", "ro"]})
caps = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID",
        "CAP_SETUID", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_MKNOD", "CAP_AUDIT_WRITE"]
c["process"]["capabilities"] = {k: caps for k in ["bounding", "effective", "permitted"]}
json.dump(c, open(p, "w"))
PY
t_apt=$(ms runc --root "$work/runc" run --bundle "$work/bundle" apt)
t_repack=$(ms umoci repack --image "$work/peer:cm" "$work/bundle")
mkdir -p "$work/ins/etc" && cp blueprints/core-minimal/files/motd "$work/ins/etc/motd"
t_insert=$(ms umoci insert --image "$work/peer:cm" "$work/ins" /)
# One bare runc run per command test of core-minimal's suites.
ncmd=$(grep -h -c '^command = ' contract-tests/posix-base.toml contract-tests/tls-client.toml | awk '{s+=$1} END {print s}')
rm -rf "$work/bundle"
umoci unpack --image "$work/peer:cm" "$work/bundle" >/dev/null
python3 - "$work/bundle/config.json" <<'PY'
import json, sys
p = sys.argv[1]; c = json.load(open(p))
c["process"]["terminal"] = False
c["process"]["args"] = ["/bin/sh", "-c", "echo ok"]
c["root"]["readonly"] = True
json.dump(c, open(p, "w"))
PY
checks() { for i in $(seq "$ncmd"); do runc --root "$work/runc" run --bundle "$work/bundle" "c$i" >/dev/null; done; }
t_checks=$(ms checks)
t_copy=$(ms skopeo copy -q "oci:$work/peer:cm" "oci:$work/peer-catalog:core-minimal-1.0.1")
peer_total=$((t_unpack + t_apt + t_repack + t_insert + t_checks + t_copy))

echo "corebuild release (cold store), by stage:"
python3 -c '
import json, sys
for s in json.load(open(sys.argv[1]))["stages"]:
    print("  %-8s %-8s %7d ms" % (s["name"], s["status"], s["ms"]))
' "$work/ours.json"
printf '  %-17s %7d ms\n' "total" "$ours_total"
echo "peer pipeline:"
printf '  %-28s %7d ms\n' "umoci unpack" "$t_unpack" "runc run apt-get install" "$t_apt" \
  "umoci repack" "$t_repack" "umoci insert (files)" "$t_insert" \
  "$ncmd checks via bare runc run" "$t_checks" "skopeo copy" "$t_copy" "total" "$peer_total"
awk -v a="$ours_total" -v b="$peer_total" 'BEGIN{printf "corebuild release / peer pipeline: %.2fx (the peer writes no SBOM, provenance, notes or catalog records)\n", a/b}'
