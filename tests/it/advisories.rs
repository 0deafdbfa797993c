//! What a release fixed, read from the packages themselves: two releases of tiny-web whose
//! fake dpkg database upgrades `corelib` 1.0-1 → 1.0-2, whose changelog names
//! CVE-2026-0001 in the newer entry. The notes, `diff --json` and the attached OpenVEX
//! document all say so, without anyone typing the CVE.

use crate::util::*;
use corebuild::advisory::vex;
use serde_json::Value;
use std::io::Write;
use std::path::Path;

const ENTRY_2: &str = "\
corelib (1.0-2) bookworm-security; urgency=high

  * Fix a heap overflow in the record parser (CVE-2026-0001, DSA-6001-1).

 -- Core Team <core@example.org>  Mon, 05 Jan 2026 00:00:00 +0000

";

const ENTRY_1: &str = "\
corelib (1.0-1) bookworm; urgency=medium

  * Initial release; upstream fixed CVE-2025-0099 long before.

 -- Core Team <core@example.org>  Thu, 01 Jan 2026 00:00:00 +0000
";

fn gz(text: &str) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(text.as_bytes()).unwrap();
    e.finish().unwrap()
}

/// Puts `corelib` at `version` (with its changelog up to it) into the blueprint's files.
fn corelib(bp: &Path, version: &str, changelog: &str) {
    std::fs::write(
        bp.join("files/status"),
        format!(
            "Package: corelib\nStatus: install ok installed\nPriority: optional\nArchitecture: amd64\nVersion: {version}\nDescription: a library the tests upgrade\n"
        ),
    )
    .unwrap();
    std::fs::write(bp.join("files/changelog.Debian.gz"), gz(changelog)).unwrap();
}

fn edit(bp: &Path, f: impl Fn(String) -> String) {
    let p = bp.join("blueprint.toml");
    std::fs::write(&p, f(std::fs::read_to_string(&p).unwrap())).unwrap();
}

#[test]
fn a_release_names_the_advisories_its_upgraded_packages_fixed() {
    let ws = Ws::new();
    ws.tiny_base();
    let bp = ws.project_blueprint("tiny-web");
    let notes = ws.path().join("proj/release-notes");
    std::fs::create_dir_all(&notes).unwrap();
    let catalog = format!("oci-layout:{}", ws.path().join("catalog").display());
    edit(&bp, |t| {
        t + "\n[[layer]]\nfiles = [\n  { src = \"files/status\", dest = \"/var/lib/dpkg/status\", mode = \"0644\" },\n  { src = \"files/changelog.Debian.gz\", dest = \"/usr/share/doc/corelib/changelog.Debian.gz\", mode = \"0644\" },\n]\n"
    });
    let release = || {
        let o = ws
            .cb()
            .arg("release")
            .arg(&bp)
            .args(["--catalog", &catalog, "--json"])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{}\n{}", stderr(&o), stdout(&o));
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        v["digest"].as_str().unwrap().to_string()
    };
    corelib(&bp, "1.0-1", ENTRY_1);
    release();

    // 1.0.1: corelib 1.0-2, and the blueprint itself names one of the two advisories.
    corelib(&bp, "1.0-2", &format!("{ENTRY_2}{ENTRY_1}"));
    edit(&bp, |t| {
        t.replace("version = \"1.0.0\"", "version = \"1.0.1\"")
            + "\n[[change]]\nkind = \"security\"\nid = \"DSA-6001-1\"\nsummary = \"corelib record parser\"\n"
    });
    let d2 = release();

    let n2 = std::fs::read_to_string(notes.join("tiny-web/1.0.1.md")).unwrap();
    let security = n2
        .split("### Security advisories")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .unwrap_or_else(|| panic!("no security advisories heading:\n{n2}"));
    assert!(
        security.contains(
            "- **[CVE-2026-0001](https://security-tracker.debian.org/tracker/CVE-2026-0001)**: fixed by [`corelib`](https://security-tracker.debian.org/tracker/source-package/corelib) 1.0-1 → 1.0-2 (from its Debian changelog)"
        ),
        "{n2}"
    );
    assert!(
        security
            .contains("- **[DSA-6001-1](https://security-tracker.debian.org/tracker/DSA-6001-1)**: corelib record parser (fixed by [`corelib`](https://security-tracker.debian.org/tracker/source-package/corelib) 1.0-1 → 1.0-2)"),
        "{n2}"
    );
    assert_eq!(n2.matches("[DSA-6001-1]").count(), 1, "listed once:\n{n2}");
    assert!(
        !n2.contains("CVE-2025-0099"),
        "an entry of the old version is not news:\n{n2}"
    );
    let t2 = std::fs::read_to_string(notes.join("tiny-web/1.0.1-technical.md")).unwrap();
    assert!(
        t2.contains("| [`corelib`](https://security-tracker.debian.org/tracker/source-package/corelib) | 1.0-1 | 1.0-2 | [CVE-2026-0001](https://security-tracker.debian.org/tracker/CVE-2026-0001), [DSA-6001-1](https://security-tracker.debian.org/tracker/DSA-6001-1) |"),
        "{t2}"
    );
    assert!(
        t2.contains("(OpenVEX 0.2.0)") && t2.contains(vex::MEDIA_TYPE),
        "{t2}"
    );

    let o = run_ok(
        ws.cb()
            .args(["diff", "tiny-web:1.0.0", "tiny-web:1.0.1", "--json"]),
    );
    let d: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        d["advisories"],
        serde_json::json!([{
            "package": "corelib",
            "architecture": "amd64",
            "old_version": "1.0-1",
            "new_version": "1.0-2",
            "advisories": ["CVE-2026-0001", "DSA-6001-1"],
        }])
    );
    let o = run_ok(ws.cb().args(["diff", "tiny-web:1.0.0", "tiny-web:1.0.1"]));
    assert!(
        stdout(&o)
            .contains("advisories fixed (1):\n  corelib 1.0-1 → 1.0-2: CVE-2026-0001, DSA-6001-1"),
        "{}",
        stdout(&o)
    );

    // The OpenVEX document published with 1.0.1, read back from the catalog.
    let doc = openvex(&ws, &catalog, "tiny-web:1.0.1");
    let hex = d2.trim_start_matches("sha256:");
    let fixed: Vec<_> = doc
        .statements
        .iter()
        .filter(|s| s.vulnerability.name == "CVE-2026-0001")
        .collect();
    assert_eq!(fixed.len(), 1, "{doc:?}");
    assert_eq!(fixed[0].status, "fixed");
    assert_eq!(
        fixed[0].products[0].id,
        format!("pkg:oci/tiny-web@sha256%3A{hex}")
    );
    assert_eq!(
        fixed[0].products[0].subcomponents[0].id,
        "pkg:deb/debian/corelib@1.0-2?arch=amd64"
    );
    assert_eq!(doc.statements.len(), 2, "CVE and DSA: {doc:?}");
    assert_eq!(doc.author, "corebuild");
    assert!(doc.id.ends_with(&format!("sha256-{hex}")), "{}", doc.id);
    // The first release fixed nothing it could know of: its document has no statements.
    assert!(openvex(&ws, &catalog, "tiny-web:1.0.0")
        .statements
        .is_empty());
}

fn openvex(ws: &Ws, catalog: &str, reference: &str) -> vex::Document {
    let o = run_ok(ws.cb().args([
        "catalog",
        "artifacts",
        reference,
        "--catalog",
        catalog,
        "--type",
        vex::MEDIA_TYPE,
        "--content",
    ]));
    vex::parse(&o.stdout).unwrap()
}
