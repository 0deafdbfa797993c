//! Reusing a passing contract report: `release` of a candidate that already passed the
//! very same suites (the same file bytes) in the same runtime does not run them again,
//! as a build system does not rerun a test whose inputs did not change. The record is
//! `<store>/cache/tests/<key>.json`, the key the digest of the candidate, each suite's
//! name and file digest, the runtime and the corebuild version; it names the report's
//! JSON digest, and the report must still be stored beside the candidate and have
//! passed. A failing report is never reused: a failure runs again.

use super::{stored_reports, ContractReport, Suite};
use crate::digest::Digest;
use crate::oci::OciDir;
use anyhow::{Context, Result};
use std::path::PathBuf;

/// Bumped when what a test run depends on changes shape.
const FORMAT: u32 = 1;

/// Where the record for these inputs lives.
fn record_path(
    store: &OciDir,
    candidate: &Digest,
    suites: &[Suite],
    runtime: &str,
) -> Result<PathBuf> {
    let mut files = Vec::new();
    for s in suites {
        let bytes = std::fs::read(&s.path)
            .with_context(|| format!("reading the suite {}", s.path.display()))?;
        files.push((s.name.clone(), Digest::of_bytes(&bytes).to_string()));
    }
    let key = serde_json::json!({
        "format": FORMAT,
        "candidate": candidate.to_string(),
        "suites": files,
        "runtime": runtime,
        "corebuild": env!("CARGO_PKG_VERSION"),
    });
    let key = Digest::of_bytes(&crate::oci::to_canonical_json(&key)?);
    Ok(store
        .root()
        .join("cache/tests")
        .join(format!("{}.json", key.hex())))
}

/// The passing report stored for exactly these inputs, if there is one.
pub fn find(
    store: &OciDir,
    candidate: &Digest,
    suites: &[Suite],
    runtime: &str,
) -> Result<Option<ContractReport>> {
    let path = record_path(store, candidate, suites, runtime)?;
    let Ok(bytes) = std::fs::read(&path) else {
        return Ok(None);
    };
    let Ok(want) = String::from_utf8(bytes) else {
        return Ok(None);
    };
    Ok(stored_reports(store, candidate)?
        .into_iter()
        .find(|r| Digest::of_bytes(&r.json).to_string() == want.trim() && r.report.passed())
        .map(|r| r.report))
}

/// Remembers a passing report for these inputs (a failing one is not recorded).
pub fn remember(
    store: &OciDir,
    report: &ContractReport,
    suites: &[Suite],
    runtime: &str,
) -> Result<()> {
    if !report.passed() {
        return Ok(());
    }
    let path = record_path(store, &report.candidate, suites, runtime)?;
    std::fs::create_dir_all(path.parent().expect("under cache/tests"))?;
    let json = Digest::of_bytes(report.to_json().as_bytes()).to_string();
    crate::oci::write_atomic(&path, json.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn suite(dir: &std::path::Path, text: &str) -> Suite {
        let path = dir.join("s.toml");
        std::fs::write(&path, text).unwrap();
        Suite {
            name: "s".into(),
            version: semver::Version::new(1, 0, 0),
            description: String::new(),
            path,
            targets: Vec::new(),
            tests: Vec::new(),
        }
    }

    #[test]
    fn the_record_changes_with_the_suite_bytes_the_candidate_and_the_runtime() {
        let t = tempfile::tempdir().unwrap();
        let store = OciDir::open_or_create(t.path().join("store")).unwrap();
        let d1 = Digest::of_bytes(b"one");
        let d2 = Digest::of_bytes(b"two");
        let a = record_path(&store, &d1, &[suite(t.path(), "a")], "runc").unwrap();
        assert_eq!(
            a,
            record_path(&store, &d1, &[suite(t.path(), "a")], "runc").unwrap()
        );
        assert_ne!(
            a,
            record_path(&store, &d1, &[suite(t.path(), "a ")], "runc").unwrap()
        );
        assert_ne!(
            a,
            record_path(&store, &d2, &[suite(t.path(), "a")], "runc").unwrap()
        );
        assert_ne!(
            a,
            record_path(&store, &d1, &[suite(t.path(), "a")], "crun").unwrap()
        );
        // Nothing recorded: nothing reused.
        assert!(find(&store, &d1, &[suite(t.path(), "a")], "runc")
            .unwrap()
            .is_none());
    }
}
