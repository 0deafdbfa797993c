//! `corebuild diff`: two versions of a blueprint differ by exactly what changed.

use crate::util::*;

#[test]
fn diff_names_changed_files_config_and_sizes() {
    let ws = Ws::new();
    ws.tiny_base();
    let bp = ws.fixture("tiny");
    run_ok(ws.cb().arg("build").arg(&bp));
    // Version 0.2.0: motd changes, a file is added, the entrypoint changes.
    let toml = std::fs::read_to_string(bp.join("blueprint.toml")).unwrap();
    let toml = toml
        .replace("version = \"0.1.0\"", "version = \"0.2.0\"")
        .replace(
            "entrypoint = [\"/usr/local/bin/hello\"]",
            "entrypoint = [\"/bin/sh\"]",
        )
        .replace(
            "{ src = \"files/motd\", dest = \"/etc/motd\", mode = \"0644\", uid = 0, gid = 0 }",
            "{ src = \"files/motd\", dest = \"/etc/motd\", mode = \"0600\", uid = 0, gid = 0 }, { src = \"files/new.txt\", dest = \"/etc/new.txt\" }",
        );
    std::fs::write(bp.join("blueprint.toml"), toml).unwrap();
    std::fs::write(bp.join("files/motd"), "changed\n").unwrap();
    std::fs::write(bp.join("files/new.txt"), "new\n").unwrap();
    run_ok(ws.cb().arg("build").arg(&bp));
    let o = run_ok(
        ws.cb()
            .args(["diff", "tiny-test:0.1.0", "tiny-test:0.2.0", "--json"]),
    );
    let d: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(d["files"]["added"], serde_json::json!(["etc/new.txt"]));
    assert_eq!(d["files"]["removed"], serde_json::json!([]));
    let changed = d["files"]["changed"].as_array().unwrap();
    assert_eq!(changed.len(), 1, "{changed:?}");
    assert_eq!(changed[0]["path"], "etc/motd");
    assert_eq!(changed[0]["what"], serde_json::json!(["content", "mode"]));
    let config = d["config"].as_array().unwrap();
    assert!(
        config
            .iter()
            .any(|c| c["field"] == "entrypoint" && c["to"] == "[\"/bin/sh\"]"),
        "{config:?}"
    );
    assert!(
        config
            .iter()
            .any(|c| c["field"] == "labels.org.opencontainers.image.version"
                && c["from"] == "0.1.0"
                && c["to"] == "0.2.0"),
        "{config:?}"
    );
    assert!(d["base"].is_null(), "same base: {}", d["base"]);
    assert_eq!(d["size"]["from_layers"].as_array().unwrap().len(), 3);
    // The human form summarizes.
    let o = run_ok(ws.cb().args(["diff", "tiny-test:0.1.0", "tiny-test:0.2.0"]));
    let text = stdout(&o);
    assert!(
        text.contains("files: 1 added, 0 removed, 1 changed"),
        "{text}"
    );
    assert!(text.contains("/etc/motd (content, mode)"), "{text}");
}
