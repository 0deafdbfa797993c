//! Tests of the apply semantics on well-formed layers (the hostile corpus is in
//! `apply/hostile_tests.rs`).

use super::*;
use crate::digest::{Digest, HashingReader};
use crate::layer::entry::{Entry, EntryKind, FileSource};
use crate::layer::scan::{scan_dir, tests::rootfs};
use crate::layer::testutil::{RawTar, H};
use crate::layer::writer::{write_layer, LayerOptions};
use std::os::unix::fs::MetadataExt;

/// Entries without their content source, for comparing two trees.
fn shape(entries: Vec<Entry>) -> Vec<Entry> {
    entries
        .into_iter()
        .map(|mut e| {
            if let EntryKind::File { size, .. } = e.kind {
                e.kind = EntryKind::File {
                    source: FileSource::Bytes(Vec::new().into()),
                    size,
                };
            }
            e
        })
        .collect()
}

fn content(root: &Path, entries: &[Entry]) -> Vec<(String, Vec<u8>)> {
    entries
        .iter()
        .filter(|e| matches!(e.kind, EntryKind::File { .. }))
        .map(|e| (e.path.clone(), std::fs::read(root.join(&e.path)).unwrap()))
        .collect()
}

#[test]
fn round_trip_write_apply_scan_is_identity() {
    let tmp = tempfile::tempdir().unwrap();
    let src = rootfs(tmp.path());
    let entries = scan_dir(&src).unwrap();
    for c in [Compression::Gzip, Compression::Zstd, Compression::None] {
        let o = LayerOptions {
            compression: c,
            epoch: 4_000_000_000,
        };
        let (blob, info) = write_layer(entries.clone(), &o, Vec::new()).unwrap();
        let target = tmp.path().join(format!("target-{c:?}"));
        std::fs::create_dir(&target).unwrap();
        let stats = apply_layers([(c, &blob[..])], &target, &ApplyOptions::default()).unwrap();
        assert_eq!(stats[0].entries, entries.len() as u64);
        let back = scan_dir(&target).unwrap();
        assert_eq!(shape(back.clone()), shape(entries.clone()), "{c:?}");
        assert_eq!(content(&target, &back), content(&src, &entries));
        // Hard links are links again.
        let a = std::fs::metadata(target.join("usr/bin/aping")).unwrap();
        let b = std::fs::metadata(target.join("usr/bin/ping")).unwrap();
        assert_eq!(a.ino(), b.ino());
        // And writing the applied tree again gives the same layer.
        let (_, again) = write_layer(back, &o, std::io::sink()).unwrap();
        assert_eq!(again, info);
    }
}

#[test]
fn apply_reads_the_whole_stream_so_the_diff_id_can_be_checked() {
    let tmp = tempfile::tempdir().unwrap();
    let o = LayerOptions {
        compression: Compression::None,
        epoch: 0,
    };
    let (mut blob, info) = write_layer(
        vec![Entry::bytes("f", b"x".to_vec(), 0o644)],
        &o,
        Vec::new(),
    )
    .unwrap();
    let mut hr = HashingReader::new(&blob[..]);
    apply_layer(&mut hr, tmp.path(), &ApplyOptions::default()).unwrap();
    assert_eq!(hr.finish().0, info.diff_id);
    // GNU tar pads to 10 KiB records; the padding is read too.
    blob.resize(10240, 0);
    let mut hr = HashingReader::new(&blob[..]);
    let t2 = tempfile::tempdir().unwrap();
    apply_layer(&mut hr, t2.path(), &ApplyOptions::default()).unwrap();
    assert_eq!(hr.finish().0, Digest::of_bytes(&blob));
}

#[test]
fn whiteouts_and_opaque_directories_follow_the_oci_rules() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let lower = RawTar::new()
        .add(H::dir("a"), b"")
        .add(H::file("a/gone"), b"1")
        .add(H::file("a/kept"), b"2")
        .add(H::dir("a/sub"), b"")
        .add(H::file("a/sub/deep"), b"3")
        .add(H::dir("o"), b"")
        .add(H::file("o/lower"), b"4")
        .add(H::dir("o/keepdir"), b"")
        .add(H::file("o/keepdir/lower"), b"5")
        .add(H::dir("p"), b"")
        .add(H::file("p/lower"), b"6")
        .finish();
    // Opaque `o` comes after this layer's own children; opaque `p` before them.
    let upper = RawTar::new()
        .add(H::file("a/.wh.gone"), b"")
        .add(H::file("a/.wh.sub"), b"")
        .add(H::file("a/.wh.never-existed"), b"")
        .add(H::dir("o/keepdir"), b"")
        .add(H::file("o/keepdir/new"), b"7")
        .add(H::file("o/new"), b"8")
        .add(H::file("o/.wh..wh..opq"), b"")
        .add(H::file("p/.wh..wh..opq"), b"")
        .add(H::file("p/new"), b"9")
        .add(H::file("same"), b"10")
        .add(H::file(".wh.same"), b"")
        .finish();
    apply_layer(&lower[..], t, &ApplyOptions::default()).unwrap();
    apply_layer(&upper[..], t, &ApplyOptions::default()).unwrap();
    let mut names: Vec<String> = scan_dir(t).unwrap().into_iter().map(|e| e.path).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "a",
            "a/kept",
            "o",
            "o/keepdir",
            "o/keepdir/new",
            "o/new",
            "p",
            "p/new",
            "same"
        ]
    );
}

#[test]
fn entries_replace_non_directories_and_directories_merge() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let lower = RawTar::new()
        .add(H::dir("d"), b"")
        .add(H::file("d/old"), b"old")
        .add(H::file("f"), b"file")
        .add(H::symlink("s", "f"), b"")
        .add(H::dir("x"), b"")
        .add(H::file("x/inner"), b"")
        .finish();
    let upper = RawTar::new()
        .add(
            H {
                mode: 0o700,
                uid: 33,
                gid: 33,
                mtime: 42,
                ..H::dir("d")
            },
            b"",
        )
        .add(H::file("d/new"), b"new")
        .add(H::dir("f"), b"")
        .add(H::file("s"), b"now a file")
        .add(H::file("x"), b"dir replaced by a file")
        .finish();
    apply_layer(&lower[..], t, &ApplyOptions::default()).unwrap();
    apply_layer(&upper[..], t, &ApplyOptions::default()).unwrap();
    let d = std::fs::metadata(t.join("d")).unwrap();
    assert_eq!(
        (d.mode() & 0o7777, d.uid(), d.gid(), d.mtime()),
        (0o700, 33, 33, 42)
    );
    assert!(t.join("d/old").exists() && t.join("d/new").exists());
    assert!(t.join("f").is_dir());
    assert_eq!(std::fs::read(t.join("s")).unwrap(), b"now a file");
    assert_eq!(
        std::fs::read(t.join("x")).unwrap(),
        b"dir replaced by a file"
    );
}

#[test]
fn directory_metadata_is_set_after_children_and_modes_ignore_the_umask() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let layer = RawTar::new()
        .add(
            H {
                mode: 0o555,
                mtime: 77,
                ..H::dir("ro")
            },
            b"",
        )
        .add(
            H {
                mode: 0o4755,
                mtime: 78,
                ..H::file("ro/suid")
            },
            b"x",
        )
        .add(H::file("implicit/parent/file"), b"y")
        .finish();
    let old = rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    let r = apply_layer(&layer[..], t, &ApplyOptions::default());
    rustix::process::umask(old);
    r.unwrap();
    let ro = std::fs::metadata(t.join("ro")).unwrap();
    assert_eq!((ro.mode() & 0o7777, ro.mtime()), (0o555, 77));
    let suid = std::fs::metadata(t.join("ro/suid")).unwrap();
    assert_eq!(
        (suid.mode() & 0o7777, suid.mtime(), suid.atime()),
        (0o4755, 78, 78)
    );
    assert_eq!(
        std::fs::metadata(t.join("implicit/parent")).unwrap().mode() & 0o7777,
        0o755
    );
}

#[test]
fn layers_from_gnu_tar_apply() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir_all(src.join("a/b")).unwrap();
    std::fs::write(src.join("a/b/c"), b"gnu").unwrap();
    std::fs::write(src.join(format!("a/{}", "long".repeat(40))), b"long name").unwrap();
    let out = std::process::Command::new("tar")
        .args(["--format=gnu", "-czf", "-", "-C"])
        .arg(&src)
        .arg(".")
        .output()
        .unwrap();
    assert!(out.status.success());
    let target = tmp.path().join("t");
    std::fs::create_dir(&target).unwrap();
    apply_layers(
        [(Compression::Gzip, &out.stdout[..])],
        &target,
        &ApplyOptions::default(),
    )
    .unwrap();
    assert_eq!(std::fs::read(target.join("a/b/c")).unwrap(), b"gnu");
    assert_eq!(
        std::fs::read(target.join(format!("a/{}", "long".repeat(40)))).unwrap(),
        b"long name"
    );
}
