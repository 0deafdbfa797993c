//! The human report: one line per test, then expected vs actual for each failure and
//! error, then a summary line. Also the helpers that keep quoted output short.

use super::report::{ContractReport, Outcome};
use std::fmt::Write as _;

/// The report as a person reads it in a terminal or a CI log.
pub fn render(report: &ContractReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "contract tests of {}", report.candidate);
    for s in &report.suites {
        let sum = s.summary();
        let _ = writeln!(
            out,
            "\nsuite {} {} ({} tests)",
            s.name, s.version, sum.tests
        );
        for r in &s.results {
            let tag = match r.outcome {
                Outcome::Passed => "ok",
                Outcome::Failed { .. } => "FAIL",
                Outcome::Skipped { .. } => "skip",
                Outcome::Error { .. } => "ERROR",
            };
            let mut line = format!("  {tag:<5} {} [{}]", r.name, r.kind);
            if let Some(bug) = &r.regression_for {
                let _ = write!(line, " (regression test for {bug})");
            }
            let _ = write!(line, " {}ms", r.duration_ms);
            if let Outcome::Skipped { reason } = &r.outcome {
                let _ = write!(line, ": {reason}");
            }
            let _ = writeln!(out, "{line}");
        }
    }
    let bad: Vec<_> = report
        .suites
        .iter()
        .flat_map(|s| s.results.iter().map(move |r| (s, r)))
        .filter(|(_, r)| matches!(r.outcome, Outcome::Failed { .. } | Outcome::Error { .. }))
        .collect();
    if !bad.is_empty() {
        let _ = writeln!(out, "\nfailures:");
        for (s, r) in bad {
            let _ = writeln!(out, "\n  {}/{} [{}]", s.name, r.name, r.kind);
            match &r.outcome {
                Outcome::Failed { expected, actual } => {
                    let _ = writeln!(out, "    expected: {expected}");
                    let _ = writeln!(out, "    actual:   {actual}");
                }
                Outcome::Error { message } => {
                    let _ = writeln!(out, "    runner error: {message}");
                }
                _ => {}
            }
        }
    }
    let s = report.summary;
    let verdict = if s.errors > 0 {
        "ERROR (the runner broke; results are incomplete)"
    } else if s.failed > 0 {
        "FAILED"
    } else {
        "PASSED"
    };
    let _ = writeln!(
        out,
        "\n{verdict}: {} tests in {} suites: {} passed, {} failed, {} skipped, {} errors",
        s.tests,
        report.suites.len(),
        s.passed,
        s.failed,
        s.skipped,
        s.errors
    );
    out
}

/// `s` cut to at most `max` characters, with an ellipsis when cut.
pub fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
    t.push('…');
    t
}

/// The last `max` bytes of output as text (lossy), marked when cut.
pub fn tail(bytes: &[u8], max: usize) -> String {
    if bytes.len() <= max {
        return String::from_utf8_lossy(bytes).into_owned();
    }
    format!("…{}", String::from_utf8_lossy(&bytes[bytes.len() - max..]))
}
