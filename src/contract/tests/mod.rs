//! Tests of the contract module that span files: suite fixtures, runs on real rootfs
//! trees, the store and the gate.

mod parse_tests;

use std::path::{Path, PathBuf};

/// A file under `src/contract/fixtures/`.
pub fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/contract/fixtures")
        .join(rel)
}
