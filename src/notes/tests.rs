//! Snapshot tests: notes rendered from fixed facts must match the committed files byte
//! for byte (digests included). Set UPDATE_SNAPSHOTS=1 to rewrite them after a deliberate
//! format change, and review the diff.

use crate::advisory::fixed::Fix;
use crate::blueprint::{Change, ChangeKind};
use crate::contract::{parse_suite, ContractReport, Outcome, SuiteReport, TestResult};
use crate::digest::Digest;
use crate::disk::{BootMode, Format};
use crate::notes::diff::{FileChange, FileDiff, ImageDiff, PackageChange, PackageDiff, SizeDiff};
use crate::notes::facts::{DiskFact, LayerFact, ReleaseFacts};
use crate::notes::{release, technical};
use std::path::Path;

const SUITE: &str = r#"
name = "posix-base"
version = "2.0.0"
description = "A POSIX shell"

[[test]]
name = "sh runs"
command = ["/bin/sh", "-c", "echo ok"]
stdout = "^ok$"

[[test]]
name = "passwd has root"
regression_for = "BUG-7"
file = "/etc/passwd"
contains = "^root:"
mode = "0644"
"#;

fn d(s: &str) -> Digest {
    Digest::of_bytes(s.as_bytes())
}

fn facts() -> ReleaseFacts {
    let suite = parse_suite(Path::new("contract-tests/posix-base.toml"), SUITE).unwrap();
    let report = ContractReport::new(
        d("image-2"),
        vec![SuiteReport {
            name: "posix-base".into(),
            version: semver::Version::new(2, 0, 0),
            results: suite
                .tests
                .iter()
                .map(|t| TestResult {
                    name: t.name.clone(),
                    kind: t.check.kind(),
                    regression_for: t.regression_for.clone(),
                    firmware: None,
                    target: None,
                    outcome: Outcome::Passed,
                    duration_ms: 5,
                })
                .collect(),
        }],
    );
    ReleaseFacts {
        product: crate::blueprint::product::Product {
            owner: Some("platform-os".into()),
            contact: Some("os-team@example.com".into()),
            bug_tracker: Some("https://bugs.example.com/core-minimal".into()),
            documentation: None,
            upstream: vec!["https://www.debian.org/releases/bookworm/releasenotes".into()],
        },
        known_issues: vec![crate::blueprint::product::KnownIssue {
            id: "KI-7".into(),
            summary: "curl prints a warning about a missing ~/.curlrc".into(),
            workaround: Some("create an empty ~/.curlrc".into()),
            fixed_in: None,
        }],
        name: "core-minimal".into(),
        version: "1.0.1".into(),
        description: "Minimal core".into(),
        digest: d("image-2"),
        released: "2025-01-01".into(),
        catalog: "oci-layout:catalog".into(),
        pull_ref: format!("catalog/core-minimal@{}", d("image-2")),
        end_of_support: Some("2027-12-31".into()),
        status: "released".into(),
        changes: vec![
            Change {
                kind: ChangeKind::Security,
                id: Some("DSA-5555-1".into()),
                summary: "curl fixes".into(),
            },
            Change {
                kind: ChangeKind::Bugfix,
                id: None,
                summary: "motd typo".into(),
            },
        ],
        base_ref: "debian-minbase:12".into(),
        base_digest: Some(d("base").to_string()),
        previous: Some(("1.0.0".into(), d("image-1"))),
        diff: Some(ImageDiff {
            from: d("image-1"),
            to: d("image-2"),
            base: None,
            packages: PackageDiff {
                upgraded: vec![PackageChange {
                    name: "curl".into(),
                    from: Some("7.88.1-10".into()),
                    to: Some("7.88.1-10+deb12u5".into()),
                }],
                ..Default::default()
            },
            files: FileDiff {
                added: vec!["etc/new".into()],
                removed: vec![],
                changed: vec![FileChange {
                    path: "etc/motd".into(),
                    what: vec!["content"],
                }],
            },
            config: vec![],
            suites: vec![],
            size: SizeDiff {
                from_layers: vec![10, 20],
                to_layers: vec![10, 25],
                from_total: 30,
                to_total: 35,
                delta: 5,
            },
            advisories: vec![Fix {
                package: "curl".into(),
                architecture: "amd64".into(),
                old_version: "7.88.1-10".into(),
                new_version: "7.88.1-10+deb12u5".into(),
                advisories: vec!["CVE-2023-38545".into(), "DSA-5555-1".into()],
            }],
        }),
        report,
        suites: vec![suite],
        previous_suite_versions: vec![("posix-base".into(), "1.0.0".into())],
        sources: [("libc6".to_string(), "glibc".to_string())].into(),
        packages: vec![
            ("curl".into(), "7.88.1-10+deb12u5".into()),
            ("libc6".into(), "2.36-9".into()),
        ],
        layers: vec![
            LayerFact {
                digest: d("l0"),
                size: 10,
                diff_id: d("u0").to_string(),
                created_by: "corebuild base import".into(),
            },
            LayerFact {
                digest: d("l1"),
                size: 25,
                diff_id: d("u1").to_string(),
                created_by: "corebuild files layer 1".into(),
            },
        ],
        glibc: Some("2.36 (libc6 2.36-9)".into()),
        kernel: None,
        sonames: vec!["libc.so.6".into()],
        blueprint_digest: Some(d("bp").to_string()),
        lock_digest: Some(d("lock").to_string()),
        builder: "corebuild 0.1.0".into(),
        sbom_ref: Some("sha256-x.sbom".into()),
        provenance_ref: Some("sha256-x.provenance".into()),
        vex_ref: Some("sha256-x.openvex".into()),
        signed_by: Some(d("key").to_string()),
        disks: vec![],
    }
}

/// A VM core build: a bootable qcow2 and a VHD, no VMDK, cloud-init in the image.
fn vm_facts() -> ReleaseFacts {
    let mut f = facts();
    f.name = "core-vm".into();
    f.version = "2.0.0".into();
    f.pull_ref = format!("catalog/core-vm@{}", d("image-2"));
    f.kernel = Some("6.1.0-50-cloud-amd64 (6.1.176-1)".into());
    f.packages
        .insert(0, ("cloud-init".into(), "22.4.2-1+deb12u4".into()));
    f.disks = vec![
        DiskFact {
            format: Format::Qcow2,
            boot: BootMode::BiosUefi,
            file: "core-vm-2.0.0.qcow2".into(),
        },
        DiskFact {
            format: Format::Vhd,
            boot: BootMode::Uefi,
            file: "core-vm-2.0.0.vhd".into(),
        },
    ];
    f
}

fn check(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/notes/snapshots")
        .join(name);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, actual).unwrap();
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(
        actual,
        expected,
        "{} differs (UPDATE_SNAPSHOTS=1 to accept)",
        path.display()
    );
}

const T: &str = crate::notes::links::TRACKER;

#[test]
fn release_notes_snapshot() {
    let f = facts();
    let a = release::render(&f);
    assert_eq!(a, release::render(&f), "rendering is not deterministic");
    assert!(
        a.contains("## Upgrade notes"),
        "contract major 1 → 2 must say so"
    );
    // The blueprint's own id is not repeated: it says which package fixed it.
    assert!(
        a.contains(&format!("- **[DSA-5555-1]({T}DSA-5555-1)**: curl fixes (fixed by [`curl`]({T}source-package/curl) 7.88.1-10 → 7.88.1-10+deb12u5)"))
    , "{a}");
    assert_eq!(a.matches("[DSA-5555-1]").count(), 1, "{a}");
    assert!(a.contains(&format!(
        "- **[CVE-2023-38545]({T}CVE-2023-38545)**: fixed by [`curl`]({T}source-package/curl) 7.88.1-10 → 7.88.1-10+deb12u5 (from its Debian changelog)"
    )));
    check("release.md", &a);
}

#[test]
fn release_notes_name_skipped_tests() {
    let mut f = facts();
    f.report.suites[0].results[1].outcome = Outcome::Skipped {
        reason: "no mode check on this runtime".into(),
    };
    let a = release::render(&f);
    assert!(
        a.contains("passed every test it ran of these suites"),
        "{a}"
    );
    assert!(
        a.contains("  - skipped, so not verified: passwd has root (no mode check on this runtime)"),
        "{a}"
    );
    assert!(release::render(&facts()).contains("passed every test of these suites"));
}

#[test]
fn technical_notes_snapshot() {
    let t = technical::render(&facts());
    assert!(t.contains("(regression test for BUG-7)"));
    assert!(t.contains(&format!(
        "| [`curl`]({T}source-package/curl) | 7.88.1-10 | 7.88.1-10+deb12u5 | [CVE-2023-38545]({T}CVE-2023-38545), [DSA-5555-1]({T}DSA-5555-1) |"
    )), "{t}");
    // A binary package links to its source package.
    assert!(
        t.contains(&format!("| [`libc6`]({T}source-package/glibc) | 2.36-9 |")),
        "{t}"
    );
    check("technical.md", &t);
}

#[test]
fn technical_notes_without_disks_have_no_import_section() {
    assert!(!technical::render(&facts()).contains("## VM disks"));
}

#[test]
fn technical_notes_of_a_vm_release_say_how_to_import_its_disks() {
    let t = technical::render(&vm_facts());
    assert!(t.contains(
        "openstack image create --disk-format qcow2 --container-format bare \\\n  \
         --property hw_firmware_type=uefi"
    ));
    assert!(t.contains("--file core-vm-2.0.0.qcow2 core-vm-2.0.0"));
    assert!(t.contains("--import --boot uefi"));
    assert!(t.contains("# or, with BIOS (SeaBIOS):"));
    assert!(t.contains("--hyper-v-generation V2"));
    assert!(t.contains("Not produced for this release: vmdk (VMware)."));
    assert!(t.contains("cloud-init is in the image"));
    check("technical-vm.md", &t);
}
