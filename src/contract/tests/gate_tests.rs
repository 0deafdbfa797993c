//! The gate: a stored passing report for exactly this digest, for every declared suite
//! at its current version.

use super::store_image;
use crate::blueprint::SuiteRef;
use crate::contract::*;
use crate::digest::Digest;
use crate::oci::OciDir;
use semver::Version;

fn suite_ref(name: &str, version: &str) -> SuiteRef {
    SuiteRef {
        name: name.into(),
        path: format!("/contract-tests/{name}.toml").into(),
        version: version.parse().unwrap(),
        description: String::new(),
        raw: toml::Table::new(),
    }
}

fn suite(name: &str, version: &str, outcomes: &[Outcome]) -> SuiteReport {
    SuiteReport {
        name: name.into(),
        version: version.parse().unwrap(),
        results: outcomes
            .iter()
            .enumerate()
            .map(|(i, o)| TestResult {
                name: format!("t{i}"),
                kind: TestKind::File,
                regression_for: None,
                firmware: None,
                target: None,
                outcome: o.clone(),
                duration_ms: 0,
            })
            .collect(),
    }
}

fn fail() -> Outcome {
    Outcome::failed("x", "y")
}

fn setup() -> (tempfile::TempDir, OciDir, Digest) {
    let t = tempfile::tempdir().unwrap();
    let store = OciDir::open_or_create(t.path()).unwrap();
    let cand = store_image(&store, "core-minimal:1.0.0");
    (t, store, cand)
}

fn store(s: &OciDir, cand: &Digest, suites: Vec<SuiteReport>) {
    store_report(s, &ContractReport::new(cand.clone(), suites)).unwrap();
}

fn declared() -> Vec<SuiteRef> {
    vec![
        suite_ref("posix-base", "1.0.0"),
        suite_ref("hardening", "0.3.1"),
    ]
}

#[test]
fn passes_with_every_suite_passing_at_its_version() {
    let (_t, s, cand) = setup();
    store(
        &s,
        &cand,
        vec![
            suite(
                "posix-base",
                "1.0.0",
                &[
                    Outcome::Passed,
                    Outcome::Skipped {
                        reason: "no disk".into(),
                    },
                ],
            ),
            suite("hardening", "0.3.1", &[Outcome::Passed]),
        ],
    );
    let v = gate(&s, &cand, &declared()).unwrap();
    assert!(v.passed(), "{v}");
    assert!(v.check().is_ok());
    assert_eq!(v.reports, 1);
    assert!(v.to_string().starts_with("gate passed"));
}

#[test]
fn suites_may_come_from_different_reports() {
    let (_t, s, cand) = setup();
    store(
        &s,
        &cand,
        vec![suite("posix-base", "1.0.0", &[Outcome::Passed])],
    );
    store(
        &s,
        &cand,
        vec![suite("hardening", "0.3.1", &[Outcome::Passed])],
    );
    assert!(gate(&s, &cand, &declared()).unwrap().passed());
}

#[test]
fn missing_suite_is_named() {
    let (_t, s, cand) = setup();
    store(
        &s,
        &cand,
        vec![suite("posix-base", "1.0.0", &[Outcome::Passed])],
    );
    let v = gate(&s, &cand, &declared()).unwrap();
    assert!(!v.passed());
    assert_eq!(v.suites[0].status, GateStatus::Passed);
    assert_eq!(v.suites[1].status, GateStatus::Missing);
    let err = v.check().unwrap_err();
    assert_eq!(crate::error::exit_code(&err), 1);
    assert!(
        err.to_string()
            .contains("suite hardening 0.3.1: no stored report ran it"),
        "{err}"
    );
}

#[test]
fn failed_suite_names_its_failing_tests() {
    let (_t, s, cand) = setup();
    store(
        &s,
        &cand,
        vec![
            suite(
                "posix-base",
                "1.0.0",
                &[Outcome::Passed, fail(), Outcome::error("runc")],
            ),
            suite("hardening", "0.3.1", &[Outcome::Passed]),
        ],
    );
    let v = gate(&s, &cand, &declared()).unwrap();
    assert_eq!(
        v.suites[0].status,
        GateStatus::Failed {
            tests: vec!["t1".into(), "t2".into()]
        }
    );
    assert!(
        v.to_string()
            .contains("suite posix-base 1.0.0: failed: t1, t2"),
        "{v}"
    );
}

#[test]
fn outdated_suite_version_does_not_count() {
    let (_t, s, cand) = setup();
    store(
        &s,
        &cand,
        vec![
            suite("posix-base", "0.9.0", &[Outcome::Passed]),
            suite("hardening", "0.3.1", &[Outcome::Passed]),
        ],
    );
    store(
        &s,
        &cand,
        vec![suite("posix-base", "1.1.0", &[Outcome::Passed])],
    );
    let v = gate(&s, &cand, &declared()).unwrap();
    assert_eq!(
        v.suites[0].status,
        GateStatus::Outdated {
            tested: vec![Version::new(1, 1, 0), Version::new(0, 9, 0)]
        }
    );
    assert!(v.to_string().contains("only tested at 1.1.0, 0.9.0"), "{v}");
}

#[test]
fn another_digests_report_does_not_count() {
    let (_t, s, cand) = setup();
    let other = store_image(&s, "core-minimal:0.9.0");
    store(
        &s,
        &other,
        vec![
            suite("posix-base", "1.0.0", &[Outcome::Passed]),
            suite("hardening", "0.3.1", &[Outcome::Passed]),
        ],
    );
    let v = gate(&s, &cand, &declared()).unwrap();
    assert!(!v.passed());
    assert_eq!(v.reports, 0);
    assert!(v.suites.iter().all(|s| s.status == GateStatus::Missing));
    assert!(gate(&s, &other, &declared()).unwrap().passed());
    // decide() ignores reports about other digests even when handed them.
    let r = reports_for(&s, &other).unwrap();
    assert!(!decide(&cand, &r, &declared()).passed());
}

#[test]
fn newer_reports_win_at_the_same_version() {
    let (_t, s, cand) = setup();
    let both = |o: Outcome| {
        vec![
            suite("posix-base", "1.0.0", &[o]),
            suite("hardening", "0.3.1", &[Outcome::Passed]),
        ]
    };
    store(&s, &cand, both(Outcome::Passed));
    store(&s, &cand, both(fail()));
    assert!(
        !gate(&s, &cand, &declared()).unwrap().passed(),
        "a newer failure wins"
    );
    store(&s, &cand, both(Outcome::error("runc missing")));
    assert!(!gate(&s, &cand, &declared()).unwrap().passed());
    store(&s, &cand, both(Outcome::Passed));
    assert!(
        gate(&s, &cand, &declared()).unwrap().passed(),
        "a newer pass wins"
    );
}

#[test]
fn all_skipped_verifies_nothing() {
    let (_t, s, cand) = setup();
    store(
        &s,
        &cand,
        vec![suite(
            "boot",
            "1.0.0",
            &[Outcome::Skipped {
                reason: "no disk".into(),
            }],
        )],
    );
    let v = gate(&s, &cand, &[suite_ref("boot", "1.0.0")]).unwrap();
    assert_eq!(
        v.suites[0].status,
        GateStatus::Unverified {
            skipped: vec!["t0".into()]
        }
    );
    assert!(!v.passed());
}

#[test]
fn some_skipped_passes_but_names_every_skip() {
    let (_t, s, cand) = setup();
    let skip = Outcome::Skipped {
        reason: "no disk".into(),
    };
    store(
        &s,
        &cand,
        vec![suite("boot", "1.0.0", &[Outcome::Passed, skip])],
    );
    let v = gate(&s, &cand, &[suite_ref("boot", "1.0.0")]).unwrap();
    assert!(v.passed());
    assert_eq!(v.suites[0].skipped, vec!["t1 (no disk)".to_string()]);
    assert_eq!(v.skipped(), vec!["boot: t1 (no disk)".to_string()]);
    let text = v.to_string();
    assert!(
        text.contains("1 tests skipped, which verified nothing: boot: t1 (no disk)"),
        "{text}"
    );
    let json = serde_json::to_value(&v).unwrap();
    assert_eq!(json["suites"][0]["skipped"][0], "t1 (no disk)");
}

#[test]
fn no_suites_declared_still_needs_a_report() {
    let (_t, s, cand) = setup();
    let v = gate(&s, &cand, &[]).unwrap();
    assert!(!v.passed());
    assert!(
        v.to_string().contains("no contract report is stored"),
        "{v}"
    );
    store(&s, &cand, vec![]);
    assert!(gate(&s, &cand, &[]).unwrap().passed());
}
