//! The hostile corpus: one test per known escape or abuse of a layer apply. Each builds
//! the malicious stream byte by byte, applies it to `tmp/target` with `tmp/canary`
//! beside it, and asserts a refusal naming the entry (or containment inside the target)
//! and that nothing outside the target changed.

use super::*;
use crate::layer::testutil::{RawTar, Sandbox, H};
use std::time::{Duration, Instant};

fn apply_all(sb: &Sandbox, layers: &[Vec<u8>], opts: &ApplyOptions) -> Result<(), ApplyError> {
    for l in layers {
        apply_layer(&l[..], &sb.target, opts)?;
    }
    Ok(())
}

/// Applies `layers`; the last must be refused naming `entry`; nothing outside changes.
fn refused(sb: &Sandbox, layers: &[Vec<u8>], entry: &str) -> ApplyError {
    refused_with(sb, layers, entry, &ApplyOptions::default())
}

fn refused_with(sb: &Sandbox, layers: &[Vec<u8>], entry: &str, opts: &ApplyOptions) -> ApplyError {
    let before = sb.outside();
    let err = apply_all(sb, layers, opts).expect_err("hostile layer was accepted");
    assert_eq!(err.entry, entry, "{err}");
    assert!(!err.is_io(), "refusal must not be an I/O failure: {err:?}");
    assert_eq!(sb.outside(), before, "a write escaped the target");
    err
}

/// Applies `layers` successfully; nothing outside changes.
fn contained(sb: &Sandbox, layers: &[Vec<u8>]) {
    let before = sb.outside();
    apply_all(sb, layers, &ApplyOptions::default()).expect("apply");
    assert_eq!(sb.outside(), before, "a write escaped the target");
}

fn one(h: H, data: &[u8]) -> Vec<u8> {
    RawTar::new().add(h, data).finish()
}

#[test]
fn dotdot_that_escapes_is_refused() {
    let sb = Sandbox::new();
    let e = refused(
        &sb,
        &[one(H::file("../canary/secret"), b"pwned")],
        "../canary/secret",
    );
    assert!(e.reason.contains("escapes"), "{e}");
    refused(
        &sb,
        &[one(H::file("a/../../canary/x"), b"pwned")],
        "a/../../canary/x",
    );
    refused(&sb, &[one(H::dir("./../"), b"")], "./../");
}

#[test]
fn dotdot_that_stays_inside_is_normalized() {
    let sb = Sandbox::new();
    contained(&sb, &[one(H::file("a/../b"), b"ok")]);
    assert_eq!(std::fs::read(sb.target.join("b")).unwrap(), b"ok");
}

#[test]
fn absolute_names_land_inside_the_target() {
    let sb = Sandbox::new();
    let abs = format!("{}/secret", sb.canary_abs());
    contained(
        &sb,
        &[
            one(H::file(&abs), b"pwned"),
            one(H::file("/etc-like"), b"x"),
        ],
    );
    let inside = sb.target.join(abs.trim_start_matches('/'));
    assert_eq!(std::fs::read(inside).unwrap(), b"pwned");
    assert!(sb.target.join("etc-like").is_file());
}

#[test]
fn symlink_then_write_through_stays_inside() {
    let sb = Sandbox::new();
    let abs = sb.canary_abs();
    let layer = RawTar::new()
        .add(H::symlink("abs", &abs), b"")
        .add(H::symlink("rel", "../canary"), b"")
        .add(H::symlink("up", "../../../../../../.."), b"")
        .add(H::file("abs/secret"), b"pwned1")
        .add(H::file("rel/secret"), b"pwned2")
        .add(H::file("up/beside"), b"pwned3")
        .finish();
    contained(&sb, &[layer]);
    // Each symlink was followed as if the target were `/`.
    let t = &sb.target;
    assert_eq!(
        std::fs::read(t.join(abs.trim_start_matches('/')).join("secret")).unwrap(),
        b"pwned1"
    );
    assert_eq!(std::fs::read(t.join("canary/secret")).unwrap(), b"pwned2");
    assert_eq!(std::fs::read(t.join("beside")).unwrap(), b"pwned3");
    assert!(std::fs::symlink_metadata(t.join("abs"))
        .unwrap()
        .file_type()
        .is_symlink());
}

#[test]
fn symlink_from_a_lower_layer_is_not_written_through() {
    let sb = Sandbox::new();
    let secret = format!("{}/secret", sb.canary_abs());
    let lower = one(H::symlink("link", &secret), b"");
    let upper = one(H::file("link"), b"replaced");
    let rel_lower = one(H::symlink("dir", "../canary"), b"");
    let rel_upper = one(H::file("dir/secret"), b"pwned");
    contained(&sb, &[lower, upper, rel_lower, rel_upper]);
    let md = std::fs::symlink_metadata(sb.target.join("link")).unwrap();
    assert!(md.is_file(), "the file replaced the symlink");
    assert_eq!(std::fs::read(sb.target.join("link")).unwrap(), b"replaced");
}

#[test]
fn chmod_chown_and_mtime_never_follow_a_symlink() {
    let sb = Sandbox::new();
    let secret = format!("{}/secret", sb.canary_abs());
    // A symlink entry with hostile metadata, then entries over it with more.
    let s = H {
        mode: 0o7777,
        uid: 4242,
        gid: 4242,
        mtime: 1,
        ..H::symlink("s", &secret)
    };
    let d = H {
        mode: 0o777,
        uid: 4242,
        ..H::dir("d")
    };
    let lower = RawTar::new()
        .add(s, b"")
        .add(H::symlink("d", "../canary"), b"")
        .finish();
    let upper = RawTar::new().add(d, b"").finish();
    let fifo = RawTar::new()
        .add(H::symlink("f", format!("{}/sub", sb.canary_abs())), b"")
        .finish();
    let fifo_over = RawTar::new()
        .add(
            H {
                mode: 0o666,
                uid: 7,
                ..H::new("f", b'6')
            },
            b"",
        )
        .finish();
    contained(&sb, &[lower, upper, fifo, fifo_over]);
    assert!(std::fs::symlink_metadata(sb.target.join("d"))
        .unwrap()
        .is_dir());
    let md = std::fs::symlink_metadata(sb.target.join("s")).unwrap();
    assert!(md.file_type().is_symlink());
    use std::os::unix::fs::MetadataExt;
    assert_eq!(md.uid(), 4242, "lchown applied to the link itself");
}

#[test]
fn hardlinks_to_outside_or_missing_targets_are_refused() {
    let sb = Sandbox::new();
    let e = refused(&sb, &[one(H::hardlink("h", "../canary/secret"), b"")], "h");
    assert!(e.reason.contains("escapes"), "{e}");
    let abs = format!("{}/secret", sb.canary_abs());
    let e = refused(&sb, &[one(H::hardlink("h", &abs), b"")], "h");
    assert!(e.reason.contains("does not exist"), "{e}");
    let via_link = RawTar::new()
        .add(H::symlink("l", sb.canary_abs()), b"")
        .add(H::hardlink("h", "l/secret"), b"")
        .finish();
    refused(&sb, &[via_link], "h");
    refused(&sb, &[one(H::hardlink("h", "missing"), b"")], "h");
    let to_dir = RawTar::new()
        .add(H::dir("d"), b"")
        .add(H::hardlink("h", "d"), b"")
        .finish();
    refused(&sb, &[to_dir], "h");
}

#[test]
fn hardlink_inside_is_made_and_a_later_file_replaces_not_writes_through() {
    let sb = Sandbox::new();
    let lower = RawTar::new()
        .add(H::file("f"), b"original")
        .add(H::hardlink("h", "f"), b"")
        .finish();
    let upper = one(H::file("h"), b"new");
    contained(&sb, &[lower, upper]);
    assert_eq!(std::fs::read(sb.target.join("f")).unwrap(), b"original");
    assert_eq!(std::fs::read(sb.target.join("h")).unwrap(), b"new");
}

#[test]
fn invalid_whiteout_names_are_refused() {
    let sb = Sandbox::new();
    for name in [
        ".wh..wh.foo",
        "a/.wh..wh.plnk",
        ".wh...",
        ".wh..",
        ".wh.",
        ".wh.x/y",
    ] {
        let e = refused(&sb, &[one(H::file(name), b"")], name);
        assert!(
            e.reason.contains("whiteout") || e.reason.contains(".wh."),
            "{e}"
        );
    }
    refused(&sb, &[one(H::file("../.wh.canary"), b"")], "../.wh.canary");
}

#[test]
fn whiteouts_through_symlinks_stay_inside() {
    let sb = Sandbox::new();
    let parent = sb.tmp.path().to_str().unwrap().to_string();
    let layer = RawTar::new()
        .add(H::symlink("abs", &parent), b"")
        .add(H::symlink("rel", ".."), b"")
        .add(H::symlink("can", "../canary"), b"")
        .finish();
    let wh = RawTar::new()
        .add(H::file("abs/.wh.canary"), b"")
        .add(H::file("rel/.wh.canary"), b"")
        .add(H::file("can/.wh..wh..opq"), b"")
        .add(H::file("can/.wh.secret"), b"")
        .finish();
    contained(&sb, &[layer, wh]);
}

#[test]
fn device_nodes_are_refused_by_default_and_skipped_on_request() {
    let sb = Sandbox::new();
    let dev = RawTar::new()
        .add(H::dir("dev"), b"")
        .add(H::new("dev/null", b'3'), b"")
        .add(H::new("dev/sda", b'4'), b"")
        .finish();
    let e = refused(&sb, std::slice::from_ref(&dev), "dev/null");
    assert!(e.reason.contains("device"), "{e}");
    let opts = ApplyOptions {
        devices: DevicePolicy::Skip,
        ..Default::default()
    };
    let stats = apply_layer(&dev[..], &sb.target, &opts).unwrap();
    assert_eq!(
        stats.skipped,
        vec!["dev/null".to_string(), "dev/sda".to_string()]
    );
    assert_eq!(std::fs::read_dir(sb.target.join("dev")).unwrap().count(), 0);
}

#[test]
fn bomb_huge_declared_file_is_refused_before_reading() {
    let sb = Sandbox::new();
    // The header claims 1 TiB; no data follows. The cap must fire on the header alone.
    let h = H {
        size: 1 << 40,
        ..H::file("big")
    };
    let t0 = Instant::now();
    let e = refused(&sb, &[RawTar::new().claim(h, b"").finish()], "big");
    assert!(e.reason.contains("limit"), "{e}");
    assert!(t0.elapsed() < Duration::from_secs(2));
    assert!(
        !sb.target.join("big").exists(),
        "nothing created before the check"
    );
    // Data attached to a symlink would have to be read to be skipped: capped too.
    let h = H {
        size: 20 << 30,
        ..H::symlink("s", "x")
    };
    let t0 = Instant::now();
    let e = refused(&sb, &[RawTar::new().claim(h, b"").finish()], "s");
    assert!(e.reason.contains("limit"), "{e}");
    assert!(t0.elapsed() < Duration::from_secs(2));
}

#[test]
fn bomb_total_bytes_and_entry_count_are_capped() {
    let sb = Sandbox::new();
    let opts = ApplyOptions {
        max_total_bytes: 1 << 20,
        ..Default::default()
    };
    let chunk = vec![7u8; 600 << 10];
    let two = RawTar::new()
        .add(H::file("a"), &chunk)
        .add(H::file("b"), &chunk)
        .finish();
    let e = refused_with(&sb, &[two], "b", &opts);
    assert!(e.reason.contains("limit"), "{e}");

    let opts = ApplyOptions {
        max_entries: 100,
        ..Default::default()
    };
    let mut many = RawTar::new();
    for i in 0..1000 {
        many = many.add(H::file(format!("f{i}")), b"");
    }
    let t0 = Instant::now();
    let e = refused_with(&sb, &[many.finish()], "<member 101>", &opts);
    assert!(e.reason.contains("more than 100 entries"), "{e}");
    assert!(t0.elapsed() < Duration::from_secs(2));
}

#[test]
fn bomb_huge_extension_headers_are_refused_without_allocating() {
    let sb = Sandbox::new();
    for t in [b'x', b'g', b'L', b'K'] {
        let h = H {
            size: 10 << 30,
            ..H::new("ext", t)
        };
        let t0 = Instant::now();
        let e = refused(&sb, &[RawTar::new().claim(h, b"").finish()], "ext");
        assert!(e.reason.contains("extension header"), "{e}");
        assert!(t0.elapsed() < Duration::from_secs(1));
    }
}

#[test]
fn bomb_gzip_of_zeros_is_capped_while_streaming() {
    // 256 MiB of zeros inside one file compresses to ~250 KiB; the per-file cap stops
    // it on the header, before any inflation of the data.
    use std::io::Write as _;
    let sb = Sandbox::new();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(
        &H {
            size: 256 << 20,
            ..H::file("zeros")
        }
        .block(),
    )
    .unwrap();
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..256 {
        gz.write_all(&zeros).unwrap();
    }
    gz.write_all(&[0u8; 1024]).unwrap();
    let blob = gz.finish().unwrap();
    let opts = ApplyOptions {
        max_file_bytes: 1 << 20,
        ..Default::default()
    };
    let before = sb.outside();
    let t0 = Instant::now();
    let err = apply_layers([(Compression::Gzip, &blob[..])], &sb.target, &opts).unwrap_err();
    let e = err
        .downcast_ref::<ApplyError>()
        .expect("an ApplyError in the chain");
    assert_eq!(e.entry, "zeros");
    assert!(t0.elapsed() < Duration::from_secs(2));
    assert_eq!(sb.outside(), before);
}

#[test]
fn duplicate_paths_in_one_layer_are_refused() {
    let sb = Sandbox::new();
    let dup = RawTar::new()
        .add(H::file("a"), b"1")
        .add(H::file("./a"), b"2")
        .finish();
    refused(&sb, &[dup], "./a");
    let dup = RawTar::new()
        .add(H::dir("d/"), b"")
        .add(H::file("/d"), b"2")
        .finish();
    refused(&sb, &[dup], "/d");
    assert_eq!(std::fs::read(sb.target.join("a")).unwrap(), b"1");
}

#[test]
fn names_with_nul_are_refused() {
    let sb = Sandbox::new();
    refused(
        &sb,
        &[one(H::file(b"a\0../../canary/secret"), b"x")],
        "<member 1>",
    );
    let pax = RawTar::new()
        .pax(&[("path", b"ok\0../../canary/secret")])
        .add(H::file("placeholder"), b"x")
        .finish();
    refused(&sb, &[pax], "PaxHeaders/x");
    let long = RawTar::new()
        .add(H::new("././@LongLink", b'L'), b"ok\0../canary/secret\0")
        .add(H::file("placeholder"), b"x")
        .finish();
    refused(&sb, &[long], "././@LongLink");
    let link = one(H::symlink(b"l", b"x\0/etc"), b"");
    refused(&sb, &[link], "l");
}

#[test]
fn pax_and_gnu_long_names_cannot_escape() {
    let sb = Sandbox::new();
    let pax = RawTar::new()
        .pax(&[("path", b"../canary/secret")])
        .add(H::file("innocent"), b"pwned")
        .finish();
    refused(&sb, &[pax], "../canary/secret");
    let gnu = RawTar::new()
        .add(H::new("././@LongLink", b'L'), b"../../canary/secret\0")
        .add(H::file("innocent"), b"pwned")
        .finish();
    refused(&sb, &[gnu], "../../canary/secret");
    let pax_link = RawTar::new()
        .pax(&[("linkpath", b"../canary/secret")])
        .add(H::hardlink("h", "innocent"), b"")
        .finish();
    refused(&sb, &[pax_link], "h");
}

#[test]
fn symlink_loops_and_file_parents_are_refused() {
    let sb = Sandbox::new();
    let loop_ = RawTar::new()
        .add(H::symlink("l1", "l2"), b"")
        .add(H::symlink("l2", "l1"), b"")
        .add(H::file("l1/x"), b"")
        .finish();
    let e = refused(&sb, &[loop_], "l1/x");
    assert!(e.reason.contains("symbolic links"), "{e}");
    let file_parent = RawTar::new()
        .add(H::file("f"), b"")
        .add(H::file("f/x"), b"")
        .finish();
    let e = refused(&sb, &[file_parent], "f/x");
    assert!(e.reason.contains("not a directory"), "{e}");
}

#[test]
fn deep_nesting_non_utf8_and_unknown_types_are_refused() {
    let sb = Sandbox::new();
    let deep = "d/".repeat(300) + "f";
    let layer = RawTar::new()
        .pax(&[("path", deep.as_bytes())])
        .add(H::file("x"), b"")
        .finish();
    let e = refused(&sb, &[layer], &deep);
    assert!(e.reason.contains("deeper"), "{e}");
    refused(&sb, &[one(H::file(b"bad\xff"), b"")], "bad\u{fffd}");
    refused(&sb, &[one(H::new("sparse", b'S'), b"")], "sparse");
    refused(&sb, &[one(H::new("weird", b'Z'), b"")], "weird");
}

#[test]
fn corrupt_and_truncated_streams_are_errors() {
    let sb = Sandbox::new();
    let mut bad = one(H::file("a"), b"data");
    bad[148] = b'9'; // checksum
    let before = sb.outside();
    let e = apply_layer(&bad[..], &sb.target, &ApplyOptions::default()).unwrap_err();
    assert!(e.reason.contains("checksum"), "{e}");
    let truncated = RawTar::new()
        .claim(
            H {
                size: 4096,
                ..H::file("t")
            },
            b"short",
        )
        .0;
    let e = apply_layer(&truncated[..], &sb.target, &ApplyOptions::default()).unwrap_err();
    assert_eq!(e.entry, "t");
    assert_eq!(sb.outside(), before);
}

#[test]
fn a_hard_link_to_a_lower_file_does_not_shield_it_from_a_whiteout() {
    let sb = Sandbox::new();
    let lower = RawTar::new()
        .add(H::dir("d"), b"")
        .add(H::file("d/f"), b"lower")
        .finish();
    // The link comes first in the stream, then the whiteout of its target, and an
    // opaque directory that held the target.
    let upper = RawTar::new()
        .add(H::hardlink("h", "d/f"), b"")
        .add(H::file(".wh.d"), b"")
        .add(H::hardlink("d2/h", "h"), b"")
        .finish();
    contained(&sb, &[lower, upper]);
    assert!(!sb.target.join("d").exists(), "the whiteout removed d/f");
    assert_eq!(std::fs::read(sb.target.join("h")).unwrap(), b"lower");
    assert_eq!(std::fs::read(sb.target.join("d2/h")).unwrap(), b"lower");
    // A whiteout of the link's own name in the same layer leaves it (it is this layer's).
    let sb = Sandbox::new();
    let lower = one(H::file("f"), b"lower");
    let upper = RawTar::new()
        .add(H::hardlink("h", "f"), b"")
        .add(H::file(".wh.h"), b"")
        .add(H::file(".wh.f"), b"")
        .finish();
    contained(&sb, &[lower, upper]);
    assert!(!sb.target.join("f").exists());
    assert_eq!(std::fs::read(sb.target.join("h")).unwrap(), b"lower");
    // An opaque directory drops a lower file even when this layer linked to it first.
    let sb = Sandbox::new();
    let lower = RawTar::new()
        .add(H::dir("o"), b"")
        .add(H::file("o/f"), b"lower")
        .finish();
    let upper = RawTar::new()
        .add(H::hardlink("keep", "o/f"), b"")
        .add(H::file("o/.wh..wh..opq"), b"")
        .finish();
    contained(&sb, &[lower, upper]);
    assert!(!sb.target.join("o/f").exists());
    assert_eq!(std::fs::read(sb.target.join("keep")).unwrap(), b"lower");
}

#[test]
fn a_second_extension_record_of_a_kind_before_one_entry_is_refused() {
    let sb = Sandbox::new();
    let two_pax = RawTar::new()
        .pax(&[("path", b"a")])
        .pax(&[("path", b"b")])
        .add(H::file("f"), b"")
        .finish();
    let e = refused(&sb, &[two_pax], "PaxHeaders/x");
    assert!(e.reason.contains("second PAX header"), "{e}");
    for t in [b'L', b'K'] {
        let two = RawTar::new()
            .add(H::new("././@LongLink", t), b"a\0")
            .add(H::new("././@LongLink", t), b"b\0")
            .add(H::file("f"), b"")
            .finish();
        let e = refused(&sb, &[two], "././@LongLink");
        assert!(e.reason.contains("second GNU long"), "{e}");
    }
    // One of each kind is fine, and each entry gets a fresh budget.
    let mut ok = RawTar::new();
    for i in 0..3 {
        ok = ok
            .add(H::new("g", b'g'), b"9 path=z\n")
            .pax(&[
                ("path", format!("p{i}").as_bytes()),
                ("comment", &[b'c'; 900]),
            ])
            .add(H::new("././@LongLink", b'L'), b"ignored-for-pax\0")
            .add(H::new("././@LongLink", b'K'), b"t\0")
            .add(H::file("f"), b"x");
    }
    contained(&sb, &[ok.finish()]);
    assert_eq!(std::fs::read(sb.target.join("p2")).unwrap(), b"x");
    assert!(!sb.target.join("z").exists(), "global headers are ignored");
}

#[test]
fn extension_records_share_one_budget_per_entry() {
    let sb = Sandbox::new();
    let big = vec![b'c'; 700 << 10];
    let layer = RawTar::new()
        .pax(&[("comment", &big)])
        .add(H::new("glob", b'g'), &big)
        .add(H::file("f"), b"")
        .finish();
    let e = refused(&sb, &[layer], "glob");
    assert!(e.reason.contains("limit 1048576"), "{e}");
}

#[test]
fn bomb_gzip_of_piled_extension_records_is_refused_quickly() {
    // 1 GiB of alternating L and x records (a few MB of gzip): refused at the second
    // record of a kind, after reading a few KiB.
    use std::io::Write as _;
    let sb = Sandbox::new();
    let l = RawTar::new()
        .add(H::new("././@LongLink", b'L'), &[b'a'; 4000])
        .pax(&[("comment", &[b'c'; 3000])])
        .0;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let chunk = l.repeat((1 << 20) / l.len());
    for _ in 0..1024 {
        gz.write_all(&chunk).unwrap();
    }
    let blob = gz.finish().unwrap();
    assert!(blob.len() > 1 << 20, "{} bytes of gzip", blob.len());
    let before = sb.outside();
    let t0 = Instant::now();
    let err = apply_layers(
        [(Compression::Gzip, &blob[..])],
        &sb.target,
        &ApplyOptions::default(),
    )
    .unwrap_err();
    let e = err.downcast_ref::<ApplyError>().expect("an ApplyError");
    assert_eq!(e.entry, "././@LongLink");
    assert!(e.reason.contains("second GNU long name"), "{e}");
    assert!(t0.elapsed() < Duration::from_secs(2));
    assert_eq!(sb.outside(), before);
}
