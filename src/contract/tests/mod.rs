//! Tests of the contract module that span files: suite fixtures, runs on real rootfs
//! trees with a real (chroot) executor, reports, the store and the gate.

mod chroot;
mod e2e_tests;
mod eval_tests;
mod gate_tests;
mod parse_tests;
mod report_tests;
mod run_tests;
mod store_tests;
mod vm_tests;

use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};

/// A file under `src/contract/fixtures/`.
pub fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/contract/fixtures")
        .join(rel)
}

/// The host's dash and the shared objects `ldd` says it needs (the host's real libc
/// among them), each copied to the same path inside `root`.
fn copy_shell(root: &Path) {
    let out = std::process::Command::new("ldd")
        .arg("/bin/dash")
        .output()
        .expect("ldd (libc-bin) is on every Debian machine");
    let text = String::from_utf8(out.stdout).unwrap();
    let mut files = vec!["/bin/dash".to_string()];
    for line in text.lines() {
        let path = match line.split_once("=>") {
            Some((_, rest)) => rest.split_whitespace().next(),
            None => line
                .split_whitespace()
                .next()
                .filter(|p| p.starts_with('/')),
        };
        files.extend(path.filter(|p| p.starts_with('/')).map(str::to_string));
    }
    for f in files {
        let dest = root.join(f.trim_start_matches('/'));
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        // A hard link never holds a write descriptor: a copy open for writing while
        // another test thread forks makes the exec fail with ETXTBSY ("Text file busy").
        // The links share the host's inodes: no test may write to them.
        let real = std::fs::canonicalize(&f).unwrap();
        if std::fs::hard_link(&real, &dest).is_err() {
            std::fs::copy(&f, &dest).unwrap();
        }
    }
}

/// A small Debian-like rootfs: usrmerge links, the host's dash and libc, /etc/passwd,
/// a sticky /tmp, a dpkg status file, and two symlinks that try to reach `secret`, a
/// file beside the root that no check may ever read.
pub struct TestRoot {
    /// Holds the temp directory (root and secret) until the test ends.
    pub _dir: tempfile::TempDir,
    pub root: PathBuf,
    pub secret: PathBuf,
}

pub const DPKG_STATUS: &str = "\
Package: libc6
Status: install ok installed
Architecture: amd64
Version: 2.36-9+deb12u4

Package: telnetd
Status: deinstall ok config-files
Architecture: amd64
Version: 0.17+2.4-2

Package: base-files
Status: install ok installed
Architecture: amd64
Version: 12.4+deb12u5
";

impl TestRoot {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("secret");
        std::fs::write(&secret, "host secret\n").unwrap();
        let root = dir.path().join("root");
        for d in ["usr/lib", "usr/bin", "etc", "tmp", "var/lib/dpkg", "lib64"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        symlink("usr/lib", root.join("lib")).unwrap();
        symlink("usr/bin", root.join("bin")).unwrap();
        copy_shell(&root);
        symlink("dash", root.join("usr/bin/sh")).unwrap();
        let w = |p: &str, text: &str, mode: u32| {
            std::fs::write(root.join(p), text).unwrap();
            std::fs::set_permissions(root.join(p), std::fs::Permissions::from_mode(mode)).unwrap();
        };
        w(
            "etc/passwd",
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/nonexistent:/usr/sbin/nologin\n",
            0o644,
        );
        w("etc/shadow", "root:*:19000:0:99999:7:::\n", 0o640);
        w("var/lib/dpkg/status", DPKG_STATUS, 0o644);
        w("usr/lib/libnotelf.so.1", "just text\n", 0o644);
        std::fs::set_permissions(root.join("tmp"), std::fs::Permissions::from_mode(0o1777))
            .unwrap();
        // Hostile links: the host's absolute path, and enough `..` to climb out.
        symlink(&secret, root.join("etc/evil-absolute")).unwrap();
        let depth = root.components().count();
        symlink(
            format!("{}secret", "../".repeat(depth)),
            root.join("etc/evil-dotdot"),
        )
        .unwrap();
        TestRoot {
            _dir: dir,
            root,
            secret,
        }
    }
}

/// A store holding one small image (config and manifest, no layers), tagged `tag`.
/// Returns the manifest digest.
pub fn store_image(store: &crate::oci::OciDir, tag: &str) -> crate::digest::Digest {
    use oci_spec::image::MediaType;
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": []},
        "config": {"Labels": {"tag": tag}},
    });
    let config = store.write_json(&config, MediaType::ImageConfig).unwrap();
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": config,
        "layers": [],
    });
    let desc = store
        .write_json(&manifest, MediaType::ImageManifest)
        .unwrap();
    store.set_tag(tag, &desc).unwrap();
    crate::digest::Digest::try_from(desc.digest()).unwrap()
}
