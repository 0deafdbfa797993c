//! The contract in words, from the contract reports attached to a release: each suite
//! with its version and counts, each test with its kind and outcome, regression tests
//! with the bug they guard, and why a test was skipped.

use super::super::html::esc;
use crate::contract::{ContractReport, Outcome, SuiteReport};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The contract section body (`level` is the heading level of each suite).
pub fn render(reports: &[ContractReport], level: usize) -> String {
    if reports.is_empty() {
        return "<p class=\"notice\">No contract report is attached to this release.</p>\n".into();
    }
    // A suite run in several reports is shown once (its first, in digest order).
    let mut suites: BTreeMap<(String, String), &SuiteReport> = BTreeMap::new();
    for r in reports {
        for s in &r.suites {
            suites
                .entry((s.name.clone(), s.version.to_string()))
                .or_insert(s);
        }
    }
    let mut out = String::from(
        "<p>What consumers may rely on for this major version, as the contract tests checked it \
         on this exact digest before it was published.</p>\n",
    );
    for s in suites.values() {
        suite(&mut out, s, level);
    }
    out
}

fn suite(out: &mut String, s: &SuiteReport, level: usize) {
    let sum = s.summary();
    let _ = write!(
        out,
        "<h{level}>Suite {} {}</h{level}>\n<p>{} test{}: {} passed, {} skipped, {} failed, {} errors. {}</p>\n<ul>\n",
        esc(&s.name),
        esc(&s.version.to_string()),
        sum.tests,
        if sum.tests == 1 { "" } else { "s" },
        sum.passed,
        sum.skipped,
        sum.failed,
        sum.errors,
        if s.passed() { "The suite passed." } else { "<strong>The suite did not pass.</strong>" }
    );
    for t in &s.results {
        let outcome = match &t.outcome {
            Outcome::Passed => "passed".to_string(),
            Outcome::Skipped { reason } => format!("skipped ({})", esc(reason)),
            Outcome::Failed { expected, actual } => format!(
                "<strong>FAILED</strong>: expected {}, got {}",
                esc(expected),
                esc(actual)
            ),
            Outcome::Error { message } => format!("<strong>ERROR</strong>: {}", esc(message)),
        };
        let reg = t
            .regression_for
            .as_deref()
            .map(|r| format!(", a regression test for {}", esc(r)))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "<li><strong>{}</strong> ({} test{reg}): {outcome}</li>",
            esc(&t.name),
            esc(&t.kind.to_string())
        );
    }
    out.push_str("</ul>\n");
}
