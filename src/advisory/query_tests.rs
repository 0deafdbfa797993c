//! Unit tests of the query's matching.

use super::*;
use crate::advisory::sbom_read::{File, Package};
use crate::catalog::StatusChange;

fn pkg(name: &str, version: &str) -> Package {
    Package {
        name: name.into(),
        version: version.into(),
        arch: "amd64".into(),
    }
}

fn release(name: &str, version: &str, n: u8, packages: Vec<Package>) -> ReleaseFacts {
    ReleaseFacts {
        name: name.into(),
        release: Release {
            version: version.into(),
            digest: Digest::of_bytes(&[n]),
            released: "2025-01-01T00:00:00Z".into(),
            end_of_support: Some("2027-06-30".into()),
            status: Status::Released,
            channels: Vec::new(),
            history: Vec::new(),
        },
        sbom: Some(Facts {
            packages,
            files: vec![
                File {
                    path: "/usr/lib/libcore.so.1".into(),
                    packages: vec!["corelib".into()],
                },
                File {
                    path: "/etc/motd".into(),
                    packages: vec![],
                },
            ],
        }),
        vex: Vec::new(),
    }
}

fn fixed_vex(r: &ReleaseFacts, cve: &str, package: &str, version: &str) -> vex::Document {
    vex::Document {
        context: vex::CONTEXT.into(),
        id: "https://example/vex".into(),
        author: "corebuild".into(),
        timestamp: "2025-01-01T00:00:00Z".into(),
        version: 1,
        statements: vec![vex::Statement {
            vulnerability: vex::Vulnerability { name: cve.into() },
            products: vec![vex::Product {
                id: format!(
                    "pkg:oci/{}@{}",
                    r.name,
                    crate::percent::encode(&r.release.digest.to_string())
                ),
                subcomponents: vec![vex::Subcomponent {
                    id: format!("pkg:deb/debian/{package}@{version}?arch=amd64"),
                }],
            }],
            status: "fixed".into(),
        }],
    }
}

fn catalog() -> Vec<ReleaseFacts> {
    let mut a1 = release(
        "a",
        "1.0.0",
        1,
        vec![pkg("corelib", "1.0-1"), pkg("zlib1g", "1:1.2")],
    );
    a1.release.channels = vec!["stable".into()];
    let mut a2 = release("a", "1.0.1", 2, vec![pkg("corelib", "1.0-2")]);
    a2.vex = vec![fixed_vex(&a2, "CVE-2026-0001", "corelib", "1.0-2")];
    let a10 = release("a", "1.0.10", 3, vec![pkg("corelib", "1.0-2")]);
    let mut b = release("b", "2.0.0", 4, vec![pkg("corelib", "0.9-1")]);
    b.release.status = Status::Revoked;
    b.release.history = vec![StatusChange {
        status: Status::Revoked,
        time: "t".into(),
        reason: "broken".into(),
        event: "e".into(),
    }];
    let mut c = release("c", "1.0.0", 5, vec![pkg("other", "1")]);
    c.sbom = None;
    vec![a10, b, a2, a1, c]
}

fn versions(m: &[Match]) -> Vec<String> {
    m.iter()
        .map(|m| format!("{}:{}", m.name, m.version))
        .collect()
}

#[test]
fn package_by_name_and_constraint_in_version_order() {
    let all = find(&Query::package("corelib", None).unwrap(), &catalog());
    assert_eq!(
        versions(&all),
        ["a:1.0.0", "a:1.0.1", "a:1.0.10", "b:2.0.0"]
    );
    assert_eq!(all[0].channels, ["stable"]);
    assert_eq!(all[3].status, Status::Revoked);
    assert_eq!(all[3].reason.as_deref(), Some("broken"));
    let old = find(
        &Query::package("corelib", Some("<< 1.0-2")).unwrap(),
        &catalog(),
    );
    assert_eq!(versions(&old), ["a:1.0.0", "b:2.0.0"]);
    let epoch = find(
        &Query::package("zlib1g", Some(">= 1.3")).unwrap(),
        &catalog(),
    );
    assert_eq!(versions(&epoch), ["a:1.0.0"], "1:1.2 > 1.3: the epoch wins");
    let arch = find(&Query::package("corelib:i386", None).unwrap(), &catalog());
    assert!(arch.is_empty());
    assert!(find(&Query::package("nothing", None).unwrap(), &catalog()).is_empty());
}

#[test]
fn bad_selectors_are_bad_input_naming_them() {
    for (q, needle) in [
        (
            Query::package("corelib", Some("< 1.0")),
            "`<` and `>` alone",
        ),
        (Query::package("corelib", Some("1.0")), "has no relation"),
        (
            Query::package("corelib", Some(">= ")),
            "invalid Debian version",
        ),
        (Query::file("usr/bin/x"), "absolute"),
        (Query::cve("CVE 1"), "not a vulnerability id"),
    ] {
        let e = q.unwrap_err();
        assert_eq!(crate::error::exit_code(&e), 2);
        assert!(format!("{e:#}").contains(needle), "{e:#}");
    }
}

#[test]
fn file_with_its_owner() {
    let m = find(&Query::file("/usr/lib//libcore.so.1").unwrap(), &catalog());
    assert_eq!(m.len(), 4);
    assert_eq!(m[0].matched.summary(), "/usr/lib/libcore.so.1 (corelib)");
    let m = find(&Query::file("/etc/motd/").unwrap(), &catalog());
    assert_eq!(m[0].matched.summary(), "/etc/motd");
}

#[test]
fn cve_fixed_from_vex_affected_and_fixed_from_sboms() {
    let m = find(&Query::cve("cve-2026-0001").unwrap(), &catalog());
    let got: Vec<(String, String)> = m
        .iter()
        .map(|m| (format!("{}:{}", m.name, m.version), m.matched.summary()))
        .collect();
    assert_eq!(
        got,
        [
            (
                "a:1.0.0".into(),
                "CVE-2026-0001 affected: corelib 1.0-1 (fixed in 1.0-2)".into()
            ),
            (
                "a:1.0.1".into(),
                "CVE-2026-0001 fixed: corelib 1.0-2".into()
            ),
            (
                "a:1.0.10".into(),
                "CVE-2026-0001 fixed: corelib 1.0-2".into()
            ),
            (
                "b:2.0.0".into(),
                "CVE-2026-0001 affected: corelib 0.9-1 (fixed in 1.0-2)".into()
            ),
        ]
    );
    let Matched::Cve { source, .. } = &m[1].matched else {
        panic!()
    };
    assert_eq!(source, "vex");
    assert!(find(&Query::cve("CVE-2026-9999").unwrap(), &catalog()).is_empty());
}

#[test]
fn a_vex_statement_about_another_image_is_ignored() {
    let mut all = catalog();
    let other = all[3].clone(); // a:1.0.0
    let doc = fixed_vex(&other, "CVE-2026-0001", "corelib", "0.1-1");
    all[4].vex = vec![doc]; // attached to c, but about a:1.0.0
    let m = find(&Query::cve("CVE-2026-0001").unwrap(), &all);
    assert!(m.iter().all(|m| m.name != "c"), "{m:?}");
}

#[test]
fn json_shape() {
    let m = find(
        &Query::package("corelib", Some("<< 1.0-2")).unwrap(),
        &catalog(),
    );
    let v = serde_json::to_value(&m[0]).unwrap();
    assert_eq!(v["match"]["kind"], "package");
    assert_eq!(v["match"]["version"], "1.0-1");
    assert_eq!(v["status"], "released");
    assert_eq!(v["channels"][0], "stable");
    assert_eq!(v["end_of_support"], "2027-06-30");
    let q = Query::package("corelib", Some("<<1.0-2")).unwrap().view();
    assert_eq!(
        serde_json::to_string(&q).unwrap(),
        r#"{"package":"corelib","version":"<< 1.0-2"}"#
    );
}
