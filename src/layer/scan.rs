//! Turning host files into layer entries: a whole rootfs (`scan_dir`) keeps everything the
//! host says; a blueprint `files` source (`files_from_host`) keeps only what must not
//! depend on who checked it out where.

use super::entry::{normalize_dest, Entry, EntryKind, FileSource};
use anyhow::{bail, Context as _};
use std::collections::{BTreeMap, HashMap};
use std::fs::Metadata;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

/// The only extended attribute a layer carries: file capabilities (ping, newuidmap...).
/// Others (SELinux labels, user.*) describe the build host, not the image.
pub const KEPT_XATTR: &str = "security.capability";

/// A host file that has no place in a layer (device node or socket).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub path: String,
    pub kind: &'static str,
}

/// The entries of a scanned tree and the files left out of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scan {
    pub entries: Vec<Entry>,
    pub skipped: Vec<Skipped>,
}

/// Walks the rootfs `root` into entries, sorted by path. See [`scan_dir_report`], which
/// also returns the device nodes and sockets that were left out.
pub fn scan_dir(root: &Path) -> anyhow::Result<Vec<Entry>> {
    Ok(scan_dir_report(root)?.entries)
}

/// Walks `root` (not itself an entry) without following symlinks: modes (setuid bits
/// included), owners, mtimes, symlinks, FIFOs and `security.capability` are kept; a file
/// whose inode was already seen becomes a hard link to the first path in sorted order;
/// device nodes and sockets are skipped and listed.
pub fn scan_dir_report(root: &Path) -> anyhow::Result<Scan> {
    let mut found: Vec<(Entry, Option<(u64, u64)>)> = Vec::new();
    let mut skipped = Vec::new();
    for item in walkdir::WalkDir::new(root).follow_links(false).min_depth(1) {
        let item = item.with_context(|| format!("scanning {}", root.display()))?;
        let path = item.path();
        let rel = layer_path(root, path)?;
        let md = item
            .metadata()
            .with_context(|| format!("reading metadata of {}", path.display()))?;
        let ft = md.file_type();
        let (kind, inode) = if ft.is_dir() {
            (EntryKind::Dir, None)
        } else if ft.is_file() {
            let source = FileSource::Host(path.to_path_buf());
            let inode = (md.nlink() > 1).then(|| (md.dev(), md.ino()));
            (
                EntryKind::File {
                    source,
                    size: md.len(),
                },
                inode,
            )
        } else if ft.is_symlink() {
            (
                EntryKind::Symlink {
                    target: link_target(path)?,
                },
                None,
            )
        } else if ft.is_fifo() {
            (EntryKind::Fifo, None)
        } else {
            let kind = if ft.is_socket() {
                "socket"
            } else if ft.is_block_device() {
                "block device"
            } else {
                "character device"
            };
            skipped.push(Skipped { path: rel, kind });
            continue;
        };
        let mut e = host_entry(rel, kind, &md);
        if ft.is_file() {
            if let Some(cap) = read_capability(path)? {
                e.xattrs.insert(KEPT_XATTR.to_string(), cap);
            }
        }
        found.push((e, inode));
    }
    Ok(Scan {
        entries: sort_and_link(found),
        skipped,
    })
}

/// Sorts entries by path and turns every file whose inode (`(dev, ino)`, given for files
/// with more than one link) was already seen into a hard link to the first path in
/// sorted order.
pub(crate) fn sort_and_link(mut found: Vec<(Entry, Option<(u64, u64)>)>) -> Vec<Entry> {
    found.sort_unstable_by(|a, b| a.0.path.as_bytes().cmp(b.0.path.as_bytes()));
    let mut first: HashMap<(u64, u64), String> = HashMap::new();
    found
        .into_iter()
        .map(|(mut e, inode)| {
            if let Some(inode) = inode {
                match first.get(&inode) {
                    Some(target) => {
                        e.kind = EntryKind::Hardlink {
                            target: target.clone(),
                        };
                        e.xattrs.clear();
                    }
                    None => {
                        first.insert(inode, e.path.clone());
                    }
                }
            }
            e
        })
        .collect()
}

/// The entries for one blueprint `files` item: `src` (a file, or a directory copied
/// recursively) placed at `dest`.
///
/// Only what the blueprint says is kept, so the layer does not depend on the checkout:
/// owner is `uid:gid` for every entry; mtime is left to the layer epoch; directories are
/// 0755; regular files get `mode` if given, else 0755 when the host file has any execute
/// bit and 0644 otherwise (the git rule: the rest of a checked-out mode is the umask's);
/// symlinks are kept as symlinks with their target verbatim. Parents of `dest` are not
/// emitted. Hard links are copied as separate files; device nodes, sockets and FIFOs in
/// `src` are refused.
pub fn files_from_host(
    src: &Path,
    dest: &str,
    mode: Option<u32>,
    uid: u32,
    gid: u32,
) -> anyhow::Result<Vec<Entry>> {
    let dest = normalize_dest(dest)?;
    if let Some(m) = mode {
        if m & !0o7777 != 0 {
            bail!("mode {m:o} for {dest:?} has bits beyond 0o7777");
        }
    }
    let src = std::fs::canonicalize(src).with_context(|| format!("reading {}", src.display()))?;
    let md = std::fs::metadata(&src).with_context(|| format!("reading {}", src.display()))?;
    let file = |path: &Path, md: &Metadata, at: String| {
        let m = mode.unwrap_or(if md.mode() & 0o111 != 0 { 0o755 } else { 0o644 });
        let kind = EntryKind::File {
            source: FileSource::Host(path.to_path_buf()),
            size: md.len(),
        };
        Entry::new(at, kind, m, uid, gid)
    };
    if md.is_file() {
        return Ok(vec![file(&src, &md, dest)]);
    }
    if !md.is_dir() {
        bail!("{} is neither a file nor a directory", src.display());
    }
    let mut out = vec![Entry::dir(dest.clone(), 0o755, uid, gid)];
    for item in walkdir::WalkDir::new(&src).follow_links(false).min_depth(1) {
        let item = item.with_context(|| format!("scanning {}", src.display()))?;
        let at = format!("{dest}/{}", layer_path(&src, item.path())?);
        let md = item
            .metadata()
            .with_context(|| format!("reading metadata of {}", item.path().display()))?;
        let ft = md.file_type();
        out.push(if ft.is_dir() {
            Entry::dir(at, 0o755, uid, gid)
        } else if ft.is_file() {
            file(item.path(), &md, at)
        } else if ft.is_symlink() {
            let target = link_target(item.path())?;
            Entry::new(at, EntryKind::Symlink { target }, 0o777, uid, gid)
        } else {
            bail!(
                "{} is a special file (device, socket or FIFO); blueprint files may only \
                 be files, directories and symlinks",
                item.path().display()
            );
        });
    }
    out.sort_unstable_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
    Ok(out)
}

pub(crate) fn host_entry(path: String, kind: EntryKind, md: &Metadata) -> Entry {
    Entry {
        path,
        kind,
        mode: md.mode() & 0o7777,
        uid: md.uid(),
        gid: md.gid(),
        mtime: md.mtime().max(0) as u64,
        xattrs: BTreeMap::new(),
    }
}

/// `path` relative to `root`, as a normalized layer path.
pub(crate) fn layer_path(root: &Path, path: &Path) -> anyhow::Result<String> {
    let rel = path
        .strip_prefix(root)
        .expect("walkdir yields paths under its root");
    let Some(rel) = rel.to_str() else {
        bail!("{}: file names must be UTF-8 in a layer", path.display());
    };
    let norm = normalize_dest(rel).with_context(|| format!("scanning {}", path.display()))?;
    if norm != rel {
        bail!("{}: name cannot be stored in a layer", path.display());
    }
    Ok(norm)
}

pub(crate) fn link_target(path: &Path) -> anyhow::Result<String> {
    let t = std::fs::read_link(path).with_context(|| format!("reading link {}", path.display()))?;
    match t.into_os_string().into_string() {
        Ok(s) if !s.is_empty() => Ok(s),
        _ => bail!("{}: symlink target must be non-empty UTF-8", path.display()),
    }
}

pub(crate) fn read_capability(path: &Path) -> anyhow::Result<Option<Vec<u8>>> {
    let mut buf = [0u8; 256];
    match rustix::fs::lgetxattr(path, KEPT_XATTR, &mut buf[..]) {
        Ok(n) => Ok(Some(buf[..n].to_vec())),
        Err(e) if e == rustix::io::Errno::NODATA || e == rustix::io::Errno::OPNOTSUPP => Ok(None),
        Err(e) => Err(std::io::Error::from(e))
            .with_context(|| format!("reading {KEPT_XATTR} of {}", path.display())),
    }
}

#[cfg(test)]
#[path = "scan_tests.rs"]
pub(crate) mod tests;
