//! The in-memory description of one layer entry, and the normalization of layer paths.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

/// Longest layer path we write or accept, in bytes (Linux `PATH_MAX`).
pub const MAX_PATH_BYTES: usize = 4096;

/// The prefix that marks a whiteout in a layer tar; no ordinary entry may use it.
pub const WHITEOUT_PREFIX: &str = ".wh.";

/// The name that marks a directory as opaque (its lower contents are hidden).
pub const OPAQUE_WHITEOUT: &str = ".wh..wh..opq";

/// One entry of a layer: what the tar writer emits and what `scan_dir` produces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Relative, normalized layer path: `etc/motd`; no leading or trailing `/`, no `.` or
    /// `..` components, no component starting with `.wh.` (see [`normalize_dest`]).
    pub path: String,
    pub kind: EntryKind,
    /// Permission bits only (`0o7777`, setuid/setgid/sticky included).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// Seconds since the Unix epoch; the writer clamps it to the layer's epoch.
    pub mtime: u64,
    /// Extended attributes written as `SCHILY.xattr.<name>` PAX records.
    pub xattrs: BTreeMap<String, Vec<u8>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    Dir,
    /// A regular file of exactly `size` bytes; the writer refuses a source of another size.
    File {
        source: FileSource,
        size: u64,
    },
    /// `target` is stored verbatim; it is resolved only by whoever follows the link.
    Symlink {
        target: String,
    },
    /// A hard link to `target`, the layer path of a `File` entry that sorts before it.
    Hardlink {
        target: String,
    },
    Fifo,
    /// Deletes `path` from the lower layers; written as `<parent>/.wh.<name>`.
    Whiteout,
    /// Hides the lower contents of directory `path`; written as `<path>/.wh..wh..opq`.
    OpaqueWhiteout,
}

/// Where a file's bytes come from. Host files are streamed when the layer is written.
#[derive(Debug, Clone)]
pub enum FileSource {
    Host(PathBuf),
    Bytes(Arc<[u8]>),
}

impl PartialEq for FileSource {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (FileSource::Host(a), FileSource::Host(b)) => a == b,
            (FileSource::Bytes(a), FileSource::Bytes(b)) => a[..] == b[..],
            _ => false,
        }
    }
}

impl Eq for FileSource {}

impl Entry {
    /// A directory entry with the given mode and owner and the latest mtime the writer allows.
    pub fn dir(path: impl Into<String>, mode: u32, uid: u32, gid: u32) -> Self {
        Entry::new(path, EntryKind::Dir, mode, uid, gid)
    }

    /// A regular file held in memory.
    pub fn bytes(path: impl Into<String>, data: impl Into<Arc<[u8]>>, mode: u32) -> Self {
        let data: Arc<[u8]> = data.into();
        let size = data.len() as u64;
        Entry::new(
            path,
            EntryKind::File {
                source: FileSource::Bytes(data),
                size,
            },
            mode,
            0,
            0,
        )
    }

    /// An entry whose mtime is `u64::MAX`, which the writer clamps to the layer epoch.
    pub fn new(path: impl Into<String>, kind: EntryKind, mode: u32, uid: u32, gid: u32) -> Self {
        Entry {
            path: path.into(),
            kind,
            mode,
            uid,
            gid,
            mtime: u64::MAX,
            xattrs: BTreeMap::new(),
        }
    }
}

/// Why a destination path was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid layer path {path:?}: {reason}")]
pub struct PathError {
    pub path: String,
    pub reason: &'static str,
}

/// Turns a blueprint destination (`/etc/motd`, `./etc//motd/`) into a layer path
/// (`etc/motd`). Refuses empty paths, `..` anywhere, NUL bytes, over-long paths and
/// components that start with `.wh.` (they would be read as whiteouts).
pub fn normalize_dest(dest: &str) -> Result<String, PathError> {
    let err = |reason| PathError {
        path: dest.to_string(),
        reason,
    };
    if dest.contains('\0') {
        return Err(err("contains a NUL byte"));
    }
    let mut out = String::with_capacity(dest.len());
    for comp in dest.split('/') {
        match comp {
            "" | "." => continue,
            ".." => return Err(err("contains a `..` component")),
            c if c.starts_with(WHITEOUT_PREFIX) => {
                return Err(err(
                    "a component starts with `.wh.`, reserved for whiteouts",
                ))
            }
            c => {
                if !out.is_empty() {
                    out.push('/');
                }
                out.push_str(c);
            }
        }
    }
    if out.is_empty() {
        return Err(err("names no file (empty or only `/` and `.`)"));
    }
    if out.len() > MAX_PATH_BYTES {
        return Err(err("longer than 4096 bytes"));
    }
    Ok(out)
}

/// Splits a normalized path into (parent, name); the parent of a top-level name is "".
pub(crate) fn split_parent(path: &str) -> (&str, &str) {
    match path.rfind('/') {
        Some(i) => (&path[..i], &path[i + 1..]),
        None => ("", path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_leading_slash_dots_and_repeats() {
        assert_eq!(normalize_dest("/etc/motd").unwrap(), "etc/motd");
        assert_eq!(normalize_dest("./etc//./motd/").unwrap(), "etc/motd");
        assert_eq!(normalize_dest("usr").unwrap(), "usr");
    }

    #[test]
    fn refuses_escapes_and_reserved_names() {
        for bad in [
            "",
            "/",
            "./.",
            "../etc",
            "etc/../../x",
            "etc/..",
            "a\0b",
            "etc/.wh.motd",
            ".wh..wh..opq",
        ] {
            let e = normalize_dest(bad).unwrap_err();
            assert_eq!(e.path, bad);
        }
        assert!(normalize_dest(&"a/".repeat(2049)).is_err());
    }

    #[test]
    fn splits_parent() {
        assert_eq!(split_parent("etc/motd"), ("etc", "motd"));
        assert_eq!(split_parent("etc"), ("", "etc"));
    }
}
