//! Suite parsing: the full fixture, and one fixture per error class with its line and column.

use super::fixture;
use crate::contract::*;
use crate::debian::version::Relation;
use std::time::Duration;

#[test]
fn everything_parses() {
    let s = load_suite(&fixture("everything.toml")).unwrap();
    assert_eq!(s.name, "everything");
    assert_eq!(s.version, semver::Version::new(1, 2, 0));
    let kinds: Vec<TestKind> = s.tests.iter().map(|t| t.check.kind()).collect();
    use TestKind::*;
    assert_eq!(
        kinds,
        [
            Command, File, File, File, File, Metadata, Package, Package, Package, Library, Service,
            Boot
        ]
    );
    let Check::Command(c) = &s.tests[0].check else {
        panic!()
    };
    assert_eq!(c.spec.argv[0], "/bin/sh");
    assert_eq!(c.exit, 3);
    assert_eq!(c.spec.timeout, Duration::from_secs(10));
    assert_eq!(c.spec.user.as_deref(), Some("nobody"));
    assert_eq!(c.spec.env["LANG"], "C.UTF-8");
    assert!(c.stdout.as_ref().unwrap().is_match(b"x\nhello\n"));
    assert!(c.stdout_excludes.as_ref().unwrap().is_match(b"ERROR"));
    assert_eq!(s.tests[0].line, 7);

    let t = &s.tests[1];
    assert_eq!(t.regression_for.as_deref(), Some("BUG-42"));
    let Check::File(f) = &t.check else { panic!() };
    assert_eq!((f.mode, f.uid, f.gid), (Some(0o644), Some(0), Some(0)));
    assert_eq!(f.file_type, Some(FileType::File));
    assert!(f.exists && !f.is_about_link());
    let Check::File(f) = &s.tests[2].check else {
        panic!()
    };
    assert_eq!(f.mode, Some(0o1777));
    let Check::File(f) = &s.tests[3].check else {
        panic!()
    };
    assert!(f.is_about_link());
    assert_eq!(f.target.as_deref(), Some("dash"));
    let Check::File(f) = &s.tests[4].check else {
        panic!()
    };
    assert!(!f.exists);

    let Check::Metadata(m) = &s.tests[5].check else {
        panic!()
    };
    assert_eq!(m.exposed_ports, ["8080/tcp", "53/udp"]);
    assert_eq!(
        m.cmd.as_deref(),
        Some(&["-c".to_string(), "true".into()][..])
    );
    assert!(m.labels["org.opencontainers.image.vendor"].is_match(b"Core Team"));

    let Check::Package(p) = &s.tests[6].check else {
        panic!()
    };
    match &p.expect {
        PackageExpect::Installed(Some(c)) => {
            assert_eq!(c.relation, Relation::GreaterOrEqual);
            assert_eq!(c.version.to_string(), "2.36");
        }
        other => panic!("{other:?}"),
    }
    let Check::Package(p) = &s.tests[7].check else {
        panic!()
    };
    assert_eq!(p.expect, PackageExpect::Absent);
    let Check::Package(p) = &s.tests[8].check else {
        panic!()
    };
    assert_eq!(
        (p.name.as_str(), &p.expect),
        ("bash:amd64", &PackageExpect::Installed(None))
    );

    let Check::Library(l) = &s.tests[9].check else {
        panic!()
    };
    assert_eq!(l.provides, ["GLIBC_2.34", "GLIBC_2.2.5"]);
    let Check::Service(sv) = &s.tests[10].check else {
        panic!()
    };
    assert_eq!(sv.spec.port, 8080);
    assert_eq!(sv.spec.http.as_deref(), Some("/healthz"));
    assert_eq!(sv.status, 204);
    assert_eq!(sv.spec.ready_timeout, Duration::from_secs(5));
    let Check::Boot(b) = &s.tests[11].check else {
        panic!()
    };
    assert_eq!(b.timeout, Duration::from_secs(180));
    assert_eq!(b.expect.source, "login:");
}

#[test]
fn defaults() {
    let s = parse_suite(
        std::path::Path::new("/x/d.toml"),
        r#"
name = "d"
version = "0.1.0"
description = "defaults"
[[test]]
name = "c"
command = ["/bin/true"]
[[test]]
name = "s"
service = ["/bin/daemon"]
http = "/"
[[test]]
name = "b"
boot = { expect = "login:" }
"#,
    )
    .unwrap();
    let Check::Command(c) = &s.tests[0].check else {
        panic!()
    };
    assert_eq!((c.exit, c.spec.timeout), (0, Duration::from_secs(60)));
    let Check::Service(sv) = &s.tests[1].check else {
        panic!()
    };
    assert_eq!((sv.spec.port, sv.status), (80, 200));
    assert_eq!(sv.spec.ready_timeout, Duration::from_secs(30));
    let Check::Boot(b) = &s.tests[2].check else {
        panic!()
    };
    assert_eq!(b.timeout, Duration::from_secs(120));
}

/// Each bad fixture: the line and column of the error, and words its message must hold.
#[test]
fn errors_name_file_line_and_column() {
    let cases: &[(&str, usize, usize, &[&str])] = &[
        (
            "unknown_key",
            8,
            1,
            &["unknown field `contians`", "did you mean `contains`?"],
        ),
        (
            "two_kinds",
            8,
            8,
            &["two kinds", "`command` (line 7)", "`file`", "split"],
        ),
        (
            "no_kind",
            6,
            8,
            &["\"lonely\" has no kind", "command, file, metadata"],
        ),
        ("bad_regex", 8, 10, &["invalid regex", "unclosed group"]),
        ("bad_mode", 8, 8, &["\"0891\" is not an octal mode"]),
        ("integer_mode", 8, 8, &["octal digits", "mode = \"0644\""]),
        ("bad_duration", 8, 11, &["\"30 seconds\"", "unknown unit"]),
        (
            "duplicate_name",
            10,
            1,
            &["duplicate test name \"same\"", "first defined on line 6"],
        ),
        (
            "wrong_kind_option",
            8,
            8,
            &[
                "`exit` does not apply to a file test",
                "belongs to command tests",
            ],
        ),
        ("bad_constraint", 8, 11, &["ambiguous", ">="]),
        (
            "absent_with_mode",
            9,
            8,
            &["`mode` cannot be checked on a file that must not exist"],
        ),
        (
            "bad_suite_version",
            2,
            11,
            &["invalid suite version \"1.0\""],
        ),
        (
            "boot_unknown",
            7,
            29,
            &["unknown field `timout`", "did you mean `timeout`?"],
        ),
        ("metadata_regex", 7, 29, &["invalid regex \"[\""]),
        (
            "unknown_firmware",
            7,
            49,
            &["unknown firmware \"efi\"", "[\"bios\", \"uefi\"]"],
        ),
        ("status_without_http", 9, 10, &["`status` needs `http`"]),
        (
            "name_mismatch",
            1,
            8,
            &["declares name \"something-else\"", "match its file name"],
        ),
    ];
    for (name, line, col, words) in cases {
        let path = fixture(&format!("bad/{name}.toml"));
        let err = load_suite(&path).expect_err(name);
        assert_eq!(err.file, path, "{name}: {err}");
        assert_eq!(
            (err.line, err.column),
            (Some(*line), Some(*col)),
            "{name}: wrong position in: {err}"
        );
        let text = err.to_string();
        for w in *words {
            assert!(text.contains(w), "{name}: {w:?} not in: {text}");
        }
        // Suite errors are bad input: exit 2.
        assert_eq!(crate::error::exit_code(&err.into()), 2, "{name}");
    }
}

#[test]
fn whole_file_errors() {
    let path = fixture("bad/no_tests.toml");
    let err = load_suite(&path).unwrap_err();
    assert_eq!((err.file.as_path(), err.line), (path.as_path(), None));
    assert!(err.to_string().contains("no tests"), "{err}");
    let missing = fixture("bad/does-not-exist.toml");
    assert!(load_suite(&missing)
        .unwrap_err()
        .to_string()
        .contains("cannot read"));
}

/// Every fixture in bad/ is covered by a test above, so a new one cannot be forgotten.
#[test]
fn every_bad_fixture_is_tested() {
    let src = include_str!("parse_tests.rs");
    for e in std::fs::read_dir(fixture("bad")).unwrap() {
        let stem = e
            .unwrap()
            .path()
            .file_stem()
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        assert!(
            src.contains(&format!("\"{stem}\"")) || src.contains(&format!("bad/{stem}.toml")),
            "{stem}"
        );
    }
}

#[test]
fn suite_ref_from_a_blueprint_must_still_match() {
    let path = fixture("everything.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut r = crate::blueprint::SuiteRef {
        name: "everything".into(),
        path: path.clone(),
        version: semver::Version::new(1, 2, 0),
        description: "One of each test kind".into(),
        raw: toml::from_str(&text).unwrap(),
    };
    assert_eq!(load_suite_ref(&r).unwrap().tests.len(), 12);
    r.version = semver::Version::new(1, 1, 0);
    let e = load_suite_ref(&r).unwrap_err();
    assert!(e.to_string().contains("changed while in use"), "{e}");
}

/// The real suites other teams keep in the repository's contract-tests/ parse.
#[test]
fn the_repositorys_suites_parse() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("contract-tests");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return; // no suites in this checkout yet
    };
    for e in entries {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "toml") {
            load_suite(&p).unwrap_or_else(|e| panic!("{e}"));
        }
    }
}
