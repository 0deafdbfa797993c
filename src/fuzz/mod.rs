//! Property-based fuzzing on stable Rust of the parsers that read what users and
//! registries hand us: blueprints, contract suites, manifests, indexes and configs,
//! package changelogs, OpenVEX documents, signature payloads and DSSE envelopes, and the
//! files `pins check` reads.
//! Inputs are valid documents mutated byte by byte and line by line; the property is
//! that parsing ends in `Ok` or a clear `Err`, never a panic. `PROPTEST_CASES` sets the
//! number of cases (small by default; `scripts/fuzz.sh` runs 100,000 of each).

mod advisories;
mod manifests;
mod mutate;
mod parsers;
mod pins;
mod signatures;

use proptest::test_runner::{Config, RngSeed};

/// A fixed seed, so a normal run is the same slice every time; `PROPTEST_CASES` (read by
/// `Config::default`) sets how many cases.
fn config() -> Config {
    Config {
        rng_seed: RngSeed::Fixed(0xc0eb_2026),
        failure_persistence: None,
        ..Config::default()
    }
}
