//! The diff of an overlayfs upper directory as OCI layer entries: what a build step
//! added or changed, plus whiteouts for what it deleted.
//!
//! overlayfs marks a deleted file with a 0/0 character device and a directory whose
//! lower contents are hidden (`rm -rf d && mkdir d`) with `trusted.overlay.opaque=y`;
//! these become `Whiteout` and `Dir` + `OpaqueWhiteout` entries. Other `trusted.overlay.*`
//! attributes are bookkeeping of the mount and never reach a layer; a redirect or
//! metacopy attribute means the upper dir alone does not hold the change (the mount was
//! made without `redirect_dir=off,metacopy=off`) and is an error.

use super::entry::{normalize_dest, Entry, EntryKind, FileSource};
use super::scan::{
    host_entry, layer_path, link_target, read_capability, sort_and_link, KEPT_XATTR,
};
use anyhow::{bail, Context as _};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

/// Paths a build step's upper dir carries that are not part of the image: kernel and
/// runtime mounts, scratch space, and the host's DNS config bound in for downloads.
pub const BUILD_EXCLUDES: [&str; 6] = ["proc", "sys", "dev", "run", "tmp", "etc/resolv.conf"];

const OPAQUE_XATTR: &str = "trusted.overlay.opaque";
const REDIRECT_XATTR: &str = "trusted.overlay.redirect";
const METACOPY_XATTR: &str = "trusted.overlay.metacopy";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffOptions {
    /// Entry mtimes are clamped to this (seconds since the Unix epoch).
    pub epoch: u64,
    /// Layer paths ("tmp", "etc/resolv.conf") dropped with everything under them.
    pub exclude: Vec<String>,
}

impl DiffOptions {
    /// The options for a build step: `epoch` and [`BUILD_EXCLUDES`].
    pub fn build_step(epoch: u64) -> DiffOptions {
        DiffOptions {
            epoch,
            exclude: BUILD_EXCLUDES.iter().map(|s| s.to_string()).collect(),
        }
    }
}

/// Converts the upper dir of an unmounted overlay into layer entries, sorted by path.
///
/// Regular files, directories, symlinks and FIFOs keep their mode (setuid bits
/// included), owner and `security.capability`; mtimes are clamped to `opts.epoch`;
/// files sharing an inode become hard links to the first path in sorted order. Sockets
/// are left out (they mean nothing in an image); a device node other than a whiteout
/// is an error naming it, since a layer entry cannot hold one.
pub fn upper_to_entries(upper: &Path, opts: &DiffOptions) -> anyhow::Result<Vec<Entry>> {
    let exclude = opts
        .exclude
        .iter()
        .map(|p| normalize_dest(p).with_context(|| format!("excluded path {p:?}")))
        .collect::<anyhow::Result<Vec<String>>>()?;
    let excluded = |rel: &str| {
        exclude.iter().any(|x| {
            rel.strip_prefix(x.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        })
    };
    let mut found: Vec<(Entry, Option<(u64, u64)>)> = Vec::new();
    let walk = walkdir::WalkDir::new(upper)
        .follow_links(false)
        .min_depth(1)
        .into_iter()
        .filter_entry(
            |d| match d.path().strip_prefix(upper).ok().and_then(|p| p.to_str()) {
                Some(rel) => !excluded(rel),
                // Not UTF-8: let `layer_path` name it in its error.
                None => true,
            },
        );
    for item in walk {
        let item = item.with_context(|| format!("scanning overlay upper {}", upper.display()))?;
        let path = item.path();
        let rel = layer_path(upper, path)?;
        let md = item
            .metadata()
            .with_context(|| format!("reading metadata of {}", path.display()))?;
        let ft = md.file_type();
        let clamp = |mut e: Entry| {
            e.mtime = e.mtime.min(opts.epoch);
            e
        };
        if ft.is_char_device() && md.rdev() == 0 {
            let mut e = Entry::new(rel, EntryKind::Whiteout, 0, 0, 0);
            e.mtime = opts.epoch;
            found.push((e, None));
            continue;
        }
        let (kind, inode) = if ft.is_dir() {
            if has_xattr(path, REDIRECT_XATTR)? {
                bail!(
                    "{}: overlay redirect (a renamed directory); mount with redirect_dir=off",
                    path.display()
                );
            }
            if overlay_xattr(path, OPAQUE_XATTR)?.as_deref() == Some(b"y") {
                let mut e = Entry::new(rel.clone(), EntryKind::OpaqueWhiteout, 0, 0, 0);
                e.mtime = opts.epoch;
                found.push((e, None));
            }
            (EntryKind::Dir, None)
        } else if ft.is_file() {
            if has_xattr(path, METACOPY_XATTR)? {
                bail!(
                    "{}: overlay metacopy (metadata-only copy-up); mount with metacopy=off",
                    path.display()
                );
            }
            let kind = EntryKind::File {
                source: FileSource::Host(path.to_path_buf()),
                size: md.len(),
            };
            (kind, (md.nlink() > 1).then(|| (md.dev(), md.ino())))
        } else if ft.is_symlink() {
            let target = link_target(path)?;
            (EntryKind::Symlink { target }, None)
        } else if ft.is_fifo() {
            (EntryKind::Fifo, None)
        } else if ft.is_socket() {
            continue;
        } else {
            bail!(
                "{}: a device node cannot be stored in a layer (create devices at run time, \
                 or under an excluded path such as dev)",
                path.display()
            );
        };
        let mut e = clamp(host_entry(rel, kind, &md));
        if ft.is_file() {
            if let Some(cap) = read_capability(path)? {
                e.xattrs.insert(KEPT_XATTR.to_string(), cap);
            }
        }
        found.push((e, inode));
    }
    Ok(sort_and_link(found))
}

/// The value of a `trusted.overlay.*` attribute; None when absent.
fn overlay_xattr(path: &Path, name: &str) -> anyhow::Result<Option<Vec<u8>>> {
    let mut buf = [0u8; 256];
    match rustix::fs::lgetxattr(path, name, &mut buf[..]) {
        Ok(n) => Ok(Some(buf[..n].to_vec())),
        Err(e) if e == rustix::io::Errno::NODATA || e == rustix::io::Errno::OPNOTSUPP => Ok(None),
        // Larger than any flag value: present, and not "y".
        Err(e) if e == rustix::io::Errno::RANGE => Ok(Some(Vec::new())),
        Err(e) => Err(std::io::Error::from(e))
            .with_context(|| format!("reading {name} of {}", path.display())),
    }
}

fn has_xattr(path: &Path, name: &str) -> anyhow::Result<bool> {
    Ok(overlay_xattr(path, name)?.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustix::fs::{FileType, Mode, XattrFlags, CWD};

    fn whiteout(p: &Path) {
        rustix::fs::mknodat(CWD, p, FileType::CharacterDevice, Mode::empty(), 0).unwrap();
    }

    fn set(p: &Path, name: &str, value: &[u8]) {
        rustix::fs::lsetxattr(p, name, value, XattrFlags::empty()).unwrap();
    }

    /// An upper dir as overlayfs leaves it, built by hand (the end-to-end test with a
    /// real mount and runc is in `runtime::tests`).
    fn upper(dir: &Path) -> std::path::PathBuf {
        let u = dir.join("upper");
        for d in ["etc", "var/cache", "tmp", "proc", "usr/bin"] {
            std::fs::create_dir_all(u.join(d)).unwrap();
        }
        std::fs::write(u.join("etc/motd"), "changed\n").unwrap();
        whiteout(&u.join("etc/old"));
        set(&u.join("var/cache"), OPAQUE_XATTR, b"y");
        set(&u.join("etc"), "trusted.overlay.impure", b"y");
        set(&u.join("etc/motd"), "trusted.overlay.origin", b"\0\xfb\x21");
        std::fs::write(u.join("var/cache/new"), "n").unwrap();
        std::fs::write(u.join("tmp/scratch"), "s").unwrap();
        std::fs::write(u.join("usr/bin/tool"), "t").unwrap();
        std::fs::hard_link(u.join("usr/bin/tool"), u.join("usr/bin/atool")).unwrap();
        std::os::unix::fs::symlink("tool", u.join("usr/bin/t")).unwrap();
        rustix::fs::mknodat(
            CWD,
            u.join("fifo"),
            FileType::Fifo,
            Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        set(
            &u.join("usr/bin/tool"),
            KEPT_XATTR,
            &[
                1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            ],
        );
        u
    }

    #[test]
    fn converts_whiteouts_opaque_dirs_links_and_excludes() {
        let d = tempfile::tempdir().unwrap();
        let u = upper(d.path());
        let entries = upper_to_entries(&u, &DiffOptions::build_step(1000)).unwrap();
        let got: Vec<(&str, &EntryKind)> =
            entries.iter().map(|e| (e.path.as_str(), &e.kind)).collect();
        let names: Vec<&str> = got.iter().map(|g| g.0).collect();
        assert_eq!(
            names,
            [
                "etc",
                "etc/motd",
                "etc/old",
                "fifo",
                "usr",
                "usr/bin",
                "usr/bin/atool",
                "usr/bin/t",
                "usr/bin/tool",
                "var",
                "var/cache",
                "var/cache",
                "var/cache/new"
            ]
        );
        let kind = |p: &str| {
            entries
                .iter()
                .filter(|e| e.path == p)
                .map(|e| e.kind.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(kind("etc/old"), [EntryKind::Whiteout]);
        assert!(kind("var/cache").contains(&EntryKind::OpaqueWhiteout));
        assert!(kind("var/cache").contains(&EntryKind::Dir));
        assert_eq!(kind("etc"), [EntryKind::Dir]);
        assert_eq!(kind("fifo"), [EntryKind::Fifo]);
        // The first name in sorted order holds the data; the other links to it.
        assert!(matches!(kind("usr/bin/atool")[0], EntryKind::File { .. }));
        assert_eq!(
            kind("usr/bin/tool"),
            [EntryKind::Hardlink {
                target: "usr/bin/atool".into()
            }]
        );
        for e in &entries {
            assert!(e.mtime <= 1000, "{} mtime {}", e.path, e.mtime);
            assert!(
                e.xattrs.keys().all(|k| k == KEPT_XATTR),
                "{}: {:?}",
                e.path,
                e.xattrs.keys()
            );
        }
        let atool = entries.iter().find(|e| e.path == "usr/bin/atool").unwrap();
        assert!(atool.xattrs.contains_key(KEPT_XATTR));
        // The entries make a valid layer.
        let opts = crate::layer::LayerOptions {
            compression: crate::layer::Compression::Gzip,
            epoch: 1000,
        };
        let (out, info) = crate::layer::write_layer(entries, &opts, Vec::new()).unwrap();
        assert_eq!(out.len() as u64, info.size);
    }

    #[test]
    fn refuses_devices_and_incomplete_uppers() {
        let d = tempfile::tempdir().unwrap();
        let u = d.path().join("u");
        std::fs::create_dir_all(u.join("dev")).unwrap();
        rustix::fs::mknodat(
            CWD,
            u.join("dev/null"),
            FileType::CharacterDevice,
            Mode::from_raw_mode(0o666),
            rustix::fs::makedev(1, 3),
        )
        .unwrap();
        // Under an excluded path: fine.
        assert!(upper_to_entries(&u, &DiffOptions::build_step(0))
            .unwrap()
            .is_empty());
        let opts = DiffOptions {
            epoch: 0,
            exclude: vec![],
        };
        let e = upper_to_entries(&u, &opts).unwrap_err();
        assert!(e.to_string().contains("device node"), "{e}");
        std::fs::remove_file(u.join("dev/null")).unwrap();
        set(&u.join("dev"), REDIRECT_XATTR, b"/olddev");
        let e = upper_to_entries(&u, &opts).unwrap_err();
        assert!(e.to_string().contains("redirect_dir=off"), "{e}");
        let bad = DiffOptions {
            epoch: 0,
            exclude: vec!["../x".into()],
        };
        assert!(upper_to_entries(&u, &bad).is_err());
    }

    #[test]
    fn exclusion_is_by_path_component() {
        let d = tempfile::tempdir().unwrap();
        let u = d.path().join("u");
        std::fs::create_dir_all(u.join("tmpfiles.d")).unwrap();
        std::fs::create_dir_all(u.join("etc")).unwrap();
        std::fs::write(u.join("etc/resolv.conf"), "nameserver 1.1.1.1").unwrap();
        std::fs::write(u.join("etc/resolv.conf.bak"), "").unwrap();
        let entries = upper_to_entries(&u, &DiffOptions::build_step(0)).unwrap();
        let names: Vec<&str> = entries.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(names, ["etc", "etc/resolv.conf.bak", "tmpfiles.d"]);
    }
}
