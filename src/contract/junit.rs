//! The report as JUnit XML, the shape CI systems (Jenkins, GitLab, GitHub annotations)
//! read: `testsuites` → one `testsuite` per contract suite, with `properties` naming the
//! candidate digest and the suite version → one `testcase` per test, with a `failure`,
//! `skipped` or `error` child. Deterministic: no timestamps or host names.

use super::report::{ContractReport, Outcome, SuiteReport};
use std::fmt::Write as _;

pub fn render(report: &ContractReport) -> String {
    let s = report.summary;
    let total_ms: u64 = report.suites.iter().map(SuiteReport::duration_ms).sum();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{}\">",
        attr(&format!("contract tests of {}", report.candidate)),
        s.tests,
        s.failed,
        s.errors,
        s.skipped,
        seconds(total_ms)
    );
    for (i, suite) in report.suites.iter().enumerate() {
        let ss = suite.summary();
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" id=\"{i}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{}\">",
            attr(&suite.name),
            ss.tests,
            ss.failed,
            ss.errors,
            ss.skipped,
            seconds(suite.duration_ms())
        );
        out.push_str("    <properties>\n");
        for (k, v) in [
            ("candidate", report.candidate.to_string()),
            ("suite.version", suite.version.to_string()),
        ] {
            let _ = writeln!(
                out,
                "      <property name=\"{}\" value=\"{}\"/>",
                attr(k),
                attr(&v)
            );
        }
        out.push_str("    </properties>\n");
        for r in &suite.results {
            let _ = write!(
                out,
                "    <testcase name=\"{}\" classname=\"{}\" time=\"{}\"",
                attr(&r.name),
                attr(&format!("{}.{}", suite.name, r.kind)),
                seconds(r.duration_ms)
            );
            let child = match &r.outcome {
                Outcome::Passed => None,
                Outcome::Failed { expected, actual } => Some(format!(
                    "<failure message=\"{}\" type=\"contract-failure\">{}</failure>",
                    attr(&format!("expected {expected}")),
                    text(&format!("expected: {expected}\nactual:   {actual}"))
                )),
                Outcome::Skipped { reason } => {
                    Some(format!("<skipped message=\"{}\"/>", attr(reason)))
                }
                Outcome::Error { message } => Some(format!(
                    "<error message=\"{}\" type=\"runner-error\">{}</error>",
                    attr(message),
                    text(message)
                )),
            };
            let note = r
                .regression_for
                .as_ref()
                .map(|b| format!("<system-out>regression test for {}</system-out>", text(b)));
            if child.is_none() && note.is_none() {
                out.push_str("/>\n");
                continue;
            }
            out.push_str(">\n");
            for c in child.iter().chain(&note) {
                let _ = writeln!(out, "      {c}");
            }
            out.push_str("    </testcase>\n");
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

fn seconds(ms: u64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

/// Escapes character data. Characters XML 1.0 cannot carry at all (most C0 controls,
/// U+FFFE, U+FFFF), which command output may hold, are written as `\u{..}` text.
fn text(s: &str) -> String {
    escape(s, false)
}

/// Escapes an attribute value; newlines and tabs become character references so that
/// attribute-value normalization does not turn them into spaces.
fn attr(s: &str) -> String {
    escape(s, true)
}

fn escape(s: &str, in_attr: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if in_attr => out.push_str("&quot;"),
            '\'' if in_attr => out.push_str("&apos;"),
            '\n' if in_attr => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' if in_attr => out.push_str("&#9;"),
            '\n' | '\t' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_unrepresentable_characters() {
        assert_eq!(text("a<b>&c"), "a&lt;b&gt;&amp;c");
        assert_eq!(
            attr("say \"hi\"\n'x'\t"),
            "say &quot;hi&quot;&#10;&apos;x&apos;&#9;"
        );
        assert_eq!(text("line\nnext\ttab"), "line\nnext\ttab");
        assert_eq!(
            text("bell\u{7}esc\u{1b}[0m nul\0"),
            "bell\\u{7}esc\\u{1b}[0m nul\\u{0}"
        );
        assert_eq!(text("\u{FFFF}é"), "\\u{ffff}é");
        assert_eq!(text("]]>"), "]]&gt;");
    }

    #[test]
    fn seconds_have_millisecond_precision() {
        assert_eq!(seconds(0), "0.000");
        assert_eq!(seconds(1234), "1.234");
        assert_eq!(seconds(60_005), "60.005");
    }
}
