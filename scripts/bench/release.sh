#!/usr/bin/env bash
# Benchmark for the whole pipeline (issue 7): `corebuild release` of core-minimal from a
# cold store, broken down by stage, beside the sum of a peer pipeline doing the same work
# with separate tools in the same run: umoci (unpack, repack, insert) with the packages
# installed by `runc run`, container-structure-style checks as bare `runc run`s (one per
# command test in core-minimal's suites), and `skopeo copy` into an OCI layout.
#
#   scripts/bench/release.sh
#
# Then, on the store the cold release left (issue 15): a warm release of the unchanged
# blueprint (every layer a cache hit, the report reused, already published), and a release
# after changing one file layer (motd edited, version bumped): wall time and peak RSS of
# each. Targets: cold at least 1.5x faster than the peer, warm under 1 s, one file under
# 3 s. COREBUILD_PROFILE=1 adds where the time goes inside each release (stderr).
#
# BENCH_QUICK=1 (scripts/bench/all.sh, CI): one run of each measurement; the targets are
# printed, not judged.
source "$(dirname "$0")/lib.sh"
bench_setup
bench_workdir release
export COREBUILD_STORE="$work/store"
# The machine's package cache (by default the user's ~/.cache/corebuild/packages), shared
# by the stores below; here a scratch one, empty at first, so the first cold release
# downloads every package as on a machine that never built before.
export COREBUILD_PACKAGE_CACHE="$work/packages"
import_minbase
bp=$(project_copy core-minimal)

# measure OUT CMD...: runs CMD with stdout to OUT; prints "wall_ms peak_rss_kib".
measure() {
  python3 - "$@" <<'PY'
import resource, subprocess, sys, time
out, cmd = sys.argv[1], sys.argv[2:]
t = time.monotonic()
with open(out, "wb") as f:
    r = subprocess.run(cmd, stdout=f, stderr=subprocess.PIPE)
ms = int((time.monotonic() - t) * 1000)
if r.returncode != 0:
    sys.stderr.write(r.stderr.decode(errors="replace"))
    sys.exit(r.returncode)
print(ms, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
PY
}
release() { measure "$1" "$CB" release --locked "$bp" --catalog "oci-layout:$work/catalog" --notes-dir "$work/notes" --json; }

read -r cold_ms cold_rss < <(release "$work/ours.json")
ours_total=$(python3 -c 'import json,sys; print(sum(s["ms"] for s in json.load(open(sys.argv[1]))["stages"]))' "$work/ours.json")
read -r warm_ms warm_rss < <(release "$work/warm.json")
# A second machine-local store, empty, with the package cache the first one filled.
COREBUILD_STORE="$work/store2" import_minbase
read -r cold2_ms cold2_rss < <(COREBUILD_STORE="$work/store2" measure "$work/cold2.json" "$CB" release --locked "$bp" --catalog "oci-layout:$work/catalog2" --notes-dir "$work/notes2" --json)
cold2_total=$(python3 -c 'import json,sys; print(sum(s["ms"] for s in json.load(open(sys.argv[1]))["stages"]))' "$work/cold2.json")
echo "changed for the benchmark" >> "$bp/files/motd"
sed -i 's/^version = .*/version = "99.0.0"/' "$bp/blueprint.toml"
read -r one_ms one_rss < <(release "$work/one.json")

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

echo "corebuild release of a cold store, by stage (nothing cached on the machine / package cache warm):"
python3 -c '
import json, sys
a, b = (json.load(open(p))["stages"] for p in sys.argv[1:3])
for s, t in zip(a, b):
    print("  %-8s %-8s %7d ms %7d ms" % (s["name"], s["status"], s["ms"], t["ms"]))
' "$work/ours.json" "$work/cold2.json"
printf '  %-17s %7d ms %7d ms\n' "total" "$ours_total" "$cold2_total"
echo "peer pipeline:"
printf '  %-28s %7d ms\n' "umoci unpack" "$t_unpack" "runc run apt-get install" "$t_apt" \
  "umoci repack" "$t_repack" "umoci insert (files)" "$t_insert" \
  "$ncmd checks via bare runc run" "$t_checks" "skopeo copy" "$t_copy" "total" "$peer_total"
echo "peer / corebuild (target >= 1.5; the peer writes no SBOM, provenance, notes or catalog records):"
awk -v a="$cold2_total" -v b="$peer_total" 'BEGIN{printf "  cold store, the machine'"'"'s package cache warm (the default on a machine that built before): %.2fx\n", b/a}'
awk -v a="$ours_total" -v b="$peer_total" 'BEGIN{printf "  cold store, nothing cached on the machine (both download every package): %.2fx\n", b/a}'
echo "wall and peak RSS of each corebuild release (whole process):"
printf '  %-44s %7d ms %7d KiB\n' "cold store, nothing cached on the machine" "$cold_ms" "$cold_rss"
printf '  %-44s %7d ms %7d KiB\n' "cold store, package cache warm" "$cold2_ms" "$cold2_rss"
printf '  %-44s %7d ms %7d KiB   (target < 1000 ms)\n' "warm, unchanged (cache hit, already published)" "$warm_ms" "$warm_rss"
printf '  %-44s %7d ms %7d KiB   (target < 3000 ms)\n' "one file layer changed, new version" "$one_ms" "$one_rss"
python3 - "$work/warm.json" "$work/one.json" <<'PY'
import json, sys
for name, path in (("warm", sys.argv[1]), ("one file", sys.argv[2])):
    d = json.load(open(path))
    stages = ", ".join("%s %d" % (s["name"], s["ms"]) for s in d["stages"] if s["status"] != "skipped")
    print("  %-9s tests reused: %-5s already published: %-5s stages (ms): %s" % (name, d.get("tests_reused"), d["already_published"], stages))
PY
