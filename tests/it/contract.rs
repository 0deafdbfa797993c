//! `corebuild test`: suites run against a real candidate in runc; a broken candidate
//! fails with expected vs actual; escapes fail and leave the host unchanged; reports are
//! stored, JSON and JUnit are written, and the gate reads them.

use crate::util::*;

fn tiny_web(ws: &Ws) -> std::path::PathBuf {
    ws.tiny_base();
    ws.project_blueprint("tiny-web")
}

#[test]
fn example_suites_pass_and_the_report_is_stored_and_gated() {
    let ws = Ws::new();
    let bp = tiny_web(&ws);
    let junit = ws.path().join("report.xml");
    let o = run_ok(
        ws.cb()
            .arg("test")
            .arg(&bp)
            .arg("--json")
            .arg("--junit")
            .arg(&junit),
    );
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let digest = r["candidate"].as_str().unwrap().to_string();
    let suites: Vec<_> = r["suites"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(suites, ["posix-base", "core-metadata", "httpd-service"]);
    assert_eq!(r["suites"][0]["version"], "1.0.0");
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains("<testsuites") && xml.contains("httpd answers 200"),
        "{xml}"
    );
    assert!(xml.contains(&digest));
    // The report is attached to the candidate in the store, found from its digest.
    let listing = run_ok(ws.cb().args(["images", "--json", "--all"]));
    let tags = stdout(&listing);
    assert!(
        tags.contains(&format!("sha256-{}.contract-", &digest[7..])),
        "{tags}"
    );
    // The JSON is stable: the same candidate tested again gives the same report, but timings.
    let o2 = run_ok(ws.cb().arg("test").arg(&bp).arg("--json"));
    let strip = |v: &str| {
        let mut v: serde_json::Value = serde_json::from_str(v).unwrap();
        for s in v["suites"].as_array_mut().unwrap() {
            for t in s["results"].as_array_mut().unwrap() {
                t.as_object_mut().unwrap().remove("duration_ms");
            }
        }
        v
    };
    assert_eq!(strip(&stdout(&o)), strip(&stdout(&o2)));
}

#[test]
fn a_broken_candidate_fails_with_expected_and_actual() {
    let ws = Ws::new();
    let bp = tiny_web(&ws);
    // Break the contract: a different entrypoint and no index page.
    let toml = std::fs::read_to_string(bp.join("blueprint.toml")).unwrap();
    let toml = toml.replace("\"-p\", \"8080\"", "\"-p\", \"9090\"");
    std::fs::write(bp.join("blueprint.toml"), toml).unwrap();
    std::fs::write(bp.join("files/index.html"), "nothing here\n").unwrap();
    std::fs::write(
        bp.parent().unwrap().parent().unwrap().join("contract-tests/web-metadata.toml"),
        "name = \"web-metadata\"\nversion = \"1.0.0\"\ndescription = \"d\"\n\
         [[test]]\nname = \"entrypoint serves 8080\"\n\
         metadata = { entrypoint = [\"/bin/busybox\", \"httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/var/www\"] }\n",
    )
    .unwrap();
    let o = ws
        .cb()
        .arg("test")
        .arg(&bp)
        .arg("--suite")
        .arg("web-metadata")
        .output()
        .unwrap();
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}\n{}", stderr(&o));
    assert!(out.contains("index page is served from /var/www"), "{out}");
    assert!(out.contains("entrypoint serves 8080"), "{out}");
    assert!(out.contains("9090"), "actual value missing: {out}");
    assert!(out.contains("8080"), "expected value missing: {out}");
}

#[test]
fn escapes_fail_and_the_host_is_unchanged() {
    let ws = Ws::new();
    let bp = tiny_web(&ws);
    let suites = bp
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("contract-tests");
    std::fs::copy(
        repo_root().join("tests/fixtures/suites/escapes.toml"),
        suites.join("escapes.toml"),
    )
    .unwrap();
    let canary = std::path::Path::new("/tmp/corebuild-canary");
    std::fs::create_dir_all(canary).unwrap();
    std::fs::write(canary.join("secret"), "host-secret\n").unwrap();
    let host_before = tree_state(canary);
    let passwd_before = std::fs::read("/etc/passwd").unwrap();
    let o = ws
        .cb()
        .arg("test")
        .arg(&bp)
        .arg("--suite")
        .arg("escapes")
        .arg("--json")
        .output()
        .unwrap();
    let r: serde_json::Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(&o)));
    let escapes = r["suites"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "escapes")
        .unwrap();
    for t in escapes["results"].as_array().unwrap() {
        if t["name"] == "a hung command is killed at its timeout" {
            assert_eq!(t["outcome"]["status"], "failed", "{t}");
            assert!(
                t["outcome"]["actual"].as_str().unwrap().contains("timeout"),
                "{t}"
            );
            assert!(t["duration_ms"].as_u64().unwrap() < 10_000, "{t}");
        } else {
            assert_eq!(t["outcome"]["status"], "passed", "{t}");
        }
    }
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(host_before, tree_state(canary));
    assert_eq!(passwd_before, std::fs::read("/etc/passwd").unwrap());
    // The candidate itself is untouched: tests ran on overlays of a read-only rootfs.
    let flat = ws.path().join("flat");
    run_ok(ws.cb().arg("unpack").arg("tiny-web:1.0.0").arg(&flat));
    assert!(!std::fs::read_to_string(flat.join("etc/passwd"))
        .unwrap()
        .contains("pwned"));
}
