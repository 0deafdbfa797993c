//! Blueprints (with their includes and suites) and contract suites, mutated: loading
//! them ends in a result, never a panic.

use super::mutate::{apply, edits};
use crate::blueprint::{load, LoadOptions};
use proptest::prelude::*;
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src/blueprint/fixtures/full")
}

/// A copy of the full fixture project (blueprint, fragments, suites) to mutate in place.
fn project() -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    let ok = std::process::Command::new("cp")
        .arg("-a")
        .arg(fixtures().join("."))
        .arg(t.path())
        .status()
        .unwrap();
    assert!(ok.success());
    t
}

/// The files a hostile blueprint author controls, relative to the project.
const TARGETS: &[&str] = &[
    "blueprints/core-minimal/blueprint.toml",
    "blueprints/fragments/security.toml",
    "blueprints/fragments/monitoring.toml",
    "contract-tests/posix-base.toml",
];

proptest! {
    #![proptest_config(crate::fuzz::config())]

    #[test]
    fn mutated_blueprints_load_or_fail_cleanly(target in 0..TARGETS.len(), e in edits()) {
        // One copy per test thread; each case mutates one file and puts it back.
        thread_local!(static PROJECT: tempfile::TempDir = project());
        let result = PROJECT.with(|t| {
            let file = t.path().join(TARGETS[target]);
            let original = std::fs::read(&file).unwrap();
            std::fs::write(&file, apply(&original, &e)).unwrap();
            let r = load(&t.path().join("blueprints/core-minimal"), &LoadOptions::default());
            std::fs::write(&file, &original).unwrap();
            r.err().map(|e| e.to_string())
        });
        if let Some(err) = result {
            // The error names a file: the user can find what to fix.
            prop_assert!(err.contains(".toml"), "{err}");
        }
    }

    #[test]
    fn mutated_suites_parse_or_fail_cleanly(e in edits()) {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/contract/fixtures/everything.toml");
        let original = std::fs::read(&path).unwrap();
        let text = String::from_utf8_lossy(&apply(&original, &e)).into_owned();
        let _ = crate::contract::parse_suite(&path, &text);
    }
}
