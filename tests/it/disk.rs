//! `corebuild disk` and the boot contract end to end, read back by independent tools:
//! qemu-img (check, info, convert), blkid, debugfs and e2fsck, qemu-system-x86_64.

use crate::util::*;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The qcow2 digest of the busybox tiny base (`corebuild disk busybox-tiny:1`, size auto).
/// It changes only when the disk format changes on purpose, or with e2fsprogs or qemu-img
/// (Debian 12's e2fsprogs 1.47.0 and qemu-utils from bookworm-backports 10.0), or with
/// busybox-static (the build golden test pins that).
const GOLDEN_TINY_QCOW2: &str =
    "sha256:b25cc46a8cfa530f2450c4d0be82b4725a7f4352b2fa67d8ffa171a3ec9f81bd";
const PARTITION_OFFSET: u64 = 1 << 20;

fn disk_json(cmd: &mut Command) -> serde_json::Value {
    build_json(cmd.arg("--json"))
}

fn to_raw(qcow2: &Path) -> PathBuf {
    let raw = qcow2.with_extension("raw");
    run_ok(
        Command::new(require("qemu-img"))
            .args(["convert", "-f", "qcow2", "-O", "raw"])
            .arg(qcow2)
            .arg(&raw),
    );
    raw
}

/// The file system inside a raw disk, as e2fsprogs tools name it.
fn fs_of(raw: &Path) -> String {
    format!("{}?offset={PARTITION_OFFSET}", raw.display())
}

fn debugfs(raw: &Path, request: &str) -> String {
    stdout(&run_ok(
        Command::new(require("debugfs"))
            .arg("-R")
            .arg(request)
            .arg(fs_of(raw)),
    ))
}

/// Mode bits, uid, gid and mtime of every non-symlink path of `flat` as the disk's
/// inodes have them, from one debugfs session.
fn stat_all(raw: &Path, flat: &Path) -> std::collections::HashMap<String, (u32, u32, u32, i64)> {
    let mut cmds = String::new();
    for e in walkdir::WalkDir::new(flat).min_depth(1) {
        let e = e.unwrap();
        if !e.path_is_symlink() {
            let rel = e.path().strip_prefix(flat).unwrap();
            cmds.push_str(&format!("stat \"/{}\"\n", rel.display()));
        }
    }
    let f = raw.with_extension("cmds");
    std::fs::write(&f, cmds).unwrap();
    let out = stdout(&run_ok(
        Command::new(require("debugfs"))
            .arg("-f")
            .arg(&f)
            .arg(fs_of(raw)),
    ));
    let mut map = std::collections::HashMap::new();
    for block in out.split("debugfs: stat \"").skip(1) {
        let path = block.split('"').next().unwrap().to_string();
        let field = |name: &str| -> String {
            let at = block
                .find(name)
                .unwrap_or_else(|| panic!("{name} in {block}"))
                + name.len();
            block[at..].split_whitespace().next().unwrap().to_string()
        };
        let mode = u32::from_str_radix(&field("Mode:"), 8).unwrap();
        let uid = field("User:").parse().unwrap();
        let gid = field("Group:").parse().unwrap();
        let mtime = field("mtime:");
        let mtime = i64::from_str_radix(
            mtime.trim_start_matches("0x").split(':').next().unwrap(),
            16,
        )
        .unwrap();
        map.insert(path, (mode, uid, gid, mtime));
    }
    map
}

fn sha256_file(p: &Path) -> String {
    corebuild::digest::Digest::of_bytes(&std::fs::read(p).unwrap()).to_string()
}

/// qemu-img check is clean and info shows a qcow2 with no backing or data file.
fn assert_safe_qcow2(q: &Path, size: u64) {
    let qemu_img = require("qemu-img");
    let check = Command::new(&qemu_img)
        .args(["check", "--output=json"])
        .arg(q)
        .output()
        .unwrap();
    assert!(check.status.success(), "qemu-img check: {}", stdout(&check));
    let c: serde_json::Value = serde_json::from_slice(&check.stdout).unwrap();
    assert_eq!(c["check-errors"], 0);
    assert!(
        c.get("corruptions").is_none() && c.get("leaks").is_none(),
        "{c}"
    );
    let info: serde_json::Value = serde_json::from_slice(
        &run_ok(
            Command::new(&qemu_img)
                .args(["info", "--output=json"])
                .arg(q),
        )
        .stdout,
    )
    .unwrap();
    assert_eq!(info["format"], "qcow2");
    assert_eq!(info["virtual-size"], size);
    assert!(info.get("backing-filename").is_none(), "{info}");
    assert!(info.get("full-backing-filename").is_none(), "{info}");
    assert!(
        info["format-specific"]["data"].get("data-file").is_none(),
        "{info}"
    );
}

/// A base with what a disk must keep: owners, odd modes, setuid, a hard link, symlinks
/// (short, long, dangling), file capabilities, an empty file, a large directory.
fn rich_base(ws: &Ws) -> String {
    let r = ws.path().join("rich");
    for d in ["etc", "usr/bin", "usr/lib", "var/empty", "tmp", "big"] {
        std::fs::create_dir_all(r.join(d)).unwrap();
    }
    let w = |p: &str, s: &str| std::fs::write(r.join(p), s).unwrap();
    w(
        "etc/os-release",
        "NAME=\"disk test\"\nID=disktest\nVERSION_ID=1\n",
    );
    w("etc/secret", "s3cret\n");
    w("usr/bin/tool", "#!/bin/sh\necho tool\n");
    w("usr/bin/suid", "suid\n");
    w("usr/bin/pinger", "ping\n");
    w("etc/empty", "");
    for i in 0..400 {
        w(&format!("big/entry-{i:04}"), &format!("{i}\n"));
    }
    std::fs::hard_link(r.join("usr/bin/tool"), r.join("usr/bin/tool-again")).unwrap();
    std::os::unix::fs::symlink("usr/lib", r.join("lib")).unwrap();
    std::os::unix::fs::symlink("/nowhere/at/all", r.join("etc/dangling")).unwrap();
    let long = format!("/usr/lib/{}", "x".repeat(90));
    std::os::unix::fs::symlink(&long, r.join("etc/long-link")).unwrap();
    let sh = |c: &str| run_ok(Command::new("sh").arg("-c").arg(c).current_dir(&r));
    sh(
        "chown 1000:42 etc/secret && chmod 0640 etc/secret && chmod 4755 usr/bin/suid \
        && chmod 0755 usr/bin/tool && chmod 0711 var/empty && chmod 1777 tmp",
    );
    run_ok(
        Command::new(require("setcap"))
            .arg("cap_net_raw+ep")
            .arg(r.join("usr/bin/pinger")),
    );
    let out = run_ok(ws.cb().args(["base", "import", "--rootfs"]).arg(&r).args([
        "--name",
        "rich",
        "--version",
        "1",
        "--epoch",
        "1700000000",
    ]));
    stdout(&out).trim().to_string()
}

#[test]
fn disk_of_an_image_matches_its_unpack_and_passes_the_tools() {
    let ws = Ws::new();
    rich_base(&ws);
    let q = ws.path().join("rich.qcow2");
    let v = disk_json(ws.cb().args(["disk", "rich:1", "--out"]).arg(&q));
    let size = v["size"].as_u64().unwrap();
    assert_eq!(size % (64 << 20), 0, "auto sizes are 64 MiB steps: {v}");
    assert_eq!(v["reused"], false);
    assert_safe_qcow2(&q, size);
    // The out file is the blob the store keeps.
    assert_eq!(sha256_file(&q), v["digest"].as_str().unwrap());

    let raw = to_raw(&q);
    let blkid = require("blkid");
    let pt = stdout(&run_ok(Command::new(&blkid).arg("-p").arg(&raw)));
    assert!(pt.contains("PTTYPE=\"gpt\""), "{pt}");
    assert!(
        pt.contains(v["ids"]["disk_guid"].as_str().unwrap()),
        "{pt} {v}"
    );
    let fs = stdout(&run_ok(
        Command::new(&blkid)
            .arg("-p")
            .arg("-O")
            .arg(PARTITION_OFFSET.to_string())
            .arg(&raw),
    ));
    assert!(fs.contains("TYPE=\"ext4\""), "{fs}");
    assert!(
        fs.contains(v["ids"]["filesystem_uuid"].as_str().unwrap()),
        "{fs}"
    );
    assert!(fs.contains(v["ids"]["label"].as_str().unwrap()), "{fs}");
    // Our own reader agrees on the partition: 1 MiB in, Linux root x86-64.
    let table = corebuild::disk::gpt::read(&std::fs::File::open(&raw).unwrap()).unwrap();
    assert_eq!(table.partitions.len(), 1);
    assert_eq!(table.partitions[0].first_lba * 512, PARTITION_OFFSET);
    assert_eq!(
        table.partitions[0].type_guid.to_string(),
        corebuild::disk::gpt::LINUX_ROOT_X86_64
    );
    assert_eq!(
        table.partitions[0].guid.to_string(),
        v["ids"]["partition_guid"].as_str().unwrap()
    );

    let fsck = Command::new(require("e2fsck"))
        .arg("-fn")
        .arg(fs_of(&raw))
        .output()
        .unwrap();
    assert!(
        fsck.status.success(),
        "e2fsck -fn: {}{}",
        stdout(&fsck),
        stderr(&fsck)
    );
    assert_eq!(
        debugfs(&raw, "cat /etc/os-release"),
        "NAME=\"disk test\"\nID=disktest\nVERSION_ID=1\n"
    );

    // Everything in the image, as `corebuild unpack` flattens it, is on the disk alike.
    let flat = ws.path().join("flat");
    run_ok(ws.cb().arg("unpack").arg("rich:1").arg(&flat));
    let dump = ws.path().join("dump");
    std::fs::create_dir(&dump).unwrap();
    debugfs(&raw, &format!("rdump / {}", dump.display()));
    let inodes = stat_all(&raw, &flat);
    let mut checked = 0;
    for e in walkdir::WalkDir::new(&flat).min_depth(1) {
        let e = e.unwrap();
        let rel = e.path().strip_prefix(&flat).unwrap();
        let (a, b) = (
            std::fs::symlink_metadata(e.path()).unwrap(),
            std::fs::symlink_metadata(dump.join(rel))
                .unwrap_or_else(|err| panic!("{} is not on the disk: {err}", rel.display())),
        );
        assert_eq!(a.file_type(), b.file_type(), "{}", rel.display());
        if a.file_type().is_symlink() {
            assert_eq!(
                std::fs::read_link(e.path()).unwrap(),
                std::fs::read_link(dump.join(rel)).unwrap()
            );
        } else {
            // rdump's own chmod and chown lose setuid and sticky bits on the dump, so
            // the inode's mode, owner and mtime come from debugfs `stat`.
            let (mode, uid, gid, mtime) = inodes
                .get(&format!("/{}", rel.display()))
                .unwrap_or_else(|| panic!("no stat of {}", rel.display()));
            assert_eq!(a.mode() & 0o7777, *mode, "mode of {}", rel.display());
            assert_eq!((a.uid(), a.gid()), (*uid, *gid), "{}", rel.display());
            assert_eq!(a.mtime(), *mtime, "mtime of {}", rel.display());
            if a.is_file() {
                assert_eq!(
                    std::fs::read(e.path()).unwrap(),
                    std::fs::read(dump.join(rel)).unwrap()
                );
            }
        }
        checked += 1;
    }
    assert!(checked > 400, "{checked}");
    let secret = std::fs::metadata(dump.join("etc/secret")).unwrap();
    assert_eq!(
        (secret.mode() & 0o7777, secret.uid(), secret.gid()),
        (0o640, 1000, 42)
    );
    let suid = debugfs(&raw, "stat /usr/bin/suid");
    assert!(suid.contains("Mode:  04755"), "{suid}");
    assert_eq!(
        std::fs::metadata(flat.join("usr/bin/suid")).unwrap().mode() & 0o7777,
        0o4755
    );
    // The hard link is one inode on the disk.
    let ls = debugfs(&raw, "ls -l /usr/bin");
    let ino = |name: &str| {
        ls.lines()
            .find(|l| l.trim_end().ends_with(&format!(" {name}")))
            .and_then(|l| l.split_whitespace().next())
            .unwrap_or_else(|| panic!("{name} not in {ls}"))
            .to_string()
    };
    assert_eq!(ino("tool"), ino("tool-again"), "{ls}");
    // The file capability survives; no device nodes appear.
    let cap = debugfs(&raw, "ea_list /usr/bin/pinger");
    assert!(cap.contains("security.capability"), "{cap}");
    let flat_cap = stdout(&run_ok(
        Command::new(require("getcap")).arg(flat.join("usr/bin/pinger")),
    ));
    assert!(flat_cap.contains("cap_net_raw"), "{flat_cap}");
    // Atime, ctime and crtime are the image's epoch, not the time of the export.
    let st = debugfs(&raw, "stat /etc/secret");
    for field in ["ctime", " atime", "mtime", "crtime"] {
        let line = st
            .lines()
            .find(|l| l.trim_start().starts_with(field.trim()))
            .unwrap();
        assert!(line.contains("0x6553f100:00000000"), "{field}: {st}");
    }

    // The artifact is in the store, found from the image digest, and readable by skopeo.
    let tag = v["tag"].as_str().unwrap();
    assert!(tag.ends_with(".disk-qcow2"), "{tag}");
    let m = run_ok(
        Command::new(require("skopeo"))
            .args(["inspect", "--raw"])
            .arg(format!("oci:{}:{tag}", ws.store().display())),
    );
    let m: serde_json::Value = serde_json::from_slice(&m.stdout).unwrap();
    assert_eq!(m["artifactType"], "application/vnd.corebuild.disk.qcow2.v1");
    assert_eq!(m["subject"]["digest"], v["image"]);
    assert_eq!(m["layers"][0]["digest"], v["digest"]);
    assert_eq!(
        m["config"]["mediaType"],
        "application/vnd.oci.empty.v1+json"
    );
    // Asking again finds it instead of making it again; fsck is happy with the store.
    let again = disk_json(ws.cb().args(["disk", "rich:1"]));
    assert_eq!(again["reused"], true);
    assert_eq!(again["digest"], v["digest"]);
    run_ok(ws.cb().arg("fsck"));
}

#[test]
fn exports_are_byte_identical_across_stores_paths_and_times_golden() {
    let (a, b) = (Ws::new(), Ws::new());
    a.tiny_base();
    let qa = a.path().join("one/tiny.qcow2");
    std::fs::create_dir_all(qa.parent().unwrap()).unwrap();
    let va = disk_json(a.cb().args(["disk", "busybox-tiny:1", "--out"]).arg(&qa));
    // Another store, another path, later, another umask.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    b.tiny_base();
    let qb = b.path().join("tiny.qcow2");
    let vb = disk_json(
        b.cb()
            .env("TZ", "Asia/Tokyo")
            .args(["disk", "busybox-tiny:1", "--out"])
            .arg(&qb),
    );
    assert_eq!(va["image"], vb["image"]);
    assert_eq!(sha256_file(&qa), sha256_file(&qb));
    assert_eq!(va["digest"], vb["digest"]);
    // An image of several layers, where later layers add files to directories of the
    // base without carrying the directory: the flatten stamps those with the clock.
    for ws in [&a, &b] {
        let bp = ws.fixture("tiny");
        run_ok(ws.cb().arg("build").arg(&bp));
    }
    let ta = disk_json(a.cb().args(["disk", "tiny-test:0.1.0", "--format", "raw"]));
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let tb = disk_json(b.cb().args(["disk", "tiny-test:0.1.0", "--format", "raw"]));
    assert_eq!(ta["digest"], tb["digest"]);
    let etc = debugfs(Path::new(ta["path"].as_str().unwrap()), "stat /etc");
    assert!(etc.contains("mtime: 0x6553f100:00000000"), "{etc}");
    assert_eq!(
        va["digest"], GOLDEN_TINY_QCOW2,
        "the tiny qcow2's digest changed: a reproducibility regression, or a deliberate format \
         change (then update GOLDEN_TINY_QCOW2)"
    );
    // --rebuild in the same store makes it again, the same; raw is deterministic too.
    let again = disk_json(a.cb().args(["disk", "busybox-tiny:1", "--rebuild"]));
    assert_eq!(again["reused"], false);
    assert_eq!(again["digest"], va["digest"]);
    let ra = disk_json(a.cb().args([
        "disk",
        "busybox-tiny:1",
        "--format",
        "raw",
        "--size",
        "32MiB",
    ]));
    let rb = disk_json(b.cb().args([
        "disk",
        "busybox-tiny:1",
        "--format",
        "raw",
        "--size",
        "32MiB",
    ]));
    assert_eq!(ra["digest"], rb["digest"]);
    assert_eq!(ra["file_size"], 32 << 20);
    // zstd-compressed clusters too (qemu-img writes them in order).
    let za = disk_json(
        a.cb()
            .args(["disk", "busybox-tiny:1", "--compression", "zstd"]),
    );
    let zb = disk_json(
        b.cb()
            .args(["disk", "busybox-tiny:1", "--compression", "zstd"]),
    );
    assert_eq!(za["digest"], zb["digest"]);
    assert_ne!(za["digest"], va["digest"]);
}

#[test]
fn a_size_too_small_names_the_size_that_works() {
    let ws = Ws::new();
    ws.tiny_base();
    let o = ws
        .cb()
        .args(["disk", "busybox-tiny:1", "--size", "4MiB"])
        .output()
        .unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("too small"), "{err}");
    let needed = err
        .split("ask for size = \"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or_else(|| panic!("no size named in: {err}"))
        .to_string();
    assert!(needed.ends_with("MiB"), "{err}");
    let v = disk_json(ws.cb().args(["disk", "busybox-tiny:1", "--size", &needed]));
    assert_eq!(
        v["size"].as_u64().unwrap(),
        needed.trim_end_matches("MiB").parse::<u64>().unwrap() << 20
    );
    // Not a whole number of MiB, and a bad unit, are refused with the fix.
    let o = ws
        .cb()
        .args(["disk", "busybox-tiny:1", "--size", "40000KiB"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("whole number of MiB"), "{}", stderr(&o));
}

#[test]
fn a_directory_of_18k_entries_fits_and_checks_clean() {
    let ws = Ws::new();
    let r = ws.path().join("wide");
    std::fs::create_dir_all(r.join("d")).unwrap();
    for i in 0..18_000 {
        std::fs::write(r.join(format!("d/f{i:05}")), "").unwrap();
    }
    run_ok(ws.cb().args(["base", "import", "--rootfs"]).arg(&r).args([
        "--name",
        "wide",
        "--version",
        "1",
        "--epoch",
        "1700000000",
    ]));
    let q = ws.path().join("wide.qcow2");
    let v = disk_json(ws.cb().args(["disk", "wide:1", "--out"]).arg(&q));
    assert_safe_qcow2(&q, v["size"].as_u64().unwrap());
    let raw = to_raw(&q);
    let fsck = Command::new(require("e2fsck"))
        .arg("-fn")
        .arg(fs_of(&raw))
        .output()
        .unwrap();
    assert!(fsck.status.success(), "{}", stdout(&fsck));
    assert!(debugfs(&raw, "ls /d").contains("f17999"));
}
