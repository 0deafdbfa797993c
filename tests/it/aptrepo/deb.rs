//! A real binary package for the fixture archive: a staging tree with DEBIAN/control, one
//! payload file and a Debian changelog, packed by `dpkg-deb --build --root-owner-group`.

use crate::util::{require, run_ok};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Changelog entries, newest first: `(version, body lines)`. Each body line is written
/// indented by two spaces (so `"* Fix CVE-…"` becomes a bullet).
pub type Changelog = Vec<(String, Vec<String>)>;

pub const MAINTAINER: &str = "corebuild tests <m@x>";
/// The fixture's one date (2026-01-01T00:00:00Z): changelog trailers, Release, mtimes.
pub const EPOCH: u64 = 1_767_225_600;
pub const DATE: &str = "Thu, 01 Jan 2026 00:00:00 +0000";

/// What a package holds beyond its name and version.
#[derive(Clone, Debug)]
pub struct PkgOpts {
    /// `amd64` (the default) or `all`.
    pub arch: String,
    /// The `Depends:` field, if any (e.g. `"corelib (>= 1.0-2)"`).
    pub depends: Option<String>,
    /// The changelog; empty means one entry `* Release VERSION.` for this version.
    pub changelog: Changelog,
}

impl Default for PkgOpts {
    fn default() -> Self {
        PkgOpts {
            arch: "amd64".into(),
            depends: None,
            changelog: Vec::new(),
        }
    }
}

/// Where the package lands in the archive, relative to its root:
/// `pool/main/c/corelib/corelib_1.0-2_amd64.deb` (an epoch is left out, as Debian does).
pub fn pool_path(name: &str, version: &str, arch: &str) -> PathBuf {
    let bare = version.split_once(':').map_or(version, |(_, v)| v);
    Path::new("pool/main")
        .join(&name[..1])
        .join(name)
        .join(format!("{name}_{bare}_{arch}.deb"))
}

/// Builds the package into `out` from a staging tree under `scratch` (removed after).
pub fn build(scratch: &Path, suite: &str, name: &str, version: &str, o: &PkgOpts, out: &Path) {
    let root = scratch.join(format!("{name}_{version}"));
    let _ = std::fs::remove_dir_all(&root);
    let doc = root.join("usr/share/doc").join(name);
    write(
        &root.join("DEBIAN/control"),
        control(name, version, o).as_bytes(),
    );
    write(
        &root.join("usr/share").join(name).join("version"),
        format!("{version}\n").as_bytes(),
    );
    let log = match o.changelog.is_empty() {
        true => vec![(version.to_string(), vec![format!("* Release {version}.")])],
        false => o.changelog.clone(),
    };
    write(
        &doc.join("changelog.Debian"),
        changelog(name, suite, &log).as_bytes(),
    );
    run_ok(
        Command::new(require("gzip"))
            .arg("-9nf")
            .arg(doc.join("changelog.Debian")),
    );
    normalize(&root);
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    run_ok(
        Command::new(require("dpkg-deb"))
            .args(["--build", "--root-owner-group"])
            .arg(&root)
            .arg(out)
            .env("SOURCE_DATE_EPOCH", EPOCH.to_string()),
    );
    std::fs::remove_dir_all(&root).unwrap();
}

fn control(name: &str, version: &str, o: &PkgOpts) -> String {
    let depends = o.depends.as_ref().map(|d| format!("Depends: {d}\n"));
    format!(
        "Package: {name}\nVersion: {version}\nArchitecture: {}\nMaintainer: {MAINTAINER}\n\
         {}Section: libs\nPriority: optional\n\
         Description: {name}, a corebuild test package\n Offline fixture for the security-response tests.\n",
        o.arch,
        depends.unwrap_or_default()
    )
}

/// The Debian changelog format: header, blank, indented body, blank, ` -- who  date`.
pub fn changelog(name: &str, suite: &str, entries: &Changelog) -> String {
    let mut s = String::new();
    for (i, (version, lines)) in entries.iter().enumerate() {
        if i > 0 {
            s.push('\n');
        }
        s += &format!("{name} ({version}) {suite}; urgency=medium\n\n");
        for l in lines {
            s += &format!("  {l}\n");
        }
        s += &format!("\n -- {MAINTAINER}  {DATE}\n");
    }
    s
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

/// Fixed modes whatever the umask (dpkg-deb also wants DEBIAN/ at 0755).
fn normalize(root: &Path) {
    use std::os::unix::fs::PermissionsExt;
    for e in walkdir::WalkDir::new(root) {
        let e = e.unwrap();
        let mode = if e.file_type().is_dir() { 0o755 } else { 0o644 };
        std::fs::set_permissions(e.path(), std::fs::Permissions::from_mode(mode)).unwrap();
    }
}
