//! The contract report: one result per test, per suite, for one candidate digest. Its
//! JSON form (serde, fields in declaration order, tests in suite order) is what CI reads
//! and what the store keeps beside the candidate.

use super::schema::{Target, TestKind};
use crate::digest::Digest;
use crate::disk::Firmware;
use serde::{Deserialize, Serialize};

/// What came of one test. `Failed` means the candidate is bad; `Error` means the runner
/// broke (a missing runtime, an I/O error) and says nothing about the candidate, but is
/// never counted as a pass.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum Outcome {
    Passed,
    Failed { expected: String, actual: String },
    Skipped { reason: String },
    Error { message: String },
}

impl Outcome {
    pub fn failed(expected: impl Into<String>, actual: impl Into<String>) -> Self {
        Outcome::Failed {
            expected: expected.into(),
            actual: actual.into(),
        }
    }

    pub fn error(message: impl Into<String>) -> Self {
        Outcome::Error {
            message: message.into(),
        }
    }

    /// The word reports print for it.
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Passed => "passed",
            Outcome::Failed { .. } => "failed",
            Outcome::Skipped { .. } => "skipped",
            Outcome::Error { .. } => "error",
        }
    }
}

/// One run of one test. A `boot` test gives one per firmware it boots under (`firmware`
/// set, name suffixed ` [bios]`/` [uefi]`); a `command` test of a suite with the `vm`
/// target gives one more, run inside the VM (`target: vm`, name suffixed ` [vm]`). Names
/// stay unique within a suite.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestResult {
    pub name: String,
    pub kind: TestKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regression_for: Option<String>,
    /// The firmware a boot test's run booted under (absent: a direct kernel boot, or not
    /// a boot test).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "firmware_field"
    )]
    pub firmware: Option<Firmware>,
    /// Where a command test ran when it was not the container (absent: the container).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Target>,
    pub outcome: Outcome,
    pub duration_ms: u64,
}

impl TestResult {
    /// A result of the test as written (no firmware, the container), not yet timed.
    pub fn new(
        name: &str,
        kind: TestKind,
        regression_for: Option<String>,
        outcome: Outcome,
    ) -> Self {
        TestResult {
            name: name.to_string(),
            kind,
            regression_for,
            firmware: None,
            target: None,
            outcome,
            duration_ms: 0,
        }
    }

    /// The result name of a run under `firmware`.
    pub fn firmware_name(test: &str, firmware: Firmware) -> String {
        format!("{test} [{firmware}]")
    }

    /// The result name of a command test run inside the VM.
    pub fn vm_name(test: &str) -> String {
        format!("{test} [vm]")
    }
}

/// `Firmware` as its lowercase name in a report (`bios`, `uefi`).
mod firmware_field {
    use crate::disk::Firmware;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(f: &Option<Firmware>, s: S) -> Result<S::Ok, S::Error> {
        match f {
            Some(f) => s.serialize_str(f.as_str()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Firmware>, D::Error> {
        match Option::<String>::deserialize(d)? {
            None => Ok(None),
            Some(s) => Firmware::parse(&s)
                .map(Some)
                .ok_or_else(|| serde::de::Error::custom(format!("unknown firmware {s:?}"))),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuiteReport {
    pub name: String,
    pub version: semver::Version,
    pub results: Vec<TestResult>,
}

impl SuiteReport {
    /// A suite passes when no test failed or errored; skipped tests do not fail it.
    pub fn passed(&self) -> bool {
        self.summary().passed()
    }

    pub fn summary(&self) -> Summary {
        Summary::of(&self.results)
    }

    /// The tests that were skipped, `name (reason)`, in suite order: each verified nothing.
    pub fn skipped(&self) -> Vec<String> {
        self.results
            .iter()
            .filter_map(|r| match &r.outcome {
                Outcome::Skipped { reason } => Some(format!("{} ({reason})", r.name)),
                _ => None,
            })
            .collect()
    }

    /// Names of the tests that failed or errored, in suite order.
    pub fn not_passed(&self) -> Vec<String> {
        self.results
            .iter()
            .filter(|r| matches!(r.outcome, Outcome::Failed { .. } | Outcome::Error { .. }))
            .map(|r| r.name.clone())
            .collect()
    }

    pub fn duration_ms(&self) -> u64 {
        self.results.iter().map(|r| r.duration_ms).sum()
    }
}

/// Counts of outcomes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub tests: usize,
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    pub errors: usize,
}

impl Summary {
    pub fn of<'a>(results: impl IntoIterator<Item = &'a TestResult>) -> Self {
        let mut s = Summary::default();
        for r in results {
            s.tests += 1;
            match r.outcome {
                Outcome::Passed => s.passed += 1,
                Outcome::Failed { .. } => s.failed += 1,
                Outcome::Skipped { .. } => s.skipped += 1,
                Outcome::Error { .. } => s.errors += 1,
            }
        }
        s
    }

    pub fn passed(&self) -> bool {
        self.failed == 0 && self.errors == 0
    }
}

/// The results of running suites against one candidate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContractReport {
    /// The candidate's manifest digest: the report is about exactly this image.
    pub candidate: Digest,
    pub suites: Vec<SuiteReport>,
    /// Over all suites; kept in sync by [`ContractReport::new`].
    pub summary: Summary,
}

impl ContractReport {
    pub fn new(candidate: Digest, suites: Vec<SuiteReport>) -> Self {
        let summary = Summary::of(suites.iter().flat_map(|s| &s.results));
        ContractReport {
            candidate,
            suites,
            summary,
        }
    }

    /// No test failed and the runner never broke.
    pub fn passed(&self) -> bool {
        self.summary.passed()
    }

    /// 0 passed; 3 the runner broke somewhere (the results are incomplete, whatever else
    /// failed); 1 a test failed.
    pub fn exit_code(&self) -> i32 {
        if self.summary.errors > 0 {
            crate::error::Kind::Environment.exit_code()
        } else if self.summary.failed > 0 {
            crate::error::Kind::Failed.exit_code()
        } else {
            0
        }
    }

    /// `Ok` when passed; otherwise a classified error (exit 1 or 3) naming what did not pass.
    pub fn check(&self) -> anyhow::Result<()> {
        if self.passed() {
            return Ok(());
        }
        let mut bad = Vec::new();
        for s in &self.suites {
            for n in s.not_passed() {
                bad.push(format!("{}/{n}", s.name));
            }
        }
        let s = self.summary;
        let msg = format!(
            "contract tests of {} did not pass ({} failed, {} errors): {}",
            self.candidate,
            s.failed,
            s.errors,
            bad.join(", ")
        );
        Err(if s.errors > 0 {
            crate::error::environment(msg)
        } else {
            crate::error::failed(msg)
        })
    }

    /// The human form: a line per test, expected vs actual for failures, a summary.
    pub fn to_text(&self) -> String {
        super::text::render(self)
    }

    /// JUnit XML for CI test views.
    pub fn to_junit(&self) -> String {
        super::junit::render(self)
    }

    /// The JSON form: pretty, fields in declaration order, tests in suite order.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a report always serializes")
    }

    /// Parses a stored report; the summary is recomputed rather than trusted.
    pub fn from_json(bytes: &[u8]) -> serde_json::Result<Self> {
        let r: ContractReport = serde_json::from_slice(bytes)?;
        Ok(ContractReport::new(r.candidate, r.suites))
    }
}
