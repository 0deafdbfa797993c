//! Tests of `scan_dir` and `files_from_host` on real trees (run as root: chown, mknod).

use super::*;
use crate::layer::compress::Compression;
use crate::layer::writer::{write_layer, LayerOptions};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

fn set_mtime(p: &Path, secs: i64) {
    let t = rustix::fs::Timespec {
        tv_sec: secs,
        tv_nsec: 0,
    };
    let ts = rustix::fs::Timestamps {
        last_access: t,
        last_modification: t,
    };
    rustix::fs::utimensat(
        rustix::fs::CWD,
        p,
        &ts,
        rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
    )
    .unwrap();
}

/// A small rootfs with one of everything `scan_dir` must handle.
pub(crate) fn rootfs(dir: &Path) -> PathBuf {
    let r = dir.join("rootfs");
    std::fs::create_dir_all(r.join("usr/bin")).unwrap();
    std::fs::create_dir_all(r.join("etc")).unwrap();
    std::fs::create_dir_all(r.join("dev")).unwrap();
    std::fs::write(r.join("etc/motd"), b"welcome\n").unwrap();
    std::fs::write(r.join("usr/bin/ping"), b"\x7fELF ping").unwrap();
    std::fs::set_permissions(
        r.join("usr/bin/ping"),
        std::fs::Permissions::from_mode(0o4755),
    )
    .unwrap();
    std::fs::hard_link(r.join("usr/bin/ping"), r.join("usr/bin/ping4")).unwrap();
    std::fs::hard_link(r.join("usr/bin/ping"), r.join("usr/bin/aping")).unwrap();
    std::os::unix::fs::symlink("ping", r.join("usr/bin/ping6")).unwrap();
    std::os::unix::fs::symlink("usr/bin", r.join("bin")).unwrap();
    rustix::fs::mknodat(
        rustix::fs::CWD,
        r.join("initctl"),
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
    rustix::fs::chownat(
        rustix::fs::CWD,
        r.join("etc/motd"),
        Some(rustix::fs::Uid::from_raw(1000)),
        Some(rustix::fs::Gid::from_raw(1001)),
        rustix::fs::AtFlags::empty(),
    )
    .unwrap();
    rustix::fs::fsetxattr(
        std::fs::File::open(r.join("usr/bin/ping")).unwrap(),
        "security.capability",
        &[
            1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ],
        rustix::fs::XattrFlags::empty(),
    )
    .unwrap();
    // user.* xattrs describe the host and are dropped (tmpfs may refuse them: fine).
    let _ = rustix::fs::fsetxattr(
        std::fs::File::open(r.join("etc/motd")).unwrap(),
        "user.origin",
        b"host",
        rustix::fs::XattrFlags::empty(),
    );
    rustix::fs::mknodat(
        rustix::fs::CWD,
        r.join("dev/null"),
        rustix::fs::FileType::CharacterDevice,
        rustix::fs::Mode::from_raw_mode(0o666),
        rustix::fs::makedev(1, 3),
    )
    .unwrap();
    let _sock = std::os::unix::net::UnixListener::bind(r.join("sock")).unwrap();
    set_mtime(&r.join("etc/motd"), 1_234_567);
    r
}

#[test]
fn scan_keeps_metadata_links_fifos_and_capabilities() {
    let tmp = tempfile::tempdir().unwrap();
    let r = rootfs(tmp.path());
    let scan = scan_dir_report(&r).unwrap();
    let by: std::collections::HashMap<&str, &Entry> =
        scan.entries.iter().map(|e| (e.path.as_str(), e)).collect();
    let paths: Vec<&str> = scan.entries.iter().map(|e| e.path.as_str()).collect();
    let mut sorted = paths.clone();
    sorted.sort();
    assert_eq!(paths, sorted);
    assert_eq!(
        scan.skipped,
        vec![
            Skipped {
                path: "dev/null".into(),
                kind: "character device"
            },
            Skipped {
                path: "sock".into(),
                kind: "socket"
            },
        ]
    );
    let motd = by["etc/motd"];
    assert_eq!((motd.uid, motd.gid, motd.mtime), (1000, 1001, 1_234_567));
    assert!(motd.xattrs.is_empty(), "user.* dropped");
    // The first name in sorted order keeps the data; the others link to it.
    assert!(matches!(
        by["usr/bin/aping"].kind,
        EntryKind::File { size: 9, .. }
    ));
    assert_eq!(by["usr/bin/aping"].mode, 0o4755);
    assert!(by["usr/bin/aping"].xattrs.contains_key(KEPT_XATTR));
    for l in ["usr/bin/ping", "usr/bin/ping4"] {
        assert_eq!(
            by[l].kind,
            EntryKind::Hardlink {
                target: "usr/bin/aping".into()
            }
        );
    }
    assert_eq!(
        by["usr/bin/ping6"].kind,
        EntryKind::Symlink {
            target: "ping".into()
        }
    );
    assert_eq!(
        by["bin"].kind,
        EntryKind::Symlink {
            target: "usr/bin".into()
        }
    );
    assert_eq!(by["initctl"].kind, EntryKind::Fifo);
    assert_eq!(by["initctl"].mode, 0o600);
    assert_eq!(by["dev"].kind, EntryKind::Dir);
    // And the scan is a valid layer.
    let o = LayerOptions {
        compression: Compression::Gzip,
        epoch: 2_000_000_000,
    };
    write_layer(scan.entries, &o, std::io::sink()).unwrap();
}

#[test]
fn scan_refuses_names_a_layer_cannot_hold() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join(".wh.sneaky"), b"").unwrap();
    let err = scan_dir(tmp.path()).unwrap_err();
    assert!(format!("{err:#}").contains(".wh.sneaky"), "{err:#}");
}

/// Two checkouts of the same sources that differ in umask, mtime, owner and non-exec
/// mode bits give the same layer.
#[test]
fn files_from_host_do_not_depend_on_the_checkout() {
    let tmp = tempfile::tempdir().unwrap();
    let mut digests = Vec::new();
    for (i, (file_mode, mtime, owner)) in [(0o644, 1_000_000, 0), (0o600, 1_700_000_123, 1234)]
        .into_iter()
        .enumerate()
    {
        let src = tmp.path().join(format!("checkout{i}"));
        std::fs::create_dir_all(src.join("conf.d")).unwrap();
        std::fs::write(src.join("app.conf"), b"port = 80\n").unwrap();
        std::fs::write(src.join("conf.d/extra.conf"), b"debug = false\n").unwrap();
        std::fs::write(src.join("run.sh"), b"#!/bin/sh\n").unwrap();
        std::os::unix::fs::symlink("app.conf", src.join("default.conf")).unwrap();
        for f in ["app.conf", "conf.d/extra.conf"] {
            std::fs::set_permissions(src.join(f), std::fs::Permissions::from_mode(file_mode))
                .unwrap();
        }
        let exec = if i == 0 { 0o755 } else { 0o700 };
        std::fs::set_permissions(src.join("run.sh"), std::fs::Permissions::from_mode(exec))
            .unwrap();
        std::fs::set_permissions(
            src.join("conf.d"),
            std::fs::Permissions::from_mode(0o700 + 0o55 * i as u32),
        )
        .unwrap();
        for f in [
            "app.conf",
            "conf.d/extra.conf",
            "run.sh",
            "conf.d",
            "default.conf",
            "",
        ] {
            set_mtime(&src.join(f), mtime);
            rustix::fs::chownat(
                rustix::fs::CWD,
                src.join(f),
                Some(rustix::fs::Uid::from_raw(owner)),
                Some(rustix::fs::Gid::from_raw(owner)),
                rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
            )
            .unwrap();
        }
        let mut entries = files_from_host(&src, "/etc/app", None, 0, 0).unwrap();
        entries.extend(
            files_from_host(
                &src.join("app.conf"),
                "/etc/single.conf",
                Some(0o640),
                10,
                20,
            )
            .unwrap(),
        );
        let o = LayerOptions {
            compression: Compression::Zstd,
            epoch: 1_600_000_000,
        };
        let (_, info) = write_layer(entries.clone(), &o, std::io::sink()).unwrap();
        digests.push(info.digest);
        let by: std::collections::HashMap<&str, &Entry> =
            entries.iter().map(|e| (e.path.as_str(), e)).collect();
        assert_eq!(by["etc/app"].mode, 0o755);
        assert_eq!(by["etc/app/conf.d"].mode, 0o755);
        assert_eq!(by["etc/app/app.conf"].mode, 0o644);
        assert_eq!(by["etc/app/run.sh"].mode, 0o755);
        assert_eq!(
            by["etc/app/default.conf"].kind,
            EntryKind::Symlink {
                target: "app.conf".into()
            }
        );
        assert_eq!(
            (
                by["etc/single.conf"].mode,
                by["etc/single.conf"].uid,
                by["etc/single.conf"].gid
            ),
            (0o640, 10, 20)
        );
    }
    assert_eq!(digests[0], digests[1]);
}

#[test]
fn files_from_host_refuses_bad_destinations_and_special_files() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("f"), b"x").unwrap();
    assert!(files_from_host(&tmp.path().join("f"), "../etc", None, 0, 0).is_err());
    assert!(files_from_host(&tmp.path().join("missing"), "/etc/x", None, 0, 0).is_err());
    assert!(files_from_host(&tmp.path().join("f"), "/etc/x", Some(0o100644), 0, 0).is_err());
    rustix::fs::mknodat(
        rustix::fs::CWD,
        tmp.path().join("fifo"),
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
    let err = files_from_host(tmp.path(), "/srv", None, 0, 0).unwrap_err();
    assert!(format!("{err:#}").contains("fifo"), "{err:#}");
}
