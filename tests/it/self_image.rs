//! The container image of corebuild itself (blueprints/corebuild): built `--locked` from
//! the real minbase and the Debian mirror with the binary under test staged in, it passes
//! its contract suites (corebuild runs, the tools it starts are on PATH) and runs corebuild
//! as its entrypoint.

use crate::util::*;

#[test]
fn corebuild_image_builds_locked_and_passes_its_contract() {
    let ws = Ws::new();
    let base = ws.minbase();
    let bp = ws.project_blueprint("corebuild");
    let lock = std::fs::read_to_string(bp.join("blueprint.lock")).unwrap();
    assert!(
        lock.contains(&base),
        "blueprint.lock does not pin {base}:\n{lock}"
    );
    assert!(lock.contains("name = \"runc\""), "{lock}");
    // What scripts/corebuild-image.sh stages: the binary is not in git.
    let staged = bp.join("files/corebuild");
    assert!(!staged.exists(), "a binary is committed at {staged:?}");
    std::fs::create_dir_all(bp.join("files")).unwrap();
    std::fs::copy(BIN, &staged).unwrap();

    let o = ws
        .cb()
        .args(["test", "--locked", "--json"])
        .arg(&bp)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}\n{}", stdout(&o), stderr(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let suites: Vec<&str> = report["suites"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(suites, ["corebuild-image", "core-metadata"]);
    let summary = &report["summary"];
    assert_eq!(summary["failed"], 0, "{report}");
    assert_eq!(summary["errors"], 0, "{report}");
    assert_eq!(summary["passed"], summary["tests"], "{report}");

    // The image carries the binary's version (the blueprint must follow Cargo.toml).
    let image = format!("corebuild:{}", env!("CARGO_PKG_VERSION"));
    let o = run_ok(ws.cb().args(["inspect", &image, "--json"]));
    let info: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(info["digest"], report["candidate"]);
    assert_eq!(
        info["config"]["config"]["Entrypoint"],
        serde_json::json!(["/usr/local/bin/corebuild"])
    );
}
