//! `corebuild build` end to end, read back by independent tools: skopeo, umoci and runc.

use crate::util::*;
use std::process::Command;

/// The manifest digest of tests/fixtures/tiny on the busybox tiny base. It changes only
/// when the image format changes on purpose (or busybox-static changes: see below).
const GOLDEN_TINY: &str = "sha256:94bb8132a7f5108447908abb2ee3344e0ea44b864e0e074d4bb491fb70e00109";
/// The busybox-static binary the golden digest was made with (Debian 1:1.35.0-4+deb12u1+b1).
const GOLDEN_BUSYBOX: &str =
    "sha256:3d9f2889d6782537624a4e1a10e68a2ddd53e0ee8bac02676f27308f42ec6bf6";

#[test]
fn golden_digest_of_the_tiny_blueprint() {
    let busybox = corebuild::digest::Digest::of_bytes(&std::fs::read("/bin/busybox").unwrap());
    assert_eq!(
        busybox.to_string(),
        GOLDEN_BUSYBOX,
        "/bin/busybox is not the busybox-static build the golden digest was made with; \
         rebuild the golden digest deliberately if the package changed"
    );
    let ws = Ws::new();
    ws.tiny_base();
    let bp = ws.fixture("tiny");
    let v = build_json(ws.cb().arg("build").arg(&bp).arg("--json"));
    assert_eq!(v["digest"], GOLDEN_TINY, "the tiny blueprint's digest changed: a reproducibility regression, or a deliberate format change (then update GOLDEN_TINY)");
}

#[test]
fn build_json_names_the_image_and_out_layout_is_read_by_skopeo_umoci_and_runc() {
    let skopeo = require("skopeo");
    let ws = Ws::new();
    ws.tiny_base();
    let bp = ws.fixture("tiny");
    let out = ws.path().join("out");
    let v = build_json(
        ws.cb()
            .arg("build")
            .arg(&bp)
            .arg("--json")
            .arg("--out")
            .arg(&out),
    );
    assert_eq!(v["name"], "tiny-test");
    assert_eq!(v["version"], "0.1.0");
    let digest = v["digest"].as_str().unwrap().to_string();
    assert!(
        digest.starts_with("sha256:") && digest.len() == 71,
        "{digest}"
    );

    // skopeo reads our layout by either tag and reports our digest.
    for tag in ["0.1.0", "tiny-test:0.1.0"] {
        let o = run_ok(
            Command::new(&skopeo)
                .arg("inspect")
                .arg(format!("oci:{}:{tag}", out.display())),
        );
        let info: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(info["Digest"], digest.as_str(), "skopeo via tag {tag}");
        assert_eq!(
            info["Labels"]["org.opencontainers.image.vendor"],
            "corebuild-tests"
        );
        assert_eq!(info["Layers"].as_array().unwrap().len(), 3);
    }

    // umoci unpacks it into a runtime bundle, and runc runs the entrypoint.
    let bundle = ws.path().join("bundle");
    let o = umoci_runc(&out, "0.1.0", &bundle, &["/usr/local/bin/hello", "world"]);
    assert_eq!(
        std::fs::read_to_string(bundle.join("rootfs/etc/motd")).unwrap(),
        "welcome to tiny-test\n"
    );
    assert_eq!(stdout(&o), "hello from tiny-test world\n");
}

#[test]
fn inspect_and_unpack_show_what_was_built() {
    let ws = Ws::new();
    ws.tiny_base();
    let bp = ws.fixture("tiny");
    let v = build_json(ws.cb().arg("build").arg(&bp).arg("--json"));
    let o = run_ok(ws.cb().args(["inspect", "tiny-test:0.1.0", "--json"]));
    let info: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(info["digest"], v["digest"]);
    assert_eq!(
        info["config"]["config"]["Entrypoint"],
        serde_json::json!(["/usr/local/bin/hello"])
    );
    assert_eq!(info["config"]["created"], "2023-11-14T22:13:20Z");
    let env = info["config"]["config"]["Env"].as_array().unwrap();
    assert!(env.iter().any(|e| e == "LANG=C.UTF-8"), "{env:?}");

    let dir = ws.path().join("flat");
    run_ok(ws.cb().arg("unpack").arg("tiny-test:0.1.0").arg(&dir));
    use std::os::unix::fs::MetadataExt;
    let hello = std::fs::metadata(dir.join("usr/local/bin/hello")).unwrap();
    assert_eq!(hello.mode() & 0o7777, 0o755);
    assert_eq!(
        std::fs::read_to_string(dir.join("etc/extra/sub/b.conf")).unwrap(),
        "b=2\n"
    );
    assert_eq!(
        std::fs::read_link(dir.join("etc/extra/link.conf"))
            .unwrap()
            .to_str(),
        Some("a.conf")
    );
    assert!(std::fs::symlink_metadata(dir.join("bin/sh"))
        .unwrap()
        .file_type()
        .is_symlink());
}

#[test]
fn zstd_output_is_read_by_skopeo() {
    let skopeo = require("skopeo");
    let ws = Ws::new();
    ws.tiny_base();
    let bp = ws.fixture("tiny");
    let toml = std::fs::read_to_string(bp.join("blueprint.toml")).unwrap();
    std::fs::write(
        bp.join("blueprint.toml"),
        format!("{toml}\n[outputs]\ncompression = \"zstd\"\n"),
    )
    .unwrap();
    let out = ws.path().join("out");
    let v = build_json(
        ws.cb()
            .arg("build")
            .arg(&bp)
            .arg("--json")
            .arg("--out")
            .arg(&out),
    );
    let o = run_ok(
        Command::new(&skopeo)
            .arg("inspect")
            .arg("--raw")
            .arg(format!("oci:{}:0.1.0", out.display())),
    );
    let m: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let layers = m["layers"].as_array().unwrap();
    assert_eq!(
        layers[1]["mediaType"],
        "application/vnd.oci.image.layer.v1.tar+zstd"
    );
    assert_eq!(
        layers[2]["mediaType"],
        "application/vnd.oci.image.layer.v1.tar+zstd"
    );
    assert!(v["digest"].as_str().unwrap().starts_with("sha256:"));
    // And we read zstd layers back ourselves.
    let dir = ws.path().join("flat");
    run_ok(ws.cb().arg("unpack").arg("tiny-test:0.1.0").arg(&dir));
    assert!(dir.join("etc/motd").is_file());
}
