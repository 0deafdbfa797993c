//! Tests of the layer writer: golden digests, determinism, epoch clamping, what GNU tar
//! reads back, streaming of host files, refusals, and the `#[ignore]`d benchmark.

use super::*;
use crate::layer::compress::decompress;
use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Arc;

const CAP: &[u8] = &[
    1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
];

fn sample() -> Vec<Entry> {
    let long = format!("opt/{}/{}", "l".repeat(150), "n".repeat(120));
    let mut ping = Entry::bytes("usr/bin/ping", b"\x7fELF fake".to_vec(), 0o4755);
    ping.xattrs
        .insert("security.capability".into(), CAP.to_vec());
    let mut big_uid = Entry::bytes("home/user/file", b"mine".to_vec(), 0o600);
    big_uid.uid = 5_000_000;
    big_uid.gid = 5_000_000;
    let mut motd = Entry::bytes("etc/motd", b"hello\n".to_vec(), 0o644);
    motd.mtime = 1_000;
    vec![
        Entry::dir("etc", 0o755, 0, 0),
        motd,
        Entry::new(
            "etc/localtime",
            EntryKind::Symlink {
                target: "/usr/share/zoneinfo/Etc/UTC".into(),
            },
            0o777,
            0,
            0,
        ),
        ping,
        Entry::new(
            "usr/bin/ping6",
            EntryKind::Hardlink {
                target: "usr/bin/ping".into(),
            },
            0o4755,
            0,
            0,
        ),
        Entry::new("run/initctl", EntryKind::Fifo, 0o600, 0, 0),
        Entry::dir("var", 0o755, 0, 0),
        Entry::new("var/old", EntryKind::Whiteout, 0, 0, 0),
        Entry::new("var/cache", EntryKind::OpaqueWhiteout, 0, 0, 0),
        Entry::bytes(long, b"deep".to_vec(), 0o644),
        Entry::new(
            "opt/link",
            EntryKind::Symlink {
                target: format!("../{}", "t".repeat(200)),
            },
            0o777,
            0,
            0,
        ),
        big_uid,
    ]
}

fn opts(c: Compression) -> LayerOptions {
    LayerOptions {
        compression: c,
        epoch: 1_700_000_000,
    }
}

fn write(entries: Vec<Entry>, o: &LayerOptions) -> (Vec<u8>, LayerInfo) {
    write_layer(entries, o, Vec::new()).unwrap()
}

fn untar(blob: &[u8], c: Compression) -> Vec<u8> {
    let mut raw = Vec::new();
    decompress(c, blob).read_to_end(&mut raw).unwrap();
    raw
}

/// A reproducibility regression must fail loudly: these digests are the format.
#[test]
fn golden_digests() {
    let want = [
        (
            Compression::None,
            "sha256:336189808637fec1869ebefb7e5f626a80d9b50ba5fdd8cacd497d8f3cb09406",
        ),
        (
            Compression::Gzip,
            "sha256:54c0f665bd27ed668293f4b2abeb5f6ab9143cf86a5ff51f354c25cf81c3dd27",
        ),
        (
            Compression::Zstd,
            "sha256:d522ecb711930114e895af55f966e54e8648b2c2395d2c04454621cafa6b4593",
        ),
    ];
    for (c, digest) in want {
        let (_, info) = write(sample(), &opts(c));
        assert_eq!(info.digest.to_string(), digest, "{c:?}");
    }
}

#[test]
fn blob_digests_sizes_and_diff_id_agree() {
    for c in [Compression::None, Compression::Gzip, Compression::Zstd] {
        let (blob, info) = write(sample(), &opts(c));
        assert_eq!(info.digest, Digest::of_bytes(&blob));
        assert_eq!(info.size, blob.len() as u64);
        let raw = untar(&blob, c);
        assert_eq!(info.diff_id, Digest::of_bytes(&raw));
        assert_eq!(info.uncompressed_size, raw.len() as u64);
        assert_eq!(info.media_type, c.media_type());
        assert_eq!(raw.len() % 512, 0);
    }
}

#[test]
fn same_entries_in_any_order_give_the_same_layer() {
    let o = opts(Compression::Gzip);
    let (_, a) = write(sample(), &o);
    let mut shuffled = sample();
    shuffled.reverse();
    shuffled.swap(1, 4);
    let (_, b) = write(shuffled, &o);
    assert_eq!(a, b);
}

#[test]
fn mtimes_are_clamped_to_the_epoch() {
    let o = opts(Compression::None);
    let at = |t: u64| {
        let mut e = Entry::bytes("f", b"x".to_vec(), 0o644);
        e.mtime = t;
        write(vec![e], &o).1.diff_id
    };
    assert_eq!(
        at(o.epoch + 1),
        at(u64::MAX),
        "later than the epoch: clamped"
    );
    assert_eq!(at(o.epoch), at(o.epoch + 5));
    assert_ne!(at(o.epoch - 1), at(o.epoch), "earlier mtimes are kept");
    let other_epoch = LayerOptions {
        epoch: o.epoch + 1,
        ..o
    };
    let e = Entry::bytes("f", b"x".to_vec(), 0o644);
    assert_ne!(
        write(vec![e.clone()], &o).1.diff_id,
        write(vec![e], &other_epoch).1.diff_id
    );
}

#[test]
fn system_tar_lists_every_entry_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let mut expected: Vec<String> = sample().iter().map(header::tar_name).collect();
    expected.sort();
    for (c, flag) in [
        (Compression::None, None),
        (Compression::Gzip, Some("-z")),
        (Compression::Zstd, Some("--zstd")),
    ] {
        let (blob, _) = write(sample(), &opts(c));
        let p = dir.path().join("layer.tar");
        std::fs::write(&p, &blob).unwrap();
        let mut cmd = std::process::Command::new("tar");
        cmd.arg("-t");
        cmd.args(flag);
        let out = cmd.arg("-f").arg(&p).output().unwrap();
        assert!(
            out.status.success(),
            "{c:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let names: Vec<String> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(String::from)
            .collect();
        assert_eq!(names, expected, "{c:?}");
    }
    // And GNU tar reads our PAX records: owner, setuid mode, capability.
    let (blob, _) = write(sample(), &opts(Compression::None));
    let p = dir.path().join("layer.tar");
    std::fs::write(&p, &blob).unwrap();
    let out = std::process::Command::new("tar")
        .args(["--numeric-owner", "--xattrs", "--xattrs-include=*", "-tvvf"])
        .arg(&p)
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(listing.contains("5000000/5000000"), "{listing}");
    assert!(listing.contains("-rwsr-xr-x"), "{listing}");
    assert!(
        listing.contains("usr/bin/ping6 link to usr/bin/ping"),
        "{listing}"
    );
    assert!(listing.contains("x: 20 security.capability"), "{listing}");
    assert!(listing.contains("prw------- "), "{listing}");
}

#[test]
fn host_files_are_streamed_and_must_not_change_size() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("big");
    let data: Vec<u8> = (0..5_000_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&p, &data).unwrap();
    let file = |size| {
        Entry::new(
            "big",
            EntryKind::File {
                source: FileSource::Host(p.clone()),
                size,
            },
            0o644,
            0,
            0,
        )
    };
    let (blob, _) = write(vec![file(data.len() as u64)], &opts(Compression::Zstd));
    let raw = untar(&blob, Compression::Zstd);
    let mut ar = tar::Archive::new(&raw[..]);
    let mut e = ar.entries().unwrap().next().unwrap().unwrap();
    let mut back = Vec::new();
    e.read_to_end(&mut back).unwrap();
    assert!(back == data);
    for wrong in [data.len() as u64 - 1, data.len() as u64 + 1] {
        let err = write_layer(vec![file(wrong)], &opts(Compression::Gzip), Vec::new()).unwrap_err();
        assert!(format!("{err:#}").contains("changed size"), "{err:#}");
    }
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&p, &link).unwrap();
    let via_link = Entry::new(
        "big",
        EntryKind::File {
            source: FileSource::Host(link),
            size: data.len() as u64,
        },
        0o644,
        0,
        0,
    );
    assert!(
        write_layer(vec![via_link], &opts(Compression::None), Vec::new()).is_err(),
        "O_NOFOLLOW"
    );
}

#[test]
fn invalid_entry_sets_are_refused() {
    let o = opts(Compression::None);
    let f = |p: &str| Entry::bytes(p, b"x".to_vec(), 0o644);
    let hl =
        |p: &str, t: &str| Entry::new(p, EntryKind::Hardlink { target: t.into() }, 0o644, 0, 0);
    let cases: Vec<(Vec<Entry>, &str)> = vec![
        (vec![f("a"), f("a")], "appears twice"),
        (
            vec![f("a"), Entry::new("a", EntryKind::Whiteout, 0, 0, 0)],
            "appears twice",
        ),
        (vec![f("/a")], "not normalized"),
        (vec![f("a/../b")], ".."),
        (vec![f("a/.wh.b")], ".wh."),
        (vec![f("z"), hl("a", "z")], "sorts after"),
        (vec![hl("a", "missing")], "not a file"),
        (vec![f("a"), f("a/b")], "not a directory"),
        (
            vec![Entry {
                mode: 0o10644,
                ..f("a")
            }],
            "0o7777",
        ),
        (
            vec![Entry::new(
                "a",
                EntryKind::File {
                    source: FileSource::Bytes(Arc::from(&b"abc"[..])),
                    size: 2,
                },
                0o644,
                0,
                0,
            )],
            "declared size",
        ),
        (
            vec![Entry {
                xattrs: BTreeMap::from([("a=b".to_string(), vec![])]),
                ..f("a")
            }],
            "xattr",
        ),
    ];
    for (entries, want) in cases {
        let err = write_layer(entries, &o, Vec::new()).unwrap_err();
        assert!(format!("{err:#}").contains(want), "{want}: {err:#}");
    }
}

#[test]
fn a_failing_output_is_reported() {
    struct Full;
    impl Write for Full {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::new(io::ErrorKind::StorageFull, "disk full"))
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let big = Entry::bytes("big", vec![1u8; 8 << 20], 0o644);
    for c in [Compression::None, Compression::Gzip, Compression::Zstd] {
        let err = write_layer(vec![big.clone()], &opts(c), Full)
            .map(|_| ())
            .unwrap_err();
        assert!(format!("{err:#}").contains("disk full"), "{c:?}: {err:#}");
    }
}

/// Measures layer writing on a ~200 MB tree. Run with:
/// `CB_BENCH_DIR=/path cargo test --release -- --ignored --nocapture bench_write_layer`
#[test]
#[ignore]
fn bench_write_layer() {
    let dir = std::env::var("CB_BENCH_DIR").unwrap_or_else(|_| "/usr/lib/python3".into());
    let entries = crate::layer::scan_dir(std::path::Path::new(&dir)).unwrap();
    for c in [Compression::Zstd, Compression::Gzip, Compression::None] {
        let mut best = f64::MAX;
        let mut last = None;
        for _ in 0..3 {
            let t = std::time::Instant::now();
            let (_, info) = write_layer(entries.clone(), &opts(c), io::sink()).unwrap();
            best = best.min(t.elapsed().as_secs_f64());
            last = Some(info);
        }
        let info = last.unwrap();
        println!(
            "{c:?}: best of 3 {best:.3} s, {} -> {} bytes ({:.1}%), {}",
            info.uncompressed_size,
            info.size,
            100.0 * info.size as f64 / info.uncompressed_size as f64,
            info.digest
        );
    }
    // Applying the zstd layer back (decompress + safe apply), for the record.
    let tmp = tempfile::tempdir().unwrap();
    let (blob, _) = write_layer(entries, &opts(Compression::Zstd), Vec::new()).unwrap();
    let target = tmp.path().join("t");
    std::fs::create_dir(&target).unwrap();
    let t = std::time::Instant::now();
    let stats = crate::layer::apply_layers(
        [(Compression::Zstd, &blob[..])],
        &target,
        &crate::layer::ApplyOptions::default(),
    )
    .unwrap();
    println!(
        "apply zstd: {:.3} s, {} entries, {} bytes",
        t.elapsed().as_secs_f64(),
        stats[0].entries,
        stats[0].bytes
    );
}
