//! Property test of the tar reader and apply: random layers (built from hostile pieces,
//! then mutated byte by byte, truncated or spliced) applied beside a canary never panic
//! and never write outside the target. `PROPTEST_CASES` sets the count (256 by
//! default; `scripts/fuzz.sh` runs 100,000); the seed is fixed so a normal run is the
//! same slice each time.

use super::*;
use crate::layer::testutil::{RawTar, Sandbox, H};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

const NAMES: &[&str] = &[
    "a",
    "a/b",
    "../canary/secret",
    "/abs",
    "l",
    "l/x",
    ".wh.a",
    "a/.wh..wh..opq",
    "d/",
    "./a",
    "..",
    "h",
    "a/../../x",
    "\u{e9}",
];
const TARGETS: &[&str] = &["a", "../canary", "/", "..", "l", "a/b", "missing", ""];

/// One piece of a layer.
fn piece() -> impl Strategy<Value = (u8, usize, usize, Vec<u8>)> {
    (
        prop::sample::select(&b"0125673xgLKS"[..]),
        0..NAMES.len(),
        0..TARGETS.len(),
        prop::collection::vec(any::<u8>(), 0..64),
    )
}

fn layer(pieces: &[(u8, usize, usize, Vec<u8>)]) -> Vec<u8> {
    let mut t = RawTar::new();
    for (ty, n, l, data) in pieces {
        let (name, target) = (NAMES[*n], TARGETS[*l]);
        t = match ty {
            b'x' => t.pax(&[("path", name.as_bytes()), ("linkpath", target.as_bytes())]),
            b'L' | b'K' => {
                let v = if *ty == b'L' { name } else { target };
                t.add(H::new("././@LongLink", *ty), format!("{v}\0").as_bytes())
            }
            b'1' | b'2' => {
                let h = H {
                    link: target.as_bytes().to_vec(),
                    ..H::new(name, *ty)
                };
                t.add(h, b"")
            }
            _ => t.add(H::new(name, *ty), data),
        };
    }
    t.finish()
}

/// Byte edits: (position, xor mask); and an optional cut.
fn mutate(mut raw: Vec<u8>, edits: &[(usize, u8)], cut: Option<usize>) -> Vec<u8> {
    for (at, x) in edits {
        if !raw.is_empty() {
            let i = at % raw.len();
            raw[i] ^= x;
        }
    }
    if let Some(c) = cut {
        raw.truncate(c % (raw.len() + 1));
    }
    raw
}

fn config() -> Config {
    Config {
        rng_seed: RngSeed::Fixed(0x1a7e_2026),
        failure_persistence: None,
        ..Config::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn fuzz_tar_apply_never_panics_or_escapes(
        lower in prop::collection::vec(piece(), 0..6),
        upper in prop::collection::vec(piece(), 1..10),
        edits in prop::collection::vec((any::<usize>(), any::<u8>()), 0..8),
        cut in prop::option::of(any::<usize>()),
    ) {
        let sb = Sandbox::new();
        let before = sb.outside();
        let lower = layer(&lower);
        let upper = mutate(layer(&upper), &edits, cut);
        let opts = ApplyOptions { max_entries: 1000, ..Default::default() };
        for l in [lower, upper] {
            if let Err(e) = apply_layer(&l[..], &sb.target, &opts) {
                prop_assert!(!e.entry.is_empty(), "an error names no entry: {e}");
            }
        }
        prop_assert_eq!(sb.outside(), before, "a write escaped the target");
    }
}
