//! `catalog dependents`: the releases built on a release, transitively, from the
//! catalog alone.

use crate::catalog::{json_of, Project};
use crate::util::*;
use std::path::PathBuf;

pub fn on(p: &Project, name: &str, base: &str) -> PathBuf {
    let dir = p.ws.blueprint(
        name,
        &format!(
            "name = \"{name}\"\nversion = \"1.0.0\"\ndescription = \"on {base}\"\n\
             [base]\nref = \"catalog:{base}\"\n\
             [[layer]]\nfiles = [ {{ src = \"extra\", dest = \"/etc/{name}\", mode = \"0644\" }} ]\n"
        ),
    );
    std::fs::write(dir.join("extra"), format!("{name}\n")).unwrap();
    dir
}

#[test]
fn dependents_are_listed_transitively_nearest_first() {
    let p = Project::new();
    let spec = format!("oci-layout:{}", p.ws.path().join("catalog").display());
    p.candidate("1.0.0", "one\n");
    run_ok(p.cb(&spec).arg("publish").arg(&p.bp));
    for (name, base) in [("mid", "tiny-web:1.0.0"), ("top", "mid:1.0.0")] {
        let bp = on(&p, name, base);
        run_ok(p.cb(&spec).arg("test").arg(&bp));
        run_ok(p.cb(&spec).arg("publish").arg(&bp));
    }
    let v = json_of(&run_ok(p.cb(&spec).args([
        "catalog",
        "dependents",
        "tiny-web:1.0.0",
        "--json",
    ])));
    let found: Vec<(String, u64)> = v["dependents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["name"].as_str().unwrap().to_string(),
                d["depth"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        found,
        vec![("mid".to_string(), 1), ("top".to_string(), 2)],
        "{v}"
    );
    assert_eq!(v["dependents"][1]["base"], "catalog:mid:1.0.0");
    let none = json_of(&run_ok(p.cb(&spec).args([
        "catalog",
        "dependents",
        "top:1.0.0",
        "--json",
    ])));
    assert_eq!(none["dependents"], serde_json::json!([]));

    // Revoking the base marks its dependents "base revoked" without rewriting them.
    run_ok(
        p.cb(&spec)
            .args(["revoke", "tiny-web:1.0.0", "--reason", "CVE-2099-7"]),
    );
    let o = run_ok(
        p.cb(&spec)
            .args(["catalog", "resolve", "top:1.0.0", "--json"]),
    );
    let r = json_of(&o);
    let why = r["base_revoked"].as_str().unwrap();
    assert!(
        why.contains("tiny-web:1.0.0") && why.contains("CVE-2099-7"),
        "{why}"
    );
    assert!(stderr(&o).contains("base revoked"), "{}", stderr(&o));
    let mut c = p.cb(&spec);
    c.args(["catalog", "resolve", "top:1.0.0", "--strict"]);
    fails_with(c, 1, "base revoked");

    // `catalog list` marks both dependents, and not the base itself.
    let o = run_ok(p.cb(&spec).args(["catalog", "list"]));
    assert_eq!(
        stdout(&o).matches("base revoked").count(),
        2,
        "{}",
        stdout(&o)
    );
    let listed = json_of(&run_ok(p.cb(&spec).args(["catalog", "list", "--json"])));
    let marked: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["releases"][0]["base_revoked"].is_string())
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(marked, ["mid", "top"], "{listed}");
    let mid = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "mid");
    assert_eq!(
        mid.unwrap()["releases"][0]["base"]["name"],
        "catalog:tiny-web:1.0.0"
    );
}
