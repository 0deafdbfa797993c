//! The directories whose mode and mtime an apply sets last: the layer's own directories,
//! and the ones on the way to its entries as they were before the layer (so adding a
//! child does not leak the clock into a parent). Each is remembered once, keyed by a hash
//! of its real path computed one component at a time, and all of it within a byte budget.

use crate::layer::rootfs::{inode, open_dir, Fail, Root};
use rustix::fs::Stat;
use rustix::io::Errno;
use sha2::{Digest as _, Sha256};
use std::collections::HashSet;
use std::os::fd::{AsFd, OwnedFd};

/// Bytes of directory paths remembered by one layer (parents and its own directories).
pub(crate) const MAX_DIR_BYTES: u64 = 64 << 20;
/// Directories remembered by one layer.
pub(crate) const MAX_DIRS: usize = 1 << 20;

/// A directory whose mode and mtime are set after everything else in the layer, so
/// writing its children neither needs write permission nor moves its mtime.
pub(super) struct DirFix {
    /// Its path below the root, components joined by `/` (empty for the root).
    pub path: String,
    pub inode: (u64, u64),
    pub mode: u32,
    pub mtime: u64,
}

impl DirFix {
    pub fn comps(&self) -> Vec<&str> {
        self.path.split('/').filter(|c| !c.is_empty()).collect()
    }
}

type Key = [u8; 16];

#[derive(Default)]
pub(super) struct Dirs {
    /// Parents as they were before the layer (mtime 0 when the layer made them).
    pub parents: Vec<DirFix>,
    /// Directories the layer names itself.
    pub own: Vec<DirFix>,
    parents_seen: HashSet<Key>,
    /// Keys of the path prefixes of the last walk: `chain[i]` is the key of its first
    /// `i + 1` components.
    chain: Vec<Key>,
    bytes: u64,
}

impl Dirs {
    /// Called by the walk to a parent for each directory it passes (`real` is its path
    /// below the root), before anything is created in it.
    pub fn visit_parent(&mut self, real: &[String], st: &Stat, created: bool) -> Result<(), Fail> {
        self.chain.truncate(real.len().saturating_sub(1));
        let key = match real.last() {
            None => [0u8; 16],
            Some(leaf) => {
                let prev = self.chain.last().copied().unwrap_or([0u8; 16]);
                let k = chain_key(&prev, leaf);
                self.chain.push(k);
                k
            }
        };
        if self.parents_seen.contains(&key) {
            return Ok(());
        }
        let fix = DirFix {
            path: real.join("/"),
            inode: inode(st),
            mode: st.st_mode & 0o7777,
            // Made by the layer: no time of its own, so a fixed one, not the clock.
            mtime: if created {
                0
            } else {
                st.st_mtime.max(0) as u64
            },
        };
        self.budget(&fix)?;
        self.parents_seen.insert(key);
        self.parents.push(fix);
        Ok(())
    }

    /// Remembers a directory the layer names itself.
    pub fn own(&mut self, fix: DirFix) -> Result<(), Fail> {
        self.budget(&fix)?;
        self.own.push(fix);
        Ok(())
    }

    fn budget(&mut self, fix: &DirFix) -> Result<(), Fail> {
        self.bytes += fix.path.len() as u64 + 1;
        if self.bytes > MAX_DIR_BYTES || self.parents.len() + self.own.len() >= MAX_DIRS {
            return Err(Fail::Refused(format!(
                "the layer reaches more than {MAX_DIRS} directories or {} MiB of \
                 directory paths (limit)",
                MAX_DIR_BYTES >> 20
            )));
        }
        Ok(())
    }
}

/// Opens directories by their real path, keeping the fds of the previous path open so
/// a path sharing a prefix with it costs only its new components.
pub(super) struct Cursor<'r> {
    root: &'r Root,
    names: Vec<String>,
    fds: Vec<OwnedFd>,
}

impl<'r> Cursor<'r> {
    pub fn new(root: &'r Root) -> Self {
        Cursor {
            root,
            names: Vec::new(),
            fds: Vec::new(),
        }
    }

    /// The directory at `comps`, never following a symlink; `None` when a component is
    /// missing, not a directory, or a symlink.
    pub fn open(&mut self, comps: &[&str]) -> Result<Option<OwnedFd>, Errno> {
        let common = self
            .names
            .iter()
            .zip(comps)
            .take_while(|(a, b)| a == *b)
            .count();
        self.names.truncate(common);
        self.fds.truncate(common);
        for c in &comps[common..] {
            let cur = self.fds.last().map_or(self.root.fd(), |f| f.as_fd());
            match open_dir(cur, c) {
                Ok(fd) => {
                    self.fds.push(fd);
                    self.names.push(c.to_string());
                }
                Err(Errno::NOENT | Errno::NOTDIR | Errno::LOOP) => return Ok(None),
                Err(e) => return Err(e),
            }
        }
        let cur = self.fds.last().map_or(self.root.fd(), |f| f.as_fd());
        rustix::io::fcntl_dupfd_cloexec(cur, 0).map(Some)
    }
}

fn chain_key(prev: &Key, leaf: &str) -> Key {
    let d = Sha256::new()
        .chain_update(prev)
        .chain_update(leaf.as_bytes())
        .finalize();
    let mut k = [0u8; 16];
    k.copy_from_slice(&d[..16]);
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stat() -> Stat {
        rustix::fs::stat(".").unwrap()
    }

    fn names(p: &[&str]) -> Vec<String> {
        p.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn each_directory_is_remembered_once_by_its_real_path() {
        let mut d = Dirs::default();
        let st = stat();
        for walk in [&["a", "b"][..], &["a", "b", "c"], &["a", "x"], &["ab"]] {
            d.visit_parent(&[], &st, false).unwrap();
            for i in 1..=walk.len() {
                d.visit_parent(&names(&walk[..i]), &st, true).unwrap();
            }
        }
        let paths: Vec<&str> = d.parents.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["", "a", "a/b", "a/b/c", "a/x", "ab"]);
        assert_eq!(d.parents[1].mtime, 0, "made by the layer");
        assert_eq!(d.parents[0].comps(), Vec::<&str>::new());
        assert_eq!(d.parents[3].comps(), ["a", "b", "c"]);
    }

    #[test]
    fn the_budget_refuses_too_many_paths() {
        let mut d = Dirs::default();
        let st = stat();
        let long = "x".repeat(255);
        let err = (0..)
            .map(|i| d.visit_parent(&names(&[&long, &i.to_string()]), &st, true))
            .find_map(Result::err)
            .unwrap();
        assert!(matches!(err, Fail::Refused(r) if r.contains("limit")));
        assert!(d.bytes <= MAX_DIR_BYTES + 300);
    }
}
