//! The gate between test and publish: a candidate passes only if a report stored for
//! exactly its digest has a passing result for every suite its blueprint declares, at
//! the suite's current version.
//!
//! For each declared suite, the newest stored report that ran that suite at its
//! declared version decides (a rerun at the same version supersedes an older run, in
//! either direction). Results for other versions never count: a suite bumped since the
//! run is `Outdated`. A run that skipped every test of a suite verified nothing and does
//! not pass it (`Unverified`); a run that skipped *some* passes, but the verdict names
//! every skipped test (`skipped`), in its text and its JSON, so that a skip is never
//! mistaken for a pass. With no suites declared, at least one stored report is still
//! required, so nothing reaches the catalog untested.

use super::report::ContractReport;
use super::store::reports_for;
use crate::blueprint::SuiteRef;
use crate::digest::Digest;
use crate::oci::OciDir;
use anyhow::Result;
use serde::Serialize;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GateVerdict {
    pub candidate: Digest,
    /// How many reports are stored for the candidate.
    pub reports: usize,
    /// One entry per declared suite, in declaration order.
    pub suites: Vec<SuiteVerdict>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SuiteVerdict {
    pub name: String,
    /// The version the blueprint declares (the suite file's current version).
    pub version: semver::Version,
    pub status: GateStatus,
    /// Tests the deciding run skipped, `name (reason)`: they verified nothing.
    pub skipped: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum GateStatus {
    Passed,
    /// No stored report ran this suite.
    Missing,
    /// The newest run at this version had failing or erroring tests (named here).
    Failed {
        tests: Vec<String>,
    },
    /// Reports ran the suite, but only at other versions (listed, newest first).
    Outdated {
        tested: Vec<semver::Version>,
    },
    /// The newest run at this version skipped every test, so it verified nothing.
    Unverified {
        skipped: Vec<String>,
    },
}

impl GateVerdict {
    pub fn passed(&self) -> bool {
        self.reports > 0 && self.suites.iter().all(|s| s.status == GateStatus::Passed)
    }

    /// Every skipped test of a passed suite, `suite: test (reason)`.
    pub fn skipped(&self) -> Vec<String> {
        self.suites
            .iter()
            .filter(|s| s.status == GateStatus::Passed)
            .flat_map(|s| s.skipped.iter().map(move |t| format!("{}: {t}", s.name)))
            .collect()
    }

    /// `Ok` when passed; otherwise a "failed" error (exit 1) that names every suite
    /// that is missing, failed or outdated.
    pub fn check(&self) -> Result<()> {
        if self.passed() {
            Ok(())
        } else {
            Err(crate::error::failed(self.to_string()))
        }
    }
}

impl fmt::Display for GateVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.passed() {
            write!(
                f,
                "gate passed for {}: {} suites passed",
                self.candidate,
                self.suites.len()
            )?;
            let skipped = self.skipped();
            if !skipped.is_empty() {
                write!(
                    f,
                    "; {} tests skipped, which verified nothing: {}",
                    skipped.len(),
                    skipped.join(", ")
                )?;
            }
            return Ok(());
        }
        write!(f, "gate refused {}", self.candidate)?;
        if self.reports == 0 {
            write!(
                f,
                ": no contract report is stored for this digest (run `corebuild test` on it)"
            )?;
        }
        for s in &self.suites {
            let why = match &s.status {
                GateStatus::Passed => continue,
                GateStatus::Missing => "no stored report ran it".to_string(),
                GateStatus::Failed { tests } => format!("failed: {}", tests.join(", ")),
                GateStatus::Unverified { skipped } => {
                    format!("every test was skipped: {}", skipped.join(", "))
                }
                GateStatus::Outdated { tested } => format!(
                    "only tested at {} (rerun the tests)",
                    tested
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            write!(f, "\n  suite {} {}: {why}", s.name, s.version)?;
        }
        Ok(())
    }
}

/// Asks the store whether `candidate` may be published with the suites `declared`.
pub fn gate(store: &OciDir, candidate: &Digest, declared: &[SuiteRef]) -> Result<GateVerdict> {
    let reports = reports_for(store, candidate)?;
    Ok(decide(candidate, &reports, declared))
}

/// The gate's decision over already-read reports (oldest first). Reports about other
/// digests are ignored.
pub fn decide(
    candidate: &Digest,
    reports: &[ContractReport],
    declared: &[SuiteRef],
) -> GateVerdict {
    let ours: Vec<&ContractReport> = reports
        .iter()
        .filter(|r| &r.candidate == candidate)
        .collect();
    let suites = declared
        .iter()
        .map(|d| {
            let runs = ours
                .iter()
                .rev()
                .flat_map(|r| r.suites.iter().rev())
                .filter(|s| s.name == d.name);
            let mut tested = Vec::new();
            let mut status = None;
            let mut skipped = Vec::new();
            for s in runs {
                if s.version == d.version {
                    skipped = s.skipped();
                    let bad = s.not_passed();
                    status = Some(if !bad.is_empty() {
                        GateStatus::Failed { tests: bad }
                    } else if s.summary().passed == 0 {
                        GateStatus::Unverified {
                            skipped: s.results.iter().map(|r| r.name.clone()).collect(),
                        }
                    } else {
                        GateStatus::Passed
                    });
                    break;
                }
                if !tested.contains(&s.version) {
                    tested.push(s.version.clone());
                }
            }
            let status = status.unwrap_or(if tested.is_empty() {
                GateStatus::Missing
            } else {
                GateStatus::Outdated { tested }
            });
            SuiteVerdict {
                name: d.name.clone(),
                version: d.version.clone(),
                status,
                skipped,
            }
        })
        .collect();
    GateVerdict {
        candidate: candidate.clone(),
        reports: ours.len(),
        suites,
    }
}
