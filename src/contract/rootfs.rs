//! Reading an untrusted flattened rootfs without ever leaving it. Paths are resolved one
//! component at a time as `chroot` would: an absolute symlink restarts at the rootfs, `..`
//! stops at it, and nothing the host has outside the rootfs is ever looked at.
//!
//! The rootfs is our own unpack directory and nothing runs in it while it is checked
//! (command tests run on an overlay), so resolving by path is not racing a writer; the
//! final open still refuses a symlink (`O_NOFOLLOW`) as a second line of defence.

use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::fs::{File, Metadata};
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path, PathBuf};

/// Linux's limit on symlinks followed in one lookup (ELOOP past it).
const MAX_SYMLINKS: usize = 40;

/// A rootfs directory on the host.
#[derive(Debug, Clone, Copy)]
pub struct RootFs<'a> {
    root: &'a Path,
}

/// A path found inside the rootfs: `host` is where it is on this machine (no symlink in
/// any of its components but perhaps the last), `meta` its `lstat`.
#[derive(Debug)]
pub struct Found {
    pub host: PathBuf,
    /// The path inside the image after resolution, for messages (`/usr/lib/x/libc.so.6`).
    pub image_path: String,
    pub meta: Metadata,
}

impl<'a> RootFs<'a> {
    pub fn new(root: &'a Path) -> Self {
        RootFs { root }
    }

    /// Resolves `path` (absolute or not: both are taken from the rootfs's `/`) inside the
    /// rootfs. `follow_last` decides whether a final symlink is followed (`stat`) or
    /// returned itself (`lstat`). `Ok(None)` when the path does not exist.
    pub fn lookup(&self, path: &str, follow_last: bool) -> io::Result<Option<Found>> {
        let mut stack: Vec<OsString> = Vec::new();
        let mut pending: VecDeque<OsString> = components(Path::new(path));
        let mut hops = 0;
        while let Some(c) = pending.pop_front() {
            if c == ".." {
                stack.pop();
                continue;
            }
            let host = self.host_path(&stack).join(&c);
            let meta = match std::fs::symlink_metadata(&host) {
                Ok(m) => m,
                Err(e) if is_absent(&e) => return Ok(None),
                Err(e) => return Err(e),
            };
            let last = pending.is_empty();
            if meta.file_type().is_symlink() && (!last || follow_last) {
                hops += 1;
                if hops > MAX_SYMLINKS {
                    return Err(io::Error::other(format!(
                        "too many levels of symbolic links resolving {path} in the image"
                    )));
                }
                let target = std::fs::read_link(&host)?;
                if target.is_absolute() {
                    stack.clear();
                }
                let mut next = components(&target);
                next.extend(pending.drain(..));
                pending = next;
                continue;
            }
            if !last && !meta.is_dir() {
                return Ok(None); // ENOTDIR: a file used as a directory
            }
            stack.push(c);
        }
        let host = self.host_path(&stack);
        let meta = std::fs::symlink_metadata(&host)?;
        Ok(Some(Found {
            image_path: image_path(&stack),
            host,
            meta,
        }))
    }

    /// Opens a resolved regular file for reading, refusing a symlink at the last step.
    pub fn open(&self, found: &Found) -> io::Result<File> {
        std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&found.host)
    }

    /// Reads up to `limit` bytes of a resolved file; `Ok(None)` if it is longer.
    pub fn read_limited(&self, found: &Found, limit: u64) -> io::Result<Option<Vec<u8>>> {
        let mut buf = Vec::new();
        self.open(found)?.take(limit + 1).read_to_end(&mut buf)?;
        Ok((buf.len() as u64 <= limit).then_some(buf))
    }

    /// The names in a directory of the image (resolved inside the rootfs), sorted.
    pub fn list_dir(&self, path: &str) -> io::Result<Vec<String>> {
        let Some(found) = self.lookup(path, true)? else {
            return Ok(Vec::new());
        };
        if !found.meta.is_dir() {
            return Ok(Vec::new());
        }
        let mut names: Vec<String> = std::fs::read_dir(&found.host)?
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .collect();
        names.sort();
        Ok(names)
    }

    fn host_path(&self, stack: &[OsString]) -> PathBuf {
        let mut p = self.root.to_path_buf();
        p.extend(stack);
        p
    }
}

/// The normal components of a path, with `..` kept and `/`, `.` dropped.
fn components(p: &Path) -> VecDeque<OsString> {
    p.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some(OsStr::new("..").to_os_string()),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => None,
        })
        .collect()
}

fn image_path(stack: &[OsString]) -> String {
    let mut s = String::new();
    for c in stack {
        s.push('/');
        s.push_str(&c.to_string_lossy());
    }
    if s.is_empty() {
        s.push('/');
    }
    s
}

fn is_absent(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ENOTDIR)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// A rootfs with usrmerge links, relative and absolute links, a loop, and links that
    /// try to leave the root; beside it, a host secret they must never reach.
    fn tree() -> (tempfile::TempDir, PathBuf) {
        let t = tempfile::tempdir().unwrap();
        let secret = t.path().join("secret");
        std::fs::write(&secret, "host secret").unwrap();
        let root = t.path().join("root");
        for d in ["usr/lib/x86_64-linux-gnu", "etc", "bin"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        std::fs::write(root.join("usr/lib/x86_64-linux-gnu/libc.so.6"), "elf").unwrap();
        std::fs::write(root.join("etc/passwd"), "root:x:0:0\n").unwrap();
        std::fs::write(root.join("secret"), "image file named secret").unwrap();
        symlink("usr/lib", root.join("lib")).unwrap();
        symlink("/etc/passwd", root.join("bin/abs")).unwrap();
        symlink("../etc/passwd", root.join("bin/rel")).unwrap();
        symlink(&secret, root.join("etc/host-abs")).unwrap();
        symlink("../../../../../../secret", root.join("etc/dotdot")).unwrap();
        symlink("../../../../../../..", root.join("etc/up")).unwrap();
        symlink("loop2", root.join("etc/loop1")).unwrap();
        symlink("loop1", root.join("etc/loop2")).unwrap();
        (t, root)
    }

    fn read(root: &Path, p: &str) -> Option<String> {
        let fs = RootFs::new(root);
        let f = fs.lookup(p, true).unwrap()?;
        Some(String::from_utf8(fs.read_limited(&f, 1024).unwrap().unwrap()).unwrap())
    }

    #[test]
    fn resolves_like_chroot() {
        let (_t, root) = tree();
        assert_eq!(read(&root, "/etc/passwd").unwrap(), "root:x:0:0\n");
        assert_eq!(read(&root, "/bin/abs").unwrap(), "root:x:0:0\n");
        assert_eq!(read(&root, "/bin/rel").unwrap(), "root:x:0:0\n");
        assert_eq!(
            read(&root, "/lib/x86_64-linux-gnu/libc.so.6").unwrap(),
            "elf"
        );
        assert_eq!(read(&root, "/../../etc/./passwd").unwrap(), "root:x:0:0\n");
        let f = RootFs::new(&root)
            .lookup("/lib/x86_64-linux-gnu/libc.so.6", true)
            .unwrap()
            .unwrap();
        assert_eq!(f.image_path, "/usr/lib/x86_64-linux-gnu/libc.so.6");
        assert!(f.host.starts_with(&root));
    }

    #[test]
    fn hostile_links_stay_inside() {
        let (_t, root) = tree();
        // The host's absolute path, taken inside the root, does not exist there.
        assert_eq!(read(&root, "/etc/host-abs"), None);
        // `..` stops at the root: this finds the image's /secret, never the host's.
        assert_eq!(
            read(&root, "/etc/dotdot").unwrap(),
            "image file named secret"
        );
        assert_eq!(
            read(&root, "/etc/up/secret").unwrap(),
            "image file named secret"
        );
        let up = RootFs::new(&root).lookup("/etc/up", true).unwrap().unwrap();
        assert_eq!(
            (up.host.as_path(), up.image_path.as_str()),
            (root.as_path(), "/")
        );
        let e = RootFs::new(&root).lookup("/etc/loop1", true).unwrap_err();
        assert!(e.to_string().contains("too many levels"), "{e}");
    }

    #[test]
    fn last_link_itself_and_absent_paths() {
        let (_t, root) = tree();
        let fs = RootFs::new(&root);
        let l = fs.lookup("/bin/abs", false).unwrap().unwrap();
        assert!(l.meta.file_type().is_symlink());
        // A symlink is never opened through, even if handed over by mistake.
        assert!(fs.open(&l).is_err());
        assert!(fs.lookup("/nope/x", true).unwrap().is_none());
        assert!(fs.lookup("/etc/passwd/x", true).unwrap().is_none());
        assert_eq!(fs.list_dir("/lib").unwrap(), ["x86_64-linux-gnu"]);
        assert!(fs.list_dir("/missing").unwrap().is_empty());
    }
}
