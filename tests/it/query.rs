//! `corebuild query` on a layout catalog and on a real docker-registry: core builds on the
//! busybox base whose files layer carries a fake dpkg database (corelib 1.0-1, then
//! 1.0-2), released, promoted and deprecated; queries by package (with a Debian version
//! constraint), file and CVE (from an OpenVEX document attached to the fixed release),
//! human and JSON output, warnings for a bad artifact, and the exit codes.

use crate::catalog::json_of;
use crate::registry::Registry;
use crate::util::*;
use corebuild::catalog::{self, Artifact, ArtifactLayer, OpenOptions};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

const SUITE: &str =
    "name = \"corelib\"\nversion = \"1.0.0\"\ndescription = \"corelib is installed\"\n\
[[test]]\nname = \"libcore is there\"\nfile = \"/usr/lib/libcore.so.1\"\ntype = \"file\"\n";

/// A project with the busybox base and the `corelib` suite.
struct Fixture {
    ws: Ws,
    root: PathBuf,
}

impl Fixture {
    fn new() -> Fixture {
        let ws = Ws::new();
        ws.tiny_base();
        let root = ws.path().join("proj");
        std::fs::create_dir_all(root.join("contract-tests")).unwrap();
        std::fs::write(root.join("contract-tests/corelib.toml"), SUITE).unwrap();
        Fixture { ws, root }
    }

    fn cb(&self, spec: &str) -> Command {
        let mut c = self.ws.cb();
        c.env("COREBUILD_CATALOG", spec)
            .env("COREBUILD_INSECURE", "1")
            .env("DOCKER_CONFIG", self.ws.path().join("docker"));
        c
    }

    /// Writes blueprint `name` `version` carrying corelib `corelib`, tests it (the gate)
    /// and publishes it to `spec`; returns its digest.
    fn release(&self, spec: &str, name: &str, version: &str, corelib: &str) -> String {
        let bp = self.root.join(name);
        std::fs::create_dir_all(bp.join("files")).unwrap();
        std::fs::write(
            bp.join("blueprint.toml"),
            format!(
                "name = \"{name}\"\nversion = \"{version}\"\ndescription = \"carries corelib\"\n\
                 epoch = 1735689600\n[base]\nref = \"busybox-tiny:1\"\n[[layer]]\nfiles = [\n\
                 {{ src = \"files/status\", dest = \"/var/lib/dpkg/status\", mode = \"0644\" }},\n\
                 {{ src = \"files/corelib.list\", dest = \"/var/lib/dpkg/info/corelib.list\", mode = \"0644\" }},\n\
                 {{ src = \"files/libcore.so.1\", dest = \"/usr/lib/libcore.so.1\", mode = \"0644\" }},\n]\n\
                 [contract]\nsuites = [\"corelib\"]\n[lifecycle]\nend_of_support = \"2099-12-31\"\n"
            ),
        )
        .unwrap();
        std::fs::write(
            bp.join("files/status"),
            format!(
                "Package: corelib\nStatus: install ok installed\nArchitecture: amd64\nVersion: {corelib}\n\n\
                 Package: oldlib\nStatus: deinstall ok config-files\nArchitecture: amd64\nVersion: 0.1\n"
            ),
        )
        .unwrap();
        std::fs::write(
            bp.join("files/corelib.list"),
            "/.\n/usr\n/usr/lib\n/usr/lib/libcore.so.1\n",
        )
        .unwrap();
        std::fs::write(
            bp.join("files/libcore.so.1"),
            format!("corelib {corelib}\n"),
        )
        .unwrap();
        let t = json_of(&run_ok(self.ws.cb().arg("test").arg(&bp).arg("--json")));
        let o = json_of(&run_ok(self.cb(spec).arg("publish").arg(&bp).arg("--json")));
        assert_eq!(o["digest"], t["candidate"]);
        o["digest"].as_str().unwrap().to_string()
    }

    fn query(&self, spec: &str, args: &[&str]) -> Value {
        let o = run_ok(self.cb(spec).arg("query").args(args).arg("--json"));
        json_of(&o)
    }
}

/// The releases a query answered, as `name:version`.
fn answered(v: &Value) -> Vec<String> {
    v["matches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            format!(
                "{}:{}",
                m["name"].as_str().unwrap(),
                m["version"].as_str().unwrap()
            )
        })
        .collect()
}

/// Attaches `doc` as an artifact of `media_type` to `name@digest` (what a release with an
/// OpenVEX document, or a hostile publisher, leaves in the catalog).
fn attach(spec: &str, name: &str, digest: &str, media_type: &str, doc: Vec<u8>) {
    let cat = catalog::open_str(
        spec,
        &OpenOptions {
            insecure: true,
            retry: None,
        },
    )
    .unwrap();
    let m = cat.get_manifest(name, digest).unwrap().unwrap();
    let layer = ArtifactLayer::bytes(media_type, doc, None);
    let a = Artifact::new(
        media_type,
        Some(&m.descriptor()),
        vec![layer],
        BTreeMap::new(),
    )
    .unwrap();
    cat.attach(name, &m.descriptor(), &[a]).unwrap();
}

fn vex_fixed(name: &str, digest: &str) -> Vec<u8> {
    let product = format!("pkg:oci/{name}@{}", digest.replace(':', "%3A"));
    serde_json::to_vec(&serde_json::json!({
        "@context": "https://openvex.dev/ns/v0.2.0",
        "@id": "https://corebuild.dev/vex/test",
        "author": "corebuild",
        "timestamp": "2025-01-01T00:00:00Z",
        "version": 1,
        "statements": [{
            "vulnerability": {"name": "CVE-2026-0001"},
            "products": [{"@id": product, "subcomponents": [{"@id": "pkg:deb/debian/corelib@1.0-2?arch=amd64"}]}],
            "status": "fixed",
        }],
    }))
    .unwrap()
}

fn scenario(spec: &str) {
    let f = Fixture::new();
    let a1 = f.release(spec, "core-a", "1.0.0", "1.0-1");
    run_ok(
        f.cb(spec)
            .args(["promote", "core-a:1.0.0", "stable", "--reason", "first"]),
    );
    let a2 = f.release(spec, "core-a", "1.0.1", "1.0-2");
    f.release(spec, "core-b", "2.0.0", "1.0-1");
    run_ok(
        f.cb(spec)
            .args(["deprecate", "core-b:2.0.0", "--reason", "use 3.0"]),
    );

    // Every release carrying corelib, with status, channels, support and digest.
    let all = f.query(spec, &["--package", "corelib"]);
    assert_eq!(
        answered(&all),
        ["core-a:1.0.0", "core-a:1.0.1", "core-b:2.0.0"]
    );
    assert_eq!(all["query"], serde_json::json!({"package": "corelib"}));
    assert_eq!(all["releases"], 3);
    let m = &all["matches"][0];
    assert_eq!(m["digest"], a1.as_str());
    assert_eq!(m["channels"], serde_json::json!(["stable"]));
    assert_eq!(m["status"], "released");
    assert_eq!(m["end_of_support"], "2099-12-31");
    assert_eq!(
        m["match"],
        serde_json::json!({"kind": "package", "package": "corelib", "version": "1.0-1", "arch": "amd64"})
    );
    assert_eq!(all["matches"][2]["status"], "deprecated");
    assert_eq!(all["matches"][2]["reason"], "use 3.0");
    assert!(f.ws.store().join("cache/advisory/sha256").is_dir());

    // The constraint, in Debian version order.
    let old = f.query(spec, &["--package", "corelib", "--version", "<< 1.0-2"]);
    assert_eq!(answered(&old), ["core-a:1.0.0", "core-b:2.0.0"]);
    let new = f.query(spec, &["--package", "corelib", "--version", ">= 1.0-2"]);
    assert_eq!(answered(&new), ["core-a:1.0.1"]);
    assert_eq!(new["matches"][0]["digest"], a2.as_str());
    // Removed packages (config-files) are not carried.
    assert!(answered(&f.query(spec, &["--package", "oldlib"])).is_empty());

    // Files, with the owning package from dpkg's list; the base's files have none.
    let lib = f.query(spec, &["--file", "/usr/lib/libcore.so.1"]);
    assert_eq!(answered(&lib).len(), 3);
    assert_eq!(
        lib["matches"][0]["match"]["packages"],
        serde_json::json!(["corelib"])
    );
    let sh = f.query(spec, &["--file", "/bin/busybox"]);
    assert_eq!(answered(&sh).len(), 3);
    assert_eq!(sh["matches"][0]["match"]["packages"], serde_json::json!([]));

    // A CVE: fixed in 1.0.1 by its VEX; the others carry corelib below the fix.
    attach(
        spec,
        "core-a",
        &a2,
        "application/vnd.openvex+json",
        vex_fixed("core-a", &a2),
    );
    let cve = f.query(spec, &["--cve", "CVE-2026-0001"]);
    let got: Vec<(String, &str)> = answered(&cve)
        .into_iter()
        .zip(cve["matches"].as_array().unwrap())
        .map(|(r, m)| (r, m["match"]["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        got,
        [
            ("core-a:1.0.0".to_string(), "affected"),
            ("core-a:1.0.1".to_string(), "fixed"),
            ("core-b:2.0.0".to_string(), "affected"),
        ]
    );

    // The human table names the channel and what matched.
    let o = run_ok(
        f.cb(spec)
            .args(["query", "--package", "corelib", "--version", "<< 1.0-2"]),
    );
    let table = stdout(&o);
    assert!(
        table.contains("stable") && table.contains("corelib 1.0-1"),
        "{table}"
    );
    assert!(table.contains(&a1["sha256:".len()..][..12]), "{table}");

    // No match: exit 0.
    let o = run_ok(f.cb(spec).args(["query", "--package", "nothing"]));
    assert!(
        stdout(&o).contains("no match in 3 releases"),
        "{}",
        stdout(&o)
    );

    // A bad SBOM on one release: a warning naming it; the other answers stand.
    attach(
        spec,
        "core-b",
        all["matches"][2]["digest"].as_str().unwrap(),
        "application/spdx+json",
        b"{not json".to_vec(),
    );
    let o = run_ok(f.cb(spec).args(["query", "--package", "corelib", "--json"]));
    let w = json_of(&o);
    assert_eq!(answered(&w).len(), 3, "b's good SBOM still answers");
    assert!(
        stderr(&o).contains("warning: SBOM sha256:") && stderr(&o).contains("of core-b:2.0.0"),
        "{}",
        stderr(&o)
    );
    assert_eq!(w["warnings"].as_array().unwrap().len(), 1);

    // Bad usage is exit 2, naming what is wrong.
    for (args, needle) in [
        (
            vec!["--package", "corelib", "--version", "< 1.0"],
            "--version: bad version constraint",
        ),
        (
            vec!["--package", "corelib", "--version", "1.0"],
            "has no relation",
        ),
        (vec!["--file", "usr/lib/x"], "absolute path"),
        (
            vec!["--package", "corelib", "--file", "/x"],
            "cannot be used with",
        ),
        (vec![], "required"),
    ] {
        let o = f.cb(spec).arg("query").args(&args).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(needle), "{args:?}: {}", stderr(&o));
    }
}

#[test]
fn query_on_a_layout_catalog() {
    let dir = tempfile::tempdir().unwrap();
    scenario(&format!(
        "oci-layout:{}",
        dir.path().join("catalog").display()
    ));
}

#[test]
fn query_on_docker_registry() {
    let reg = Registry::start();
    scenario(&reg.spec("core"));
    // A registry that is gone: exit 3.
    let addr = reg.addr.clone();
    drop(reg);
    let f = Ws::new();
    let o = f
        .cb()
        .env("COREBUILD_INSECURE", "1")
        .args(["query", "--package", "corelib", "--catalog"])
        .arg(format!("registry:{addr}/core"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
}
