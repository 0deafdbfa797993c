//! Bootable disks: GRUB from the image for BIOS and UEFI, read back by independent tools
//! (sgdisk, fsck.fat, mtools, e2fsck, debugfs, qemu-img), byte-identical wherever they are
//! made, refused with a clear error when the image lacks what a boot mode needs, and
//! booted from firmware (SeaBIOS and OVMF) with no `-kernel`.

use crate::util::*;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The qcow2 digest of the GRUB test image's bootable disk (512 MiB, bios+uefi).
const GOLDEN_GRUB_QCOW2: &str =
    "sha256:24a84abc63161ada94feac633ac2c2e864b0670dec1362a97f001f0fb643cba5";

const GRUB_BLUEPRINT: &str = r#"name = "grub-test"
version = "0.1.0"
description = "GRUB for BIOS and UEFI from Debian, and two stand-in kernels"
epoch = 1735689600

[base]
ref = "debian-minbase:12"

[[layer]]
packages = ["grub-pc-bin", "grub-efi-amd64-bin"]

[[layer]]
files = [
  { src = "files/boot", dest = "/boot", mode = "0644" },
]

[outputs]
kernel_cmdline = ["quiet"]
raw = { size = "512MiB" }
qcow2 = { size = "512MiB", kernel_cmdline = ["net.ifnames=0"] }
"#;

/// A blueprint whose image has GRUB and two fake kernels (enough to make the disk; not
/// to boot it).
fn grub_blueprint(ws: &Ws) -> PathBuf {
    let bp = ws.blueprint("grub-test", GRUB_BLUEPRINT);
    let boot = bp.join("files/boot");
    std::fs::create_dir_all(&boot).unwrap();
    for v in ["6.1.0-9-test", "6.1.0-10-test"] {
        std::fs::write(boot.join(format!("vmlinuz-{v}")), format!("kernel {v}")).unwrap();
        std::fs::write(boot.join(format!("initrd.img-{v}")), format!("initrd {v}")).unwrap();
    }
    bp
}

fn disk_json(cmd: &mut Command) -> serde_json::Value {
    serde_json::from_slice(&run_ok(cmd.arg("--json")).stdout).unwrap()
}

fn sha256_file(p: &Path) -> String {
    use sha2::Digest as _;
    format!(
        "sha256:{}",
        hex::encode(sha2::Sha256::digest(std::fs::read(p).unwrap()))
    )
}

/// `len` bytes of `file` from `offset`, as a new file beside it.
fn extract(file: &Path, offset: u64, len: u64, name: &str) -> PathBuf {
    use std::io::{Read, Seek};
    let mut f = std::fs::File::open(file).unwrap();
    f.seek(std::io::SeekFrom::Start(offset)).unwrap();
    let mut buf = vec![0u8; len as usize];
    f.read_exact(&mut buf).unwrap();
    let out = file.with_file_name(name);
    std::fs::write(&out, buf).unwrap();
    out
}

const MIB: u64 = 1 << 20;

#[test]
fn a_bootable_disk_has_grub_for_both_firmwares_and_passes_the_tools() {
    let ws = Ws::new();
    ws.minbase();
    let bp = grub_blueprint(&ws);
    run_ok(ws.cb().arg("build").arg(&bp));
    let v = disk_json(ws.cb().args([
        "disk",
        "grub-test:0.1.0",
        "--format",
        "raw",
        "--size",
        "512MiB",
        "--kernel-cmdline",
        "quiet",
    ]));
    assert_eq!(v["boot"], "bios+uefi", "{v}");
    let raw = PathBuf::from(v["path"].as_str().unwrap());
    let part = v["ids"]["partition_guid"].as_str().unwrap().to_string();

    let sg = run_ok(Command::new(require("sgdisk")).arg("-v").arg(&raw));
    assert!(stdout(&sg).contains("No problems found"), "{}", stdout(&sg));
    let table = stdout(&run_ok(Command::new(require("sgdisk")).arg("-p").arg(&raw)));
    for (n, start, code) in [(1, 2048, "EF02"), (2, 4096, "EF00"), (3, 264_192, "8304")] {
        let line = table
            .lines()
            .find(|l| l.split_whitespace().next() == Some(&n.to_string()))
            .unwrap_or_else(|| panic!("no partition {n}: {table}"));
        assert!(
            line.contains(&start.to_string()) && line.contains(code),
            "{line}"
        );
    }

    // The ESP: FAT32 labelled ESP with GRUB's EFI image at the removable-media path.
    let esp = extract(&raw, 2 * MIB, 127 * MIB, "esp.img");
    run_ok(Command::new(require("fsck.fat")).arg("-n").arg(&esp));
    let efi = run_ok(
        Command::new(require("mtype"))
            .env("MTOOLS_SKIP_CHECK", "1")
            .arg("-i")
            .arg(&esp)
            .arg("::/EFI/BOOT/BOOTX64.EFI"),
    );
    assert_eq!(&efi.stdout[..2], b"MZ", "BOOTX64.EFI is not a PE image");
    let blkid = stdout(&run_ok(Command::new(require("blkid")).arg("-p").arg(&esp)));
    assert!(
        blkid.contains("LABEL=\"ESP\"") && blkid.contains("FAT32"),
        "{blkid}"
    );

    // The root: clean ext4, labelled for fstab, with grub.cfg naming the disk's own root.
    let root = extract(&raw, 129 * MIB, 512 * MIB - 130 * MIB, "root.img");
    run_ok(Command::new(require("e2fsck")).arg("-fn").arg(&root));
    let cfg = stdout(&run_ok(
        Command::new(require("debugfs"))
            .args(["-R", "cat /boot/grub/grub.cfg"])
            .arg(&root),
    ));
    let newest = cfg.find("vmlinuz-6.1.0-10-test").expect("newest kernel");
    assert!(newest < cfg.find("vmlinuz-6.1.0-9-test").unwrap(), "{cfg}");
    assert!(
        cfg.contains(&format!(
            "root=PARTUUID={part} ro console=tty0 console=ttyS0,115200 quiet\n"
        )),
        "{cfg}"
    );
    let stat = stdout(&run_ok(
        Command::new(require("debugfs"))
            .args(["-R", "stat /boot/grub/grub.cfg"])
            .arg(&root),
    ));
    assert!(
        stat.contains("Mode:  0644") && stat.contains("User:     0"),
        "{stat}"
    );
    assert!(stat.contains("mtime: 0x67748580"), "{stat}");
    let label = stdout(&run_ok(Command::new(require("blkid")).arg("-p").arg(&root)));
    assert!(label.contains("LABEL=\"corebuild-root\""), "{label}");

    // BIOS: boot.img's code in the MBR pointing at core.img in the BIOS boot partition,
    // and core.img pointing at its own second sector.
    let mbr = std::fs::read(&raw).unwrap();
    assert_eq!(
        u64::from_le_bytes(mbr[0x5c..0x64].try_into().unwrap()),
        2048
    );
    assert_eq!(&mbr[510..512], &[0x55, 0xAA]);
    assert_ne!(&mbr[..2], &[0, 0], "no boot code in the MBR");
    let core = &mbr[MIB as usize..(MIB + 512) as usize];
    assert_eq!(u64::from_le_bytes(core[500..508].try_into().unwrap()), 2049);
    drop(mbr);

    // The blueprint's qcow2 output: its own kernel parameters after the common ones.
    let q = disk_json(ws.cb().args([
        "disk",
        "grub-test:0.1.0",
        "--size",
        "512MiB",
        "--kernel-cmdline",
        "quiet",
        "--kernel-cmdline",
        "net.ifnames=0",
    ]));
    let qpath = q["path"].as_str().unwrap();
    let check = run_ok(Command::new(require("qemu-img")).args(["check", "-f", "qcow2", qpath]));
    assert!(stdout(&check).contains("No errors"), "{}", stdout(&check));
}

#[test]
fn bootable_disks_are_byte_identical_across_paths_zones_umasks_and_cpus_golden() {
    let (a, b) = (Ws::new(), Ws::new());
    for ws in [&a, &b] {
        ws.minbase();
        run_ok(ws.cb().arg("build").arg(grub_blueprint(ws)));
    }
    let args = [
        "disk",
        "grub-test:0.1.0",
        "--size",
        "512MiB",
        "--kernel-cmdline",
        "quiet",
    ];
    let va = disk_json(a.cb().args(args));
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let mut cmd = Command::new(require("taskset"));
    cmd.args(["-c", "0", "sh", "-c", "umask 077; exec \"$0\" \"$@\"", BIN])
        .args(args)
        .env("COREBUILD_STORE", b.store())
        .env("TZ", "Asia/Tokyo")
        .current_dir(b.path());
    let vb = disk_json(&mut cmd);
    assert_eq!(va["image"], vb["image"]);
    assert_eq!(va["digest"], vb["digest"]);
    let again = disk_json(a.cb().args(args).arg("--rebuild"));
    assert_eq!(again["reused"], false);
    assert_eq!(again["digest"], va["digest"]);
    assert_eq!(
        sha256_file(Path::new(va["path"].as_str().unwrap())),
        va["digest"].as_str().unwrap()
    );
    assert_eq!(
        va["digest"], GOLDEN_GRUB_QCOW2,
        "the bootable qcow2's digest changed: a reproducibility regression, or a deliberate \
         format change (then update GOLDEN_GRUB_QCOW2)"
    );
}

#[test]
fn a_boot_mode_the_image_cannot_have_exits_2_naming_what_to_add() {
    let ws = Ws::new();
    ws.minbase();
    // Plan time: nothing is built.
    let bp = ws.blueprint(
        "no-grub",
        "name = \"no-grub\"\nversion = \"0.1.0\"\ndescription = \"d\"\n\
         [base]\nref = \"debian-minbase:12\"\n\
         [[layer]]\npackages = [\"linux-image-cloud-amd64\"]\n\
         [outputs]\nqcow2 = { size = \"2GiB\", boot = \"uefi\" }\n",
    );
    let o = ws.cb().arg("build").arg(&bp).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("\"grub-efi-amd64-bin\"") && !err.contains("grub-pc-bin"),
        "{err}"
    );
    assert!(err.contains("no-grub/blueprint.toml"), "{err}");
    assert!(!stdout(&run_ok(ws.cb().arg("images"))).contains("no-grub"));
    // Export time, on an image without GRUB or a kernel.
    ws.tiny_base();
    let o = ws
        .cb()
        .args(["disk", "busybox-tiny:1", "--boot", "uefi"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("grub-efi-amd64-bin"), "{}", stderr(&o));
    // A kernel parameter that could break out of grub.cfg is refused, nothing stored.
    let o = ws
        .cb()
        .args(["disk", "busybox-tiny:1", "--kernel-cmdline", "quiet}"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("not one plain kernel parameter"),
        "{}",
        stderr(&o)
    );
    // A bad mode is a usage error.
    let o = ws
        .cb()
        .args(["disk", "busybox-tiny:1", "--boot", "efi"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

#[test]
fn a_boot_link_to_the_hosts_boot_never_reaches_the_host_kernel() {
    let ws = Ws::new();
    ws.minbase();
    // The "host" has a kernel; the image's /boot is an absolute link to that directory.
    let host_boot = ws.path().join("host-boot");
    std::fs::create_dir_all(&host_boot).unwrap();
    std::fs::write(host_boot.join("vmlinuz-6.6.6-host"), "host kernel").unwrap();
    std::fs::write(host_boot.join("initrd.img-6.6.6-host"), "host initrd").unwrap();
    let bp = ws.blueprint(
        "boot-link",
        &"name = \"boot-link\"\nversion = \"0.1.0\"\ndescription = \"d\"\n\
         [base]\nref = \"debian-minbase:12\"\n\
         [[layer]]\npackages = [\"grub-pc-bin\", \"grub-efi-amd64-bin\"]\n\
         [[layer]]\nrun = [\"sh\", \"-c\", \"rm -rf /boot && ln -s HOST /boot\"]\n"
            .replace("HOST", &host_boot.display().to_string()),
    );
    run_ok(ws.cb().arg("build").arg(&bp));
    let o = ws
        .cb()
        .args(["disk", "boot-link:0.1.0", "--boot", "bios+uefi"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("no kernel"), "{}", stderr(&o));
    // Left to the default, the disk has no boot loader rather than the host's kernel.
    let v = disk_json(ws.cb().args(["disk", "boot-link:0.1.0"]));
    assert_eq!(v["boot"], "none", "{v}");
}
