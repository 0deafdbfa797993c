#!/usr/bin/env bash
# Benchmark for bootable disks, in one run: `corebuild disk` of a VM core build (GPT with
# BIOS boot partition + ESP + ext4 root, GRUB made by the image's own grub-mkimage in
# runc, grub.cfg, the FAT ESP, time reset, qemu-img convert and check, into the store)
# beside the plain pipeline on the same flattened tree (the one `corebuild test` leaves,
# which the export reuses in the release pipeline) (`mke2fs -t ext4 -d` into a file +
# `qemu-img convert -O qcow2`: no partition table, no boot loader, not reproducible);
# then the time from starting qemu (TCG) to the `login:` prompt on the serial console
# under SeaBIOS and under OVMF, booting the exported qcow2 from firmware (no -kernel).
#
#   scripts/bench/boot-disk.sh [RUNS] [BLUEPRINT]     (defaults: 3, blueprints/core-vm)
#
# Needs the Debian mirror once (the blueprint's packages); MINBASE_TARBALL as in
# blueprints/bases/debian-minbase.sh (default target/it-cache/minbase.tar).
# BENCH_QUICK=1: one export run, and the boot under SeaBIOS only. BENCH_STORE=DIR keeps the
# store (the built image) across runs (scripts/bench/all.sh shares one between benchmarks).
source "$(dirname "$0")/lib.sh"
RUNS=${1:-$(quick_or 1 3)}
BP=${2:-blueprints/core-vm}
bench_setup
bench_workdir boot-disk
export COREBUILD_STORE="${BENCH_STORE:-$work/store}"
import_minbase
read -r ref hex < <("$CB" build --locked "$BP" --json | python3 -c 'import json,sys; v=json.load(sys.stdin); print(v["name"]+":"+v["version"], v["digest"][7:])')
# Both sides start from a flattened tree: ours is the store's tree for the image's chain
# of layers (shared by build, test and export; made here by a first export), the plain
# pipeline's an unpack of the same image.
"$CB" disk "$ref" --size 2GiB --json >/dev/null
tree="$work/tree"
"$CB" unpack "$ref" "$tree" >/dev/null
: "$hex"
sync

plain() {
  rm -f "$work/plain.img" "$work/plain.qcow2"
  truncate -s 2046M "$work/plain.img"
  mke2fs -q -F -t ext4 -d "$tree" "$work/plain.img"
  qemu-img convert -f raw -O qcow2 "$work/plain.img" "$work/plain.qcow2"
}
best_plain=999999999; best_ours=999999999; best_part=999999999
for _ in $(seq "$RUNS"); do
  sync; s=$(now_ms); plain; e=$(now_ms)
  [ $((e - s)) -lt "$best_plain" ] && best_plain=$((e - s))
  sync; s=$(now_ms)
  "$CB" disk "$ref" --size 2GiB --rebuild --json > "$work/ours.json"
  e=$(now_ms)
  [ $((e - s)) -lt "$best_ours" ] && best_ours=$((e - s))
  part=$(python3 -c 'import json,sys; t=json.load(open(sys.argv[1]))["timings"]; print(t["total_ms"]-t["unpack_ms"])' "$work/ours.json")
  if [ "$part" -lt "$best_part" ]; then best_part=$part; cp "$work/ours.json" "$work/best.json"; fi
done
qcow2=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["path"])' "$work/ours.json")
boot=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["boot"])' "$work/ours.json")

echo "bootable export of $ref ($boot, 2 GiB qcow2), best of $RUNS, seconds"
printf '%-36s %8s %8s %7s\n' case ours plain ratio
printf '%-36s %8s %8s %7s   (target <= 1.30)\n' "export of the same flattened tree" "$(secs "$best_ours")" "$(secs "$best_plain")" "$(ratio "$best_ours" "$best_plain")"
python3 - "$work/best.json" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))["timings"]
print("    ours by phase (ms): " + ", ".join(f"{k[:-3]} {v}" for k, v in t.items() if k != "total_ms"))
PY

# Time to the login prompt from firmware, one run per firmware (TCG; both at once would
# share the two cores and measure each other).
login_s() {
  python3 - "$@" <<'PY'
import re, subprocess, sys, time
args = sys.argv[1:]
start = time.monotonic()
p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
buf, kernel, found = b"", False, None
while True:
    chunk = p.stdout.read1(4096)
    if not chunk:
        break
    buf = (buf + chunk)[-65536:]
    kernel = kernel or b"Linux version " in buf
    if kernel and re.search(rb"\S login: ", buf):
        found = time.monotonic() - start
        break
    if time.monotonic() - start > 900:
        break
p.kill(); p.wait()
print(f"{found:.1f}" if found else "none")
PY
}
q=(qemu-system-x86_64 -machine q35 -accel tcg -m 1024 -smp 1 -nodefaults -no-user-config
   -display none -serial stdio -monitor none -no-reboot
   -drive "file=$qcow2,if=virtio,format=qcow2,snapshot=on")
cp /usr/share/OVMF/OVMF_VARS_4M.fd "$work/vars.fd"
bios=$(login_s "${q[@]}")
uefi="(not run in quick mode)"
bench_quick || uefi=$(login_s "${q[@]}" -drive if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd \
  -drive "if=pflash,format=raw,file=$work/vars.fd")
echo "TCG boot from firmware to the login: prompt on ttyS0 (seconds): SeaBIOS $bios, OVMF $uefi"
# A boot that never reached the prompt is a failure, not a figure.
[ "$bios" != none ] && [ "$uefi" != none ] || { echo "a boot did not reach the login: prompt" >&2; exit 1; }
