//! The security response end to end, offline: a core build A takes corelib 1.0-1 from a
//! signed loopback repository and is promoted to `stable`; B is built on
//! `catalog:core-a:1.0.0`. The repository publishes corelib 1.0-2 (its changelog names
//! CVE-2026-0001) and drops 1.0-1. `query` finds A and B, `rebuild` releases A 1.0.1
//! then B 1.0.1 on it, with notes naming the CVE nobody typed, and `query --cve` shows
//! both fixed. On a layout catalog and on docker-registry.

use crate::aptrepo::{corelib_changelog, AptRepo, PkgOpts};
use crate::registry::Registry;
use crate::util::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

const SUITE: &str =
    "name = \"corelib\"\nversion = \"1.0.0\"\ndescription = \"corelib is installed\"\n\
[[test]]\nname = \"corelib is there\"\npackage = \"corelib\"\nversion = \">= 1.0-1\"\n";

struct Scenario {
    ws: Ws,
    root: PathBuf,
    spec: String,
}

impl Scenario {
    fn cb(&self) -> Command {
        let mut c = self.ws.cb();
        c.env("COREBUILD_CATALOG", &self.spec)
            .env("COREBUILD_INSECURE", "1")
            .env("DOCKER_CONFIG", self.ws.path().join("docker"));
        c
    }

    fn json(&self, args: &[&str]) -> Value {
        let o = run_ok(self.cb().args(args));
        serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: {e}: {}", stdout(&o)))
    }

    fn bp(&self, name: &str) -> PathBuf {
        self.root.join("blueprints").join(name)
    }
}

/// The `name` of each object of a JSON array, in order.
fn names(list: &Value) -> Vec<&str> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect()
}

fn add_corelib(r: &mut AptRepo, v: &str) {
    r.add_package(
        "corelib",
        v,
        &PkgOpts {
            changelog: corelib_changelog(v),
            ..Default::default()
        },
    );
}

fn write_blueprints(s: &Scenario, base: &str, uri: &str, key: &Path) {
    let a = s.bp("core-a");
    std::fs::create_dir_all(&a).unwrap();
    std::fs::copy(key, a.join("repo.asc")).unwrap();
    std::fs::write(
        a.join("blueprint.toml"),
        format!(
            "# core-a: corelib for everyone\nname = \"core-a\"\nversion = \"1.0.0\" # the release\n\
             description = \"A core build with corelib\"\nepoch = 1767225600\n\n\
             [base]\nref = \"{base}\"\n\n[[apt.source]]\nuri = \"{uri}\"\nsuite = \"bookworm-security\"\n\
             components = [\"main\"]\nsigned_by = \"repo.asc\"\n\n\
             [[layer]]\npackages = [\"corelib\"]\n\n[contract]\nsuites = [\"corelib\"]\n\n\
             [[change]]\nkind = \"enhancement\"\nsummary = \"Adds corelib\"\n\n\
             [lifecycle]\nend_of_support = \"2099-12-31\"\n"
        ),
    )
    .unwrap();
    let b = s.bp("core-b");
    std::fs::create_dir_all(b.join("files")).unwrap();
    std::fs::write(b.join("files/motd"), "built on core-a\n").unwrap();
    std::fs::write(
        b.join("blueprint.toml"),
        "name = \"core-b\"\nversion = \"1.0.0\"\ndescription = \"Built on core-a\"\n\
         [base]\nref = \"catalog:core-a:1.0.0\"\n\n\
         [[layer]]\nfiles = [{ src = \"files/motd\", dest = \"/etc/motd\", mode = \"0644\" }]\n\n\
         [contract]\nsuites = [\"corelib\"]\n",
    )
    .unwrap();
}

/// The scenario against `spec`, or a layout catalog in the workspace when `None`.
fn scenario(spec: Option<String>) {
    let ws = Ws::new();
    let spec =
        spec.unwrap_or_else(|| format!("oci-layout:{}", ws.path().join("catalog").display()));
    let base = ws.minbase();
    let root = ws.path().join("proj");
    std::fs::create_dir_all(root.join("contract-tests")).unwrap();
    std::fs::create_dir_all(root.join("release-notes")).unwrap();
    std::fs::write(root.join("contract-tests/corelib.toml"), SUITE).unwrap();
    let s = Scenario { ws, root, spec };
    let mut repo = AptRepo::new(&s.ws.path().join("repo"), "bookworm-security");
    add_corelib(&mut repo, "1.0-1");
    repo.publish();
    let server = repo.serve();
    write_blueprints(&s, &base, &server.uri(), &repo.key_asc());

    // A 1.0.0 with corelib 1.0-1, on stable; B 1.0.0 on it.
    run_ok(s.cb().arg("lock").arg(s.bp("core-a")));
    run_ok(
        s.cb()
            .args(["release", "--locked", "--channel", "stable"])
            .arg(s.bp("core-a")),
    );
    run_ok(s.cb().arg("lock").arg(s.bp("core-b")));
    run_ok(s.cb().args(["release", "--locked"]).arg(s.bp("core-b")));

    // The fix lands; the archive drops the vulnerable version.
    add_corelib(&mut repo, "1.0-2");
    repo.remove_package("corelib", "1.0-1");
    repo.publish();

    let q = s.json(&[
        "query",
        "--package",
        "corelib",
        "--version",
        "<< 1.0-2",
        "--json",
    ]);
    let found: Vec<(String, String)> = q["matches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["name"].as_str().unwrap().into(),
                m["version"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            ("core-a".into(), "1.0.0".into()),
            ("core-b".into(), "1.0.0".into())
        ],
        "{q:#}"
    );
    assert_eq!(q["matches"][0]["channels"][0], "stable", "{q:#}");

    let dir = s.root.join("blueprints");
    let plan = s.json(&[
        "rebuild",
        dir.to_str().unwrap(),
        "--package",
        "corelib",
        "--version",
        "<< 1.0-2",
        "--dry-run",
        "--json",
    ]);
    assert_eq!(names(&plan["targets"]), ["core-a", "core-b"], "{plan:#}");
    assert_eq!(plan["targets"][1]["base_from"], "core-a", "{plan:#}");
    let untouched = std::fs::read_to_string(s.bp("core-a/blueprint.toml")).unwrap();
    assert!(
        untouched.contains("version = \"1.0.0\""),
        "--dry-run edited the blueprint"
    );

    let done = s.json(&[
        "rebuild",
        dir.to_str().unwrap(),
        "--package",
        "corelib",
        "--version",
        "<< 1.0-2",
        "--json",
    ]);
    assert_eq!(names(&done["released"]), ["core-a", "core-b"], "{done:#}");

    // The edits are left for the engineer, comments kept.
    let a = std::fs::read_to_string(s.bp("core-a/blueprint.toml")).unwrap();
    assert!(a.starts_with("# core-a: corelib for everyone\n"), "{a}");
    assert!(a.contains("version = \"1.0.1\" # the release"), "{a}");
    assert!(
        !a.contains("Adds corelib") && a.contains("kind = \"security\""),
        "{a}"
    );
    assert!(
        a.contains("CVE-2026-0001"),
        "the security entry does not name the advisory:\n{a}"
    );
    let lock = std::fs::read_to_string(s.bp("core-a/blueprint.lock")).unwrap();
    assert!(lock.contains("version = \"1.0-2\""), "{lock}");
    let b = std::fs::read_to_string(s.bp("core-b/blueprint.toml")).unwrap();
    assert!(b.contains("ref = \"catalog:core-a:1.0.1\""), "{b}");

    let notes = std::fs::read_to_string(s.root.join("release-notes/core-a/1.0.1.md")).unwrap();
    assert!(notes.contains("CVE-2026-0001"), "{notes}");

    let fixed = s.json(&["query", "--cve", "CVE-2026-0001", "--json"]);
    let fixed_in: Vec<(String, String, String)> = fixed["matches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["name"].as_str().unwrap().into(),
                m["version"].as_str().unwrap().into(),
                m["match"]["status"].as_str().unwrap().into(),
            )
        })
        .collect();
    for want in [("core-a", "1.0.1"), ("core-b", "1.0.1")] {
        assert!(
            fixed_in.contains(&(want.0.into(), want.1.into(), "fixed".into())),
            "{want:?} not fixed: {fixed:#}"
        );
    }
    assert!(
        fixed_in.contains(&("core-a".into(), "1.0.0".into(), "affected".into())),
        "{fixed:#}"
    );
}

#[test]
fn rebuild_on_a_layout_catalog() {
    scenario(None);
}

#[test]
fn rebuild_on_docker_registry() {
    let reg = Registry::start();
    scenario(Some(reg.spec("core")));
}
