//! `corebuild release`, end to end on the tiny base: two releases with notes, promotion,
//! resolve by channel, and a broken third version that never reaches the catalog.

use crate::registry::Registry;
use crate::util::*;
use serde_json::Value;
use std::path::Path;

fn set_version(bp: &Path, version: &str) {
    let toml = std::fs::read_to_string(bp.join("blueprint.toml")).unwrap();
    let out: Vec<String> = toml
        .lines()
        .map(|l| {
            if l.starts_with("version = ") {
                format!("version = \"{version}\"")
            } else {
                l.to_string()
            }
        })
        .collect();
    std::fs::write(bp.join("blueprint.toml"), out.join("\n") + "\n").unwrap();
}

fn release_story(catalog: &str) {
    let ws = Ws::new();
    ws.tiny_base();
    let bp = ws.project_blueprint("tiny-web");
    let notes = ws.path().join("proj/release-notes");
    std::fs::create_dir_all(&notes).unwrap();
    let release = |extra: &[&str]| {
        let o = ws
            .cb()
            .arg("release")
            .arg(&bp)
            .args(["--catalog", catalog, "--insecure", "--json"])
            .args(extra)
            .output()
            .unwrap();
        let v: Value =
            serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(&o)));
        (o.status.code(), v, stderr(&o))
    };

    let (code, first, err) = release(&[]);
    assert_eq!(code, Some(0), "{err}\n{first}");
    let stages: Vec<_> = first["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_string(),
                s["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let names: Vec<&str> = stages.iter().map(|s| s.0.as_str()).collect();
    assert_eq!(
        names,
        ["build", "disk", "test", "gate", "publish", "notes", "promote"]
    );
    let d1 = first["digest"].as_str().unwrap().to_string();
    let n1 = std::fs::read_to_string(notes.join("tiny-web/1.0.0.md")).unwrap();
    assert!(
        n1.contains(&d1) && n1.contains("First release of tiny-web"),
        "{n1}"
    );

    // 1.0.1: a changed page and new [[change]] entries.
    set_version(&bp, "1.0.1");
    std::fs::write(bp.join("files/index.html"), "ok, version two\n").unwrap();
    let mut toml = std::fs::read_to_string(bp.join("blueprint.toml")).unwrap();
    toml.push_str("\n[[change]]\nkind = \"security\"\nid = \"DSA-9999-1\"\nsummary = \"busybox httpd header fix\"\n\n[[change]]\nkind = \"bugfix\"\nsummary = \"index page wording\"\n");
    std::fs::write(bp.join("blueprint.toml"), toml).unwrap();
    let (code, second, err) = release(&["--channel", "stable"]);
    assert_eq!(code, Some(0), "{err}\n{second}");
    let d2 = second["digest"].as_str().unwrap().to_string();
    assert_ne!(d1, d2);
    let n2 = std::fs::read_to_string(notes.join("tiny-web/1.0.1.md")).unwrap();
    assert!(n2.contains("## Changes since 1.0.0"), "{n2}");
    assert!(
        n2.contains("changed `/var/www/index.html` (content)"),
        "{n2}"
    );
    assert!(
        n2.contains(
            "**[DSA-9999-1](https://security-tracker.debian.org/tracker/DSA-9999-1)**: busybox httpd header fix"
        ),
        "{n2}"
    );
    assert!(
        n2.contains("### Bug fixes") && n2.contains("index page wording"),
        "{n2}"
    );
    let t2 = std::fs::read_to_string(notes.join("tiny-web/1.0.1-technical.md")).unwrap();
    assert!(
        t2.contains("### httpd-service 1.0.0") && t2.contains("serves TCP port 8080"),
        "{t2}"
    );
    // Notes are data only: releasing 1.0.1 again (a no-op publish) rewrites them identically.
    let (code, again, err) = release(&[]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(again["already_published"], true);
    // The same candidate passed the same suites: the stored report is reused, unless
    // --retest asks for a run.
    assert_eq!(again["tests_reused"], true, "{again}");
    let (code, retested, err) = release(&["--retest"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(retested["tests_reused"], false, "{retested}");
    assert_eq!(
        n2,
        std::fs::read_to_string(notes.join("tiny-web/1.0.1.md")).unwrap()
    );

    let o = run_ok(ws.cb().args([
        "catalog",
        "resolve",
        "tiny-web@stable",
        "--catalog",
        catalog,
        "--insecure",
    ]));
    assert_eq!(stdout(&o).trim(), format!("tiny-web@{d2}"));

    // 1.0.2 breaks its contract: exit 1, and the catalog still ends at 1.0.1.
    set_version(&bp, "1.0.2");
    std::fs::write(bp.join("files/index.html"), "nothing here\n").unwrap();
    let (code, third, _) = release(&[]);
    assert_eq!(code, Some(1), "{third}");
    let failed: Vec<_> = third["stages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["status"] == "failed")
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(failed, ["test"]);
    assert!(third["stages"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["name"] != "publish"));
    let o = run_ok(ws.cb().args([
        "catalog",
        "list",
        "tiny-web",
        "--json",
        "--catalog",
        catalog,
        "--insecure",
    ]));
    let list = stdout(&o);
    assert!(list.contains("1.0.1") && !list.contains("1.0.2"), "{list}");
}

#[test]
fn release_story_on_the_default_layout_catalog() {
    let t = tempfile::tempdir().unwrap();
    release_story(&format!(
        "oci-layout:{}",
        t.path().join("catalog").display()
    ));
}

#[test]
fn release_story_on_a_registry() {
    let reg = Registry::start();
    release_story(&reg.spec("core"));
}
