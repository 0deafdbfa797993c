//! The store: fsck finds corruption, bases import from a directory, a tarball and an OCI
//! layout, and a corrupt base blob is refused when used.

use crate::util::*;
use std::process::Command;

#[test]
fn fsck_reports_a_corrupt_blob_and_exits_1() {
    let ws = Ws::new();
    ws.tiny_base();
    let o = run_ok(ws.cb().args(["fsck", "--json"]));
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["problems"].as_array().unwrap().len(), 0);
    assert_eq!(r["blobs_checked"], 3);

    // Corrupt the layer blob (the largest file in blobs/).
    let blobs = ws.store().join("blobs/sha256");
    let mut files: Vec<_> = std::fs::read_dir(&blobs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort_by_key(|p| std::fs::metadata(p).unwrap().len());
    let victim = files.last().unwrap().clone();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut bytes = std::fs::read(&victim).unwrap();
    bytes[100] ^= 0xff;
    std::fs::write(&victim, bytes).unwrap();
    let o = ws.cb().args(["fsck"]).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    let name = victim.file_name().unwrap().to_string_lossy().into_owned();
    assert!(stdout(&o).contains(&name), "{}", stdout(&o));

    // Using the corrupt base is refused with exit 2 naming the blob.
    let dir = ws.path().join("flat");
    let o = ws
        .cb()
        .arg("unpack")
        .arg("busybox-tiny:1")
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains(&name), "{}", stderr(&o));
}

#[test]
fn base_import_from_dir_tar_and_layout_agree() {
    let ws = Ws::new();
    let digest = ws.tiny_base();
    // Flatten it, tar it, and import the tarball: same content, same epoch => same digest.
    let flat = ws.path().join("flat");
    run_ok(ws.cb().arg("unpack").arg("busybox-tiny:1").arg(&flat));
    let tarball = ws.path().join("rootfs.tar.gz");
    run_ok(
        Command::new("tar")
            .arg("-czf")
            .arg(&tarball)
            .arg("-C")
            .arg(&flat)
            .arg("."),
    );
    let o = run_ok(
        ws.cb()
            .args([
                "base",
                "import",
                "--name",
                "from-tar",
                "--version",
                "1",
                "--epoch",
                "1735689600",
                "--rootfs",
            ])
            .arg(&tarball),
    );
    assert_eq!(stdout(&o).trim(), digest);
    // Export the store image as a layout, import it under another name: digest kept.
    let tiny = ws.fixture("tiny");
    let out = ws.path().join("layout");
    run_ok(ws.cb().arg("build").arg(&tiny).arg("--out").arg(&out));
    let o = run_ok(
        ws.cb()
            .args([
                "base",
                "import",
                "--name",
                "copied",
                "--version",
                "2",
                "--oci-layout",
            ])
            .arg(format!("{}:0.1.0", out.display())),
    );
    let copied = stdout(&o).trim().to_string();
    let o = run_ok(ws.cb().args(["inspect", "tiny-test:0.1.0", "--json"]));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["digest"], copied.as_str());
    let o = run_ok(ws.cb().args(["images", "--json"]));
    let tags: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let names: Vec<_> = tags
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["tag"].as_str().unwrap().to_string())
        .collect();
    assert!(
        names.contains(&"copied:2".to_string()) && names.contains(&"from-tar:1".to_string()),
        "{names:?}"
    );
}

/// Flattening is deterministic too: directory mtimes do not depend on when `unpack` ran,
/// even for directories a later layer adds files to.
#[test]
fn unpack_twice_gives_identical_times() {
    let ws = Ws::new();
    ws.tiny_base();
    let bp = ws.fixture("tiny");
    run_ok(ws.cb().arg("build").arg(&bp));
    let listing = |dir: &std::path::Path| {
        let o = run_ok(
            Command::new("find")
                .arg(dir)
                .args(["-printf", "%P %T@ %m %U %G\n"]),
        );
        // The target directory itself (empty %P) is ours, not the image's.
        let mut lines: Vec<String> = stdout(&o)
            .lines()
            .filter(|l| !l.starts_with(' '))
            .map(str::to_string)
            .collect();
        lines.sort();
        lines
    };
    let a = ws.path().join("a");
    run_ok(ws.cb().arg("unpack").arg("tiny-test:0.1.0").arg(&a));
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let b = ws.path().join("b");
    run_ok(ws.cb().arg("unpack").arg("tiny-test:0.1.0").arg(&b));
    let (la, lb) = (listing(&a), listing(&b));
    assert_eq!(la, lb);
    // /etc gained files from a later layer; it keeps the base's time, not the clock.
    let etc = la.iter().find(|l| l.starts_with("etc ")).unwrap();
    assert!(etc.contains(" 1735689600.0"), "{etc}");
}
