//! The hostile layer corpus, generated: each class of `hostile_tests.rs` widened over its
//! parameters, plus extension-record piling, deep trees, many parents, size-field lies,
//! sparse files, non-UTF-8 and NUL names and whiteouts of hard-link targets.

use crate::layer::testutil::{RawTar, H};
use std::io::Write as _;

/// What a case must end in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// Applied (legal, and kept inside the target).
    Applied,
    /// Refused (or failed reading), naming this entry.
    Refused(String),
}

/// Layers applied in order (the last is the hostile one); `gzip` ones are compressed.
pub struct Case {
    pub name: String,
    pub layers: Vec<Vec<u8>>,
    pub gzip: bool,
    pub expect: Expect,
}

/// A case given the absolute path of the sandbox's canary directory.
pub type Gen = Box<dyn Fn(&str) -> Case + Send + Sync>;

fn case(name: String, layers: Vec<Vec<u8>>, expect: Expect) -> Case {
    Case {
        name,
        layers,
        gzip: false,
        expect,
    }
}

fn refused(entry: impl Into<String>) -> Expect {
    Expect::Refused(entry.into())
}

fn one(h: H, data: &[u8]) -> Vec<u8> {
    RawTar::new().add(h, data).finish()
}

/// A GNU long-name record then `h` (whose own name is a placeholder).
fn long(name: &[u8], h: H, data: &[u8]) -> Vec<u8> {
    let mut n = name.to_vec();
    n.push(0);
    RawTar::new()
        .add(H::new("././@LongLink", b'L'), &n)
        .add(h, data)
        .finish()
}

fn pax_named(name: &[u8], h: H, data: &[u8]) -> Vec<u8> {
    RawTar::new().pax(&[("path", name)]).add(h, data).finish()
}

fn gzip(raw: &[u8], times: usize) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    for _ in 0..times {
        gz.write_all(raw).unwrap();
    }
    gz.finish().unwrap()
}

pub fn corpus() -> Vec<Gen> {
    let mut out: Vec<Gen> = Vec::new();
    escapes(&mut out);
    links(&mut out);
    whiteouts(&mut out);
    extensions(&mut out);
    depth(&mut out);
    lies(&mut out);
    names(&mut out);
    kinds(&mut out);
    out
}

fn escapes(out: &mut Vec<Gen>) {
    for k in 1..=12 {
        let up = "../".repeat(k);
        let plain = format!("{up}canary/secret");
        let p = plain.clone();
        out.push(Box::new(move |_| {
            case(
                format!("dotdot {p}"),
                vec![one(H::file(&p), b"x")],
                refused(&p),
            )
        }));
        let nested = format!("a/{up}../canary/x");
        out.push(Box::new(move |_| {
            let l = pax_named(nested.as_bytes(), H::file("p"), b"x");
            case(format!("pax dotdot {nested}"), vec![l], refused(&nested))
        }));
        let p = plain.clone();
        out.push(Box::new(move |_| {
            let l = long(p.as_bytes(), H::file("p"), b"x");
            case(format!("long-name dotdot {p}"), vec![l], refused(&p))
        }));
        let inside = format!("{}b{k}/{up}c{k}", "a/".repeat(k));
        out.push(Box::new(move |_| {
            let l = pax_named(inside.as_bytes(), H::file("p"), b"ok");
            case(format!("dotdot inside {inside}"), vec![l], Expect::Applied)
        }));
    }
    for k in 1..=10 {
        out.push(Box::new(move |canary| {
            case(
                format!("absolute name {k}"),
                vec![one(H::file(format!("{canary}/s{k}")), b"x")],
                Expect::Applied,
            )
        }));
        // Symlinks that point out (relative, absolute, at the root), then writes through.
        let up = "../".repeat(k);
        for (t, target) in [("rel", format!("{up}canary")), ("root", up.clone())] {
            out.push(Box::new(move |_| {
                let l = RawTar::new()
                    .add(H::symlink("l", &target), b"")
                    .add(H::file("l/secret"), b"pwned")
                    .finish();
                case(format!("symlink {t} {k} write"), vec![l], Expect::Applied)
            }));
        }
        out.push(Box::new(move |canary| {
            let lower = one(H::symlink("l", canary), b"");
            let upper = RawTar::new()
                .add(H::dir("l/sub"), b"")
                .add(H::file(format!("l/sub/f{k}")), b"pwned")
                .finish();
            case(
                format!("lower symlink abs {k}"),
                vec![lower, upper],
                Expect::Applied,
            )
        }));
        // A chain of k symlinks ending outside.
        out.push(Box::new(move |canary| {
            let mut t = RawTar::new().add(H::symlink("c0", canary), b"");
            for i in 1..=k {
                t = t.add(H::symlink(format!("c{i}"), format!("c{}", i - 1)), b"");
            }
            let l = t.add(H::file(format!("c{k}/secret")), b"pwned").finish();
            case(format!("symlink chain {k}"), vec![l], Expect::Applied)
        }));
    }
}

fn links(out: &mut Vec<Gen>) {
    for k in 1..=8 {
        let up = "../".repeat(k);
        out.push(Box::new(move |_| {
            let l = one(H::hardlink("h", format!("{up}canary/secret")), b"");
            case(format!("hardlink escape {k}"), vec![l], refused("h"))
        }));
        out.push(Box::new(move |canary| {
            let l = one(H::hardlink("h", format!("{canary}/secret")), b"");
            case(format!("hardlink abs {k}"), vec![l], refused("h"))
        }));
        out.push(Box::new(move |canary| {
            let l = RawTar::new()
                .add(H::symlink("l", canary), b"")
                .add(H::hardlink(format!("h{k}"), "l/secret"), b"")
                .finish();
            case(
                format!("hardlink via symlink {k}"),
                vec![l],
                refused(format!("h{k}")),
            )
        }));
        let link = format!("{}x", "../".repeat(k));
        out.push(Box::new(move |_| {
            let l = RawTar::new()
                .pax(&[("linkpath", link.as_bytes())])
                .add(H::hardlink("h", "innocent"), b"")
                .finish();
            case(format!("pax linkpath escape {k}"), vec![l], refused("h"))
        }));
    }
    out.push(Box::new(|_| {
        let l = RawTar::new()
            .add(H::dir("d"), b"")
            .add(H::hardlink("h", "d"), b"")
            .finish();
        case("hardlink to dir".into(), vec![l], refused("h"))
    }));
    out.push(Box::new(|_| {
        let l = one(H::hardlink("h", "h"), b"");
        case("hardlink to itself".into(), vec![l], refused("h"))
    }));
    for k in 1..=10 {
        // Whiteouts of hard-link targets: the lower target goes, the link stays.
        let dir = "d/".repeat(k);
        out.push(Box::new(move |_| {
            let lower = RawTar::new()
                .add(H::file(format!("{dir}f")), b"lower")
                .finish();
            let upper = RawTar::new()
                .add(H::hardlink("h", format!("{dir}f")), b"")
                .add(H::file(format!("{dir}.wh.f")), b"")
                .finish();
            case(
                format!("whiteout of hardlink target {k}"),
                vec![lower, upper],
                Expect::Applied,
            )
        }));
        let dir = "o/".repeat(k);
        out.push(Box::new(move |_| {
            let lower = RawTar::new()
                .add(H::file(format!("{dir}f")), b"lower")
                .finish();
            let upper = RawTar::new()
                .add(H::hardlink("keep", format!("{dir}f")), b"")
                .add(H::file(format!("{dir}.wh..wh..opq")), b"")
                .finish();
            case(
                format!("opaque over hardlink target {k}"),
                vec![lower, upper],
                Expect::Applied,
            )
        }));
    }
}

fn whiteouts(out: &mut Vec<Gen>) {
    for name in [
        ".wh..wh.foo",
        "a/.wh..wh.plnk",
        ".wh...",
        ".wh..",
        ".wh.",
        ".wh.x/y",
        "../.wh.canary",
    ] {
        out.push(Box::new(move |_| {
            case(
                format!("bad whiteout {name}"),
                vec![one(H::file(name), b"")],
                refused(name),
            )
        }));
    }
    for k in 1..=8 {
        let up = "../".repeat(k);
        out.push(Box::new(move |_| {
            let lower = RawTar::new()
                .add(H::symlink("rel", &up), b"")
                .add(H::symlink("can", format!("{up}canary")), b"")
                .finish();
            let wh = RawTar::new()
                .add(H::file("rel/.wh.canary"), b"")
                .add(H::file("can/.wh..wh..opq"), b"")
                .add(H::file("can/.wh.secret"), b"")
                .finish();
            case(
                format!("whiteout through symlink {k}"),
                vec![lower, wh],
                Expect::Applied,
            )
        }));
    }
}

fn extensions(out: &mut Vec<Gen>) {
    let kinds: [(u8, &str); 4] = [
        (b'x', "PaxHeaders/x"),
        (b'L', "././@LongLink"),
        (b'K', "././@LongLink"),
        (b'g', "global"),
    ];
    for (t, entry) in kinds {
        for n in [2usize, 3, 10, 100, 1000, 10_000] {
            out.push(Box::new(move |_| {
                let mut r = RawTar::new();
                for i in 0..n {
                    r = match t {
                        b'x' => r.pax(&[("comment", i.to_string().as_bytes())]),
                        b'g' => r.add(H::new("global", b'g'), b"12 comment=g\n"),
                        _ => r.add(H::new("././@LongLink", t), b"name\0"),
                    };
                }
                let l = r.add(H::file("f"), b"").finish();
                case(format!("{} piled {n}", t as char), vec![l], refused(entry))
            }));
        }
        // Gzip of 64 MiB of piled records.
        out.push(Box::new(move |_| {
            let rec = match t {
                b'x' => RawTar::new().pax(&[("comment", &[b'c'; 2000])]).0,
                b'g' => RawTar::new().add(H::new("global", b'g'), &[b'g'; 2000]).0,
                _ => {
                    RawTar::new()
                        .add(H::new("././@LongLink", t), &[b'n'; 2000])
                        .0
                }
            };
            let chunk = rec.repeat((1 << 20) / rec.len());
            Case {
                gzip: true,
                ..case(
                    format!("{} piled, gzip", t as char),
                    vec![gzip(&chunk, 64)],
                    refused(entry),
                )
            }
        }));
        for size in [2u64 << 20, 1 << 30, 10 << 30] {
            out.push(Box::new(move |_| {
                let h = H {
                    size,
                    ..H::new("ext", t)
                };
                let l = RawTar::new().claim(h, b"").finish();
                case(
                    format!("{} of {size} bytes", t as char),
                    vec![l],
                    refused("ext"),
                )
            }));
        }
    }
    for kib in [600usize, 800, 1000] {
        out.push(Box::new(move |_| {
            let big = vec![b'c'; kib << 10];
            let l = RawTar::new()
                .pax(&[("comment", &big)])
                .add(H::new("glob", b'g'), &big)
                .add(H::file("f"), b"")
                .finish();
            case(format!("x+g budget {kib} KiB"), vec![l], refused("glob"))
        }));
    }
    out.push(Box::new(|_| {
        let l = RawTar::new().pax(&[("path", b"a")]).0;
        case("ends after pax".into(), vec![l], refused("<member 2>"))
    }));
}

fn depth(out: &mut Vec<Gen>) {
    for d in [257usize, 260, 300, 400, 1000, 2000] {
        let name = "d/".repeat(d) + "f";
        out.push(Box::new(move |_| {
            let l = pax_named(name.as_bytes(), H::file("x"), b"");
            case(format!("depth {d}"), vec![l], refused(&name))
        }));
    }
    for d in [30usize, 40, 41, 100, 255] {
        // Deep through a symlink back to the top: past 40 links, refused.
        out.push(Box::new(move |_| {
            let name = "l/".repeat(d) + "f";
            let expect = if d <= 40 {
                Expect::Applied
            } else {
                refused(&name)
            };
            let l = RawTar::new()
                .add(H::symlink("l", "."), b"")
                .pax(&[("path", name.as_bytes())])
                .add(H::file("x"), b"")
                .finish();
            case(format!("symlink depth {d}"), vec![l], expect)
        }));
    }
    // Many parents: `chains` distinct deep chains.
    for (chains, deep) in [(10usize, 250usize), (40, 100), (200, 10), (1000, 2)] {
        out.push(Box::new(move |_| {
            let mut t = RawTar::new();
            for c in 0..chains {
                let name = format!("c{c}/{}f", "d/".repeat(deep - 1));
                t = t.pax(&[("path", name.as_bytes())]).add(H::file("x"), b"");
            }
            case(
                format!("many parents {chains}x{deep}"),
                vec![t.finish()],
                Expect::Applied,
            )
        }));
    }
    // Directories whose real paths are ~60 KB (a chain of symlinks, each adding 15
    // levels of 250-byte names), then a thousand more below: 64 MiB of remembered
    // directory paths is reached and refused after about 1,100 directories.
    out.push(Box::new(|_| {
        let levels = format!("{}/", "n".repeat(250)).repeat(15);
        let mut t = RawTar::new();
        for j in 0..16 {
            let base = if j == 0 {
                String::new()
            } else {
                format!("s{}/", j - 1)
            };
            let chain = format!("{base}{levels}");
            t = t
                .pax(&[("path", format!("{chain}x").as_bytes())])
                .add(H::file("x"), b"");
            let link = chain.trim_end_matches('/').to_string();
            t = t
                .pax(&[("linkpath", link.as_bytes())])
                .add(H::symlink(format!("s{j}"), "placeholder"), b"");
        }
        for i in 0..1200 {
            t = t.add(H::file(format!("s15/leaf{i}/x")), b"");
        }
        case(
            "parents past the budget".into(),
            vec![t.finish()],
            refused_any(),
        )
    }));
}

/// Refused naming whatever entry the budget fired on.
fn refused_any() -> Expect {
    Expect::Refused(String::new())
}

fn lies(out: &mut Vec<Gen>) {
    for (claim, have) in [
        (1u64, 0usize),
        (1000, 10),
        (513, 511),
        (4096, 100),
        (1 << 20, 5),
    ] {
        out.push(Box::new(move |_| {
            let h = H {
                size: claim,
                ..H::file("t")
            };
            let l = RawTar::new().claim(h, &vec![b'x'; have]).0;
            case(
                format!("size {claim} with {have} bytes"),
                vec![l],
                refused("t"),
            )
        }));
    }
    for size in [17u64 << 30, 1 << 40, 1 << 62, u64::MAX >> 1] {
        out.push(Box::new(move |_| {
            let h = H {
                size,
                ..H::file("big")
            };
            let l = RawTar::new().claim(h, b"").finish();
            case(format!("size field {size}"), vec![l], refused("big"))
        }));
    }
    for v in [
        &b"99999999999999"[..],
        b"abc",
        b"18446744073709551616",
        b"1e9",
        b"",
    ] {
        out.push(Box::new(move |_| {
            let l = RawTar::new()
                .pax(&[("size", v)])
                .add(H::file("f"), b"")
                .finish();
            let name = format!("pax size {:?}", String::from_utf8_lossy(v));
            case(name, vec![l], refused("f"))
        }));
    }
    for k in ["uid", "gid", "mtime"] {
        out.push(Box::new(move |_| {
            let l = RawTar::new()
                .pax(&[(k, b"x1")])
                .add(H::file("f"), b"")
                .finish();
            case(format!("pax {k} garbage"), vec![l], refused("f"))
        }));
    }
    out.push(Box::new(|_| {
        // A PAX size smaller than the data: the rest is read as a header and refused.
        let l = RawTar::new()
            .pax(&[("size", b"0")])
            .add(H::file("f"), &[b'z'; 1024])
            .finish();
        case("pax size short".into(), vec![l], refused("<member 3>"))
    }));
    for at in [
        0usize, 50, 100, 108, 116, 124, 136, 148, 156, 200, 257, 300, 345, 400, 511,
    ] {
        out.push(Box::new(move |_| {
            let mut l = one(H::file("a"), b"data");
            l[at] ^= 0x5a;
            case(format!("corrupt byte {at}"), vec![l], refused_any())
        }));
    }
    // Sparse files, by type and by PAX keys.
    out.push(Box::new(|_| {
        case(
            "sparse S".into(),
            vec![one(H::new("sparse", b'S'), b"")],
            refused("sparse"),
        )
    }));
    for key in [
        "GNU.sparse.major",
        "GNU.sparse.minor",
        "GNU.sparse.name",
        "GNU.sparse.map",
        "GNU.sparse.size",
        "GNU.sparse.offset",
    ] {
        out.push(Box::new(move |_| {
            let l = RawTar::new()
                .pax(&[(key, b"1")])
                .add(H::file("s"), b"")
                .finish();
            case(format!("sparse {key}"), vec![l], refused("s"))
        }));
    }
}

fn names(out: &mut Vec<Gen>) {
    let bad: [&[u8]; 5] = [
        b"\xff",
        b"\xc0\x80",
        b"\xed\xa0\x80",
        b"\xf8\x88\x80\x80\x80",
        b"a\x80",
    ];
    for b in bad {
        let mut name = b"n-".to_vec();
        name.extend_from_slice(b);
        let shown = String::from_utf8_lossy(&name).into_owned();
        let (n, s) = (name.clone(), shown.clone());
        out.push(Box::new(move |_| {
            case(
                format!("non-utf8 {s}"),
                vec![one(H::file(&n), b"")],
                refused(&s),
            )
        }));
        let (n, s) = (name.clone(), shown.clone());
        out.push(Box::new(move |_| {
            let l = pax_named(&n, H::file("p"), b"");
            case(format!("non-utf8 pax {s}"), vec![l], refused(&s))
        }));
        let (n, s) = (name.clone(), shown.clone());
        out.push(Box::new(move |_| {
            let l = long(&n, H::file("p"), b"");
            case(format!("non-utf8 long {s}"), vec![l], refused(&s))
        }));
        let n = name.clone();
        out.push(Box::new(move |_| {
            let l = RawTar::new()
                .add(H::file("t"), b"")
                .add(H::hardlink("h", &n), b"")
                .finish();
            case(format!("non-utf8 hardlink {shown}"), vec![l], refused("h"))
        }));
        out.push(Box::new(move |_| {
            // A symlink target is bytes: stored as is, never followed outside.
            let l = RawTar::new().add(H::symlink("s", &name), b"").finish();
            case("non-utf8 symlink target".into(), vec![l], Expect::Applied)
        }));
    }
    out.push(Box::new(|_| {
        let l = one(H::file(b"a\0../../canary/secret"), b"x");
        case("nul in name".into(), vec![l], refused("<member 1>"))
    }));
    out.push(Box::new(|_| {
        let l = pax_named(b"ok\0../../canary/secret", H::file("p"), b"x");
        case("nul in pax path".into(), vec![l], refused("PaxHeaders/x"))
    }));
    out.push(Box::new(|_| {
        let l = long(b"ok\0../canary/secret", H::file("p"), b"x");
        case("nul in long name".into(), vec![l], refused("././@LongLink"))
    }));
    out.push(Box::new(|_| {
        let l = one(H::symlink("l", b"x\0/etc"), b"");
        case("nul in link".into(), vec![l], refused("l"))
    }));
    out.push(Box::new(|_| {
        let l = RawTar::new()
            .add(H::new("././@LongLink", b'K'), b"x\0y\0")
            .add(H::symlink("l", "t"), b"")
            .finish();
        case("nul in long link".into(), vec![l], refused("././@LongLink"))
    }));
}

fn kinds(out: &mut Vec<Gen>) {
    for t in [b'S', b'Z', b'9', b'A', b'V', b'M', b'N', b'D', b'I'] {
        out.push(Box::new(move |_| {
            let l = one(H::new("weird", t), b"");
            case(format!("type {}", t as char), vec![l], refused("weird"))
        }));
    }
    for t in [b'3', b'4'] {
        out.push(Box::new(move |_| {
            let l = one(H::new("dev", t), b"");
            case(format!("device {}", t as char), vec![l], refused("dev"))
        }));
    }
    for (a, b) in [
        ("a", "./a"),
        ("d/", "/d"),
        ("x/y", "x//y"),
        ("q", "q/"),
        ("r", "s/../r"),
    ] {
        out.push(Box::new(move |_| {
            let l = RawTar::new()
                .add(H::file(a), b"1")
                .add(H::file(b), b"2")
                .finish();
            case(format!("duplicate {a} {b}"), vec![l], refused(b))
        }));
    }
    out.push(Box::new(|_| {
        let l = RawTar::new()
            .add(H::symlink("l1", "l2"), b"")
            .add(H::symlink("l2", "l1"), b"")
            .add(H::file("l1/x"), b"")
            .finish();
        case("symlink loop".into(), vec![l], refused("l1/x"))
    }));
    out.push(Box::new(|_| {
        let l = RawTar::new()
            .add(H::file("f"), b"")
            .add(H::file("f/x"), b"")
            .finish();
        case("file as parent".into(), vec![l], refused("f/x"))
    }));
    out.push(Box::new(|_| {
        let l = one(H::symlink("s", ""), b"");
        case("empty symlink".into(), vec![l], refused("s"))
    }));
}
