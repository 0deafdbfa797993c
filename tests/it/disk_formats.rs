//! `corebuild disk --format vhd|vmdk`: the cloud import formats are byte-identical run to
//! run (another time, time zone and umask), are what qemu-img says they are, and read
//! back as the very raw disk they were made from.

use crate::util::*;
use std::path::Path;
use std::process::Command;

/// The digests of the busybox tiny base's disks (size auto, 64 MiB), made with Debian 12's
/// qemu-utils 7.2 (the one scripts/setup.sh installs) and e2fsprogs 1.47.0. They change
/// only with a deliberate format change or another qemu-img (or zlib, for the vmdk).
const GOLDEN_TINY_VHD: &str =
    "sha256:f1b4f627b28ecf1e645e07a228003211709db06e233a288ec43f77ba076164e6";
const GOLDEN_TINY_VMDK: &str =
    "sha256:0f9a72da886d2855e5f4e974d307c857328a3e42ad6a37c1b9827d9fe2c2f2a4";

/// `corebuild ARGS --json` under umask 077 and TZ=Asia/Tokyo.
fn cb_elsewhere(ws: &Ws, args: &[&str], out: &Path) -> serde_json::Value {
    let mut c = Command::new("bash");
    c.arg("-c")
        .arg("umask 077 && exec \"$0\" \"$@\"")
        .arg(BIN)
        .args(args)
        .arg("--out")
        .arg(out)
        .arg("--json")
        .env("COREBUILD_STORE", ws.store())
        .env("TZ", "Asia/Tokyo")
        .env_remove("SOURCE_DATE_EPOCH")
        .current_dir(ws.path());
    build_json(&mut c)
}

fn qemu_info(path: &Path, format: &str) -> serde_json::Value {
    serde_json::from_slice(
        &run_ok(
            Command::new(require("qemu-img"))
                .args(["info", "--output=json", "-f", format])
                .arg(path),
        )
        .stdout,
    )
    .unwrap()
}

/// Converts `image` back to raw with qemu-img and compares it with `raw`, byte for byte.
fn assert_reads_back_as(image: &Path, format: &str, raw: &Path) {
    let back = image.with_extension(format!("{format}.raw"));
    run_ok(
        Command::new(require("qemu-img"))
            .args(["convert", "-f", format, "-O", "raw"])
            .arg(image)
            .arg(&back),
    );
    let same = std::fs::read(&back).unwrap() == std::fs::read(raw).unwrap();
    assert!(
        same,
        "{} does not read back as {}",
        image.display(),
        raw.display()
    );
    std::fs::remove_file(back).unwrap();
}

fn sha256_file(p: &Path) -> String {
    corebuild::digest::Digest::of_bytes(&std::fs::read(p).unwrap()).to_string()
}

#[test]
fn vhd_and_vmdk_are_reproducible_checked_and_read_back_as_the_raw_disk_golden() {
    let ws = Ws::new();
    ws.tiny_base();
    let raw = ws.path().join("tiny.raw");
    let r = build_json(
        ws.cb()
            .args([
                "disk",
                "busybox-tiny:1",
                "--format",
                "raw",
                "--json",
                "--out",
            ])
            .arg(&raw),
    );
    let size = r["size"].as_u64().unwrap();
    assert_eq!(size % (1 << 20), 0);

    // VHD: fixed, its footer pinned; qemu-img reads it as vpc of the raw's size.
    let vhd = ws.path().join("a/tiny.vhd");
    std::fs::create_dir_all(vhd.parent().unwrap()).unwrap();
    let v1 = build_json(
        ws.cb()
            .args([
                "disk",
                "busybox-tiny:1",
                "--format",
                "vhd",
                "--json",
                "--out",
            ])
            .arg(&vhd),
    );
    assert_eq!(v1["format"], "vhd");
    assert_eq!(v1["size"], size);
    assert_eq!(v1["file_size"], size + 512);
    assert_eq!(sha256_file(&vhd), v1["digest"].as_str().unwrap());
    let info = qemu_info(&vhd, "vpc");
    assert_eq!(info["format"], "vpc");
    assert_eq!(info["virtual-size"], size);
    let footer = &std::fs::read(&vhd).unwrap()[size as usize..];
    assert_eq!(&footer[..8], b"conectix");
    assert_eq!(&footer[60..64], &2u32.to_be_bytes(), "disk type fixed");
    assert_eq!(&footer[48..56], &size.to_be_bytes(), "current size");
    assert_reads_back_as(&vhd, "vpc", &raw);

    // VMDK: streamOptimized, its CID pinned; qemu-img check is clean.
    let vmdk = ws.path().join("a/tiny.vmdk");
    let k1 = build_json(
        ws.cb()
            .args([
                "disk",
                "busybox-tiny:1",
                "--format",
                "vmdk",
                "--json",
                "--out",
            ])
            .arg(&vmdk),
    );
    assert_eq!(k1["format"], "vmdk");
    assert_eq!(k1["size"], size);
    let info = qemu_info(&vmdk, "vmdk");
    assert_eq!(info["format"], "vmdk");
    assert_eq!(info["virtual-size"], size);
    assert_eq!(
        info["format-specific"]["data"]["create-type"],
        "streamOptimized"
    );
    let check = run_ok(
        Command::new(require("qemu-img"))
            .args(["check", "--output=json", "-f", "vmdk"])
            .arg(&vmdk),
    );
    let c: serde_json::Value = serde_json::from_slice(&check.stdout).unwrap();
    assert_eq!(c["check-errors"], 0, "{c}");
    assert!(
        c.get("corruptions").is_none() && c.get("leaks").is_none(),
        "{c}"
    );
    assert_reads_back_as(&vmdk, "vmdk", &raw);

    // Again, made anew later, under another umask and time zone, to other names: the
    // same bytes (the footer's time and id, the CID and extent name do not follow the run).
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let vhd2 = ws.path().join("other-name.vhd");
    let v2 = cb_elsewhere(
        &ws,
        &["disk", "busybox-tiny:1", "--format", "vhd", "--rebuild"],
        &vhd2,
    );
    assert_eq!(v2["reused"], false);
    assert_eq!(v2["digest"], v1["digest"]);
    assert_eq!(std::fs::read(&vhd2).unwrap(), std::fs::read(&vhd).unwrap());
    let vmdk2 = ws.path().join("other-name.vmdk");
    let k2 = cb_elsewhere(
        &ws,
        &["disk", "busybox-tiny:1", "--format", "vmdk", "--rebuild"],
        &vmdk2,
    );
    assert_eq!(k2["reused"], false);
    assert_eq!(k2["digest"], k1["digest"]);
    assert_eq!(
        std::fs::read(&vmdk2).unwrap(),
        std::fs::read(&vmdk).unwrap()
    );

    // Each format is its own artifact beside the image, with its own media type.
    assert_ne!(v1["tag"], k1["tag"]);
    assert!(v1["tag"].as_str().unwrap().ends_with(".disk-vhd"), "{v1}");
    assert!(k1["tag"].as_str().unwrap().ends_with(".disk-vmdk"), "{k1}");

    assert_eq!(
        (
            v1["digest"].as_str().unwrap(),
            k1["digest"].as_str().unwrap()
        ),
        (GOLDEN_TINY_VHD, GOLDEN_TINY_VMDK),
        "the tiny vhd/vmdk digests changed: a reproducibility regression, or a deliberate \
         format change or another qemu-img (then update the golden digests)"
    );
}

#[test]
fn unsupported_combinations_are_refused_with_a_clear_error() {
    let ws = Ws::new();
    ws.tiny_base();
    for format in ["vhd", "vmdk"] {
        let out = ws
            .cb()
            .args([
                "disk",
                "busybox-tiny:1",
                "--format",
                format,
                "--compression",
                "zstd",
            ])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        let e = stderr(&out);
        assert!(e.contains("--compression applies to qcow2 only"), "{e}");
        assert!(e.contains(&format!("a {format} disk")), "{e}");
    }
    let out = ws
        .cb()
        .args(["disk", "busybox-tiny:1", "--format", "vhdx"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let e = stderr(&out);
    assert!(e.contains("vhdx") && e.contains("vmdk"), "{e}");
    // Nothing was stored by the refused runs.
    let index = std::fs::read_to_string(ws.store().join("index.json")).unwrap();
    assert!(!index.contains(".disk-"), "{index}");
}

#[test]
fn verify_refuses_a_vhd_whose_footer_was_touched() {
    use corebuild::disk::{verify, Format};
    let ws = Ws::new();
    ws.tiny_base();
    let vhd = ws.path().join("tiny.vhd");
    let v = build_json(
        ws.cb()
            .args([
                "disk",
                "busybox-tiny:1",
                "--format",
                "vhd",
                "--json",
                "--out",
            ])
            .arg(&vhd),
    );
    let size = v["size"].as_u64().unwrap();
    verify(&vhd, Format::Vhd, size).unwrap();
    let e = verify(&vhd, Format::Vhd, size + (1 << 20)).unwrap_err();
    assert!(format!("{e:#}").contains("not safe to ship"), "{e:#}");
    // A flipped byte in the footer's reserved area: qemu-img still reads it, we do not.
    let mut bytes = std::fs::read(&vhd).unwrap();
    let at = size as usize + 200;
    bytes[at] ^= 0x01;
    std::fs::write(&vhd, &bytes).unwrap();
    let e = format!("{:#}", verify(&vhd, Format::Vhd, size).unwrap_err());
    assert!(e.contains("checksum"), "{e}");
}
