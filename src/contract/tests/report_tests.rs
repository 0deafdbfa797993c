//! Reports: the human text, stable JSON, and JUnit XML read back by an independent XML
//! parser and checked against the common JUnit schema's structure.

use crate::contract::*;
use crate::digest::Digest;
use std::collections::BTreeMap;

fn result(name: &str, kind: TestKind, outcome: Outcome, ms: u64) -> TestResult {
    TestResult {
        name: name.into(),
        kind,
        regression_for: None,
        firmware: None,
        target: None,
        outcome,
        duration_ms: ms,
    }
}

/// A report with every outcome and text that needs escaping everywhere.
pub fn sample(candidate: &Digest) -> ContractReport {
    let mut regression = result("telnetd gone", TestKind::Package, Outcome::Passed, 2);
    regression.regression_for = Some("BUG-7".into());
    ContractReport::new(
        candidate.clone(),
        vec![
            SuiteReport {
                name: "posix-base".into(),
                version: semver::Version::new(1, 0, 0),
                results: vec![
                    result("passwd", TestKind::File, Outcome::Passed, 1),
                    regression,
                    result(
                        "shell <&> \"quoted\"",
                        TestKind::Command,
                        Outcome::failed(
                            "exit 0; stdout matching /^a&b<c>$/",
                            "exit 1; stdout: \"\u{1b}[31mred\u{1b}[0m\\n\"\nsecond line",
                        ),
                        1500,
                    ),
                    result(
                        "boots",
                        TestKind::Boot,
                        Outcome::Skipped {
                            reason: "no VM disk".into(),
                        },
                        0,
                    ),
                ],
            },
            SuiteReport {
                name: "hardening".into(),
                version: semver::Version::new(0, 3, 1),
                results: vec![result(
                    "sshd",
                    TestKind::Service,
                    Outcome::error("runc: not installed 'here'"),
                    7,
                )],
            },
        ],
    )
}

fn digest() -> Digest {
    Digest::of_bytes(b"candidate")
}

#[test]
fn text_has_a_line_per_test_then_failures_then_summary() {
    let text = sample(&digest()).to_text();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], format!("contract tests of {}", digest()));
    assert!(
        text.contains("\nsuite posix-base 1.0.0 (4 tests)\n"),
        "{text}"
    );
    assert!(text.contains("  ok    passwd [file] 1ms\n"), "{text}");
    assert!(text.contains("  ok    telnetd gone [package] (regression test for BUG-7) 2ms\n"));
    assert!(text.contains("  FAIL  shell <&> \"quoted\" [command] 1500ms\n"));
    assert!(text.contains("  skip  boots [boot] 0ms: no VM disk\n"));
    assert!(text.contains("  ERROR sshd [service] 7ms\n"));
    let failures = text.find("\nfailures:\n").expect("a failures section");
    assert!(text[failures..]
        .contains("  posix-base/shell <&> \"quoted\" [command]\n    expected: exit 0;"));
    assert!(text[failures..].contains("    actual:   exit 1;"));
    assert!(text[failures..].contains("  hardening/sshd [service]\n    runner error: runc"));
    assert_eq!(
        *lines.last().unwrap(),
        "ERROR (the runner broke; results are incomplete): 5 tests in 2 suites: 2 passed, 1 failed, 1 skipped, 1 errors"
    );
}

#[test]
fn json_is_stable_and_round_trips() {
    let r = sample(&digest());
    let json = r.to_json();
    assert_eq!(json, sample(&digest()).to_json(), "same report, same bytes");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["candidate"], digest().to_string());
    assert_eq!(v["summary"]["tests"], 5);
    assert_eq!(v["summary"]["errors"], 1);
    let t = &v["suites"][0]["results"][2];
    assert_eq!(t["kind"], "command");
    assert_eq!(t["outcome"]["status"], "failed");
    assert!(t["outcome"]["expected"]
        .as_str()
        .unwrap()
        .starts_with("exit 0"));
    assert_eq!(v["suites"][0]["results"][1]["regression_for"], "BUG-7");
    assert!(v["suites"][0]["results"][0].get("regression_for").is_none());
    assert_eq!(v["suites"][0]["version"], "1.0.0");
    // Keys appear in declaration order, so the bytes do not depend on a map's order.
    let order: Vec<usize> = ["\"candidate\"", "\"suites\"", "\"summary\""]
        .iter()
        .map(|k| json.find(k).unwrap())
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{json}");
    let back = ContractReport::from_json(json.as_bytes()).unwrap();
    assert_eq!(back, r);
}

#[test]
fn stored_summary_is_recomputed_not_trusted() {
    let mut v: serde_json::Value = serde_json::from_str(&sample(&digest()).to_json()).unwrap();
    v["summary"]["failed"] = 0.into();
    v["summary"]["errors"] = 0.into();
    let r = ContractReport::from_json(v.to_string().as_bytes()).unwrap();
    assert!(!r.passed());
    assert_eq!(r.summary.failed, 1);
}

/// A parsed XML element.
#[derive(Debug, Default)]
struct El {
    name: String,
    attrs: BTreeMap<String, String>,
    children: Vec<El>,
    text: String,
}

impl El {
    fn attr(&self, k: &str) -> &str {
        self.attrs
            .get(k)
            .unwrap_or_else(|| panic!("<{}> has no {k}", self.name))
    }
    fn kids(&self, name: &str) -> Vec<&El> {
        self.children.iter().filter(|c| c.name == name).collect()
    }
}

/// Parses with quick-xml (an independent reader) into a tree; any malformed XML panics.
fn parse_xml(xml: &str) -> El {
    use quick_xml::events::{BytesStart, Event};
    let element = |e: &BytesStart| El {
        name: e.name().as_ref().to_string(),
        attrs: e
            .attributes()
            .map(|a| {
                let a = a.expect("well-formed attribute");
                (
                    a.key.as_ref().to_string(),
                    a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .expect("valid escapes")
                        .into_owned(),
                )
            })
            .collect(),
        ..Default::default()
    };
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut stack = vec![El::default()];
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Start(e) => stack.push(element(&e)),
            Event::Empty(e) => {
                let el = element(&e);
                stack.last_mut().unwrap().children.push(el);
            }
            Event::End(_) => {
                let el = stack.pop().unwrap();
                stack.last_mut().unwrap().children.push(el);
            }
            Event::Text(t) => stack.last_mut().unwrap().text.push_str(&t.xml10_content()),
            Event::GeneralRef(r) => {
                let name = r.into_inner().into_owned();
                let c = match name.as_str() {
                    "amp" => "&".to_string(),
                    "lt" => "<".into(),
                    "gt" => ">".into(),
                    "quot" => "\"".into(),
                    "apos" => "'".into(),
                    n => {
                        let code = n
                            .strip_prefix("#x")
                            .map(|h| u32::from_str_radix(h, 16))
                            .or_else(|| n.strip_prefix('#').map(str::parse))
                            .expect("known entity")
                            .unwrap();
                        char::from_u32(code).unwrap().to_string()
                    }
                };
                stack.last_mut().unwrap().text.push_str(&c);
            }
            Event::Eof => break,
            Event::Decl(_) => {}
            other => panic!("unexpected XML event {other:?}"),
        }
    }
    assert_eq!(stack.len(), 1);
    let mut doc = stack.pop().unwrap();
    assert_eq!(doc.children.len(), 1, "one root element");
    doc.children.pop().unwrap()
}

fn number(el: &El, k: &str) -> usize {
    el.attr(k)
        .parse()
        .unwrap_or_else(|_| panic!("{k} of <{}>", el.name))
}

/// The structure of the common JUnit schema (Jenkins' junit-10.xsd, which GitLab and
/// most CI readers follow): element names and nesting, required attributes, and counts
/// that agree with the children.
fn check_junit_structure(root: &El) {
    assert_eq!(root.name, "testsuites");
    let mut totals = [0; 4];
    for suite in &root.children {
        assert_eq!(suite.name, "testsuite");
        for k in ["name", "tests", "failures", "errors", "skipped", "time"] {
            assert!(suite.attrs.contains_key(k), "testsuite lacks {k}");
        }
        suite.attr("time").parse::<f64>().unwrap();
        let mut counts = [0; 4];
        for (i, c) in suite.children.iter().enumerate() {
            match c.name.as_str() {
                "properties" => {
                    assert_eq!(i, 0, "properties come first");
                    for p in &c.children {
                        assert_eq!(p.name, "property");
                        p.attr("name");
                        p.attr("value");
                    }
                }
                "testcase" => {
                    counts[0] += 1;
                    c.attr("name");
                    c.attr("classname");
                    c.attr("time").parse::<f64>().unwrap();
                    let outcomes: Vec<&El> = c
                        .children
                        .iter()
                        .filter(|k| ["failure", "error", "skipped"].contains(&k.name.as_str()))
                        .collect();
                    assert!(outcomes.len() <= 1, "at most one outcome per testcase");
                    for k in &c.children {
                        match k.name.as_str() {
                            "failure" => counts[1] += 1,
                            "error" => counts[2] += 1,
                            "skipped" => counts[3] += 1,
                            "system-out" | "system-err" => {}
                            other => panic!("unexpected <{other}> in testcase"),
                        }
                    }
                }
                "system-out" | "system-err" => {}
                other => panic!("unexpected <{other}> in testsuite"),
            }
        }
        let declared = [
            number(suite, "tests"),
            number(suite, "failures"),
            number(suite, "errors"),
            number(suite, "skipped"),
        ];
        assert_eq!(declared, counts, "counts of {}", suite.attr("name"));
        for i in 0..4 {
            totals[i] += counts[i];
        }
    }
    let declared = [
        number(root, "tests"),
        number(root, "failures"),
        number(root, "errors"),
        number(root, "skipped"),
    ];
    assert_eq!(declared, totals);
}

#[test]
fn junit_reads_back_with_the_common_schema_structure() {
    let r = sample(&digest());
    let xml = r.to_junit();
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"));
    let root = parse_xml(&xml);
    check_junit_structure(&root);
    assert_eq!(root.attr("time"), "1.510");

    let suites = root.kids("testsuite");
    assert_eq!(suites.len(), 2);
    let base = suites[0];
    assert_eq!(base.attr("name"), "posix-base");
    let props: BTreeMap<&str, &str> = base.kids("properties")[0]
        .children
        .iter()
        .map(|p| (p.attr("name"), p.attr("value")))
        .collect();
    assert_eq!(props["candidate"], digest().to_string());
    assert_eq!(props["suite.version"], "1.0.0");

    let cases = base.kids("testcase");
    assert_eq!(
        cases[1].kids("system-out")[0].text,
        "regression test for BUG-7"
    );
    // Escaped text comes back exactly, newlines in attributes included; characters XML
    // cannot carry are spelled out instead of breaking the document.
    let shell = cases[2];
    assert_eq!(shell.attr("name"), "shell <&> \"quoted\"");
    assert_eq!(shell.attr("classname"), "posix-base.command");
    assert_eq!(shell.attr("time"), "1.500");
    let failure = shell.kids("failure")[0];
    assert_eq!(
        failure.attr("message"),
        "expected exit 0; stdout matching /^a&b<c>$/"
    );
    assert_eq!(
        failure.text,
        "expected: exit 0; stdout matching /^a&b<c>$/\nactual:   exit 1; stdout: \"\\u{1b}[31mred\\u{1b}[0m\\n\"\nsecond line"
    );
    assert_eq!(cases[3].kids("skipped")[0].attr("message"), "no VM disk");
    let error = suites[1].kids("testcase")[0].kids("error")[0];
    assert_eq!(error.attr("message"), "runc: not installed 'here'");
    assert_eq!(error.text, "runc: not installed 'here'");
}

#[test]
fn junit_of_an_empty_report_is_still_valid() {
    let r = ContractReport::new(digest(), vec![]);
    let root = parse_xml(&r.to_junit());
    check_junit_structure(&root);
    assert_eq!(root.attr("tests"), "0");
}
