//! What one layer made or updated, which whiteouts and opaque whiteouts (they only remove
//! lower-layer content) must leave alone: inodes, and the names of hard links the layer
//! made to lower files (the name is the layer's, the inode is not).

use super::inode;
use rustix::fs::Stat;
use rustix::io::Errno;
use sha2::{Digest as _, Sha256};
use std::collections::HashSet;
use std::os::fd::BorrowedFd;

#[derive(Default)]
pub(crate) struct Touched {
    /// (dev, ino) of what the layer created or updated.
    inodes: HashSet<(u64, u64)>,
    /// Hashes of (directory inode, name) of hard links to lower files.
    links: HashSet<[u8; 16]>,
}

impl Touched {
    pub fn new() -> Touched {
        Touched::default()
    }

    pub fn insert(&mut self, ino: (u64, u64)) {
        self.inodes.insert(ino);
    }

    /// Records the name of a hard link just made in `dir` to the file `target` (its
    /// stat): the layer's own name, but the inode stays lower content when the target was.
    pub fn link(&mut self, dir: BorrowedFd<'_>, name: &str, target: &Stat) -> Result<(), Errno> {
        if !self.inodes.contains(&inode(target)) {
            self.links.insert(link_key(dir, name)?);
        }
        Ok(())
    }

    /// Whether `name` in `dir` (whose stat is `st`) is this layer's.
    pub fn owns(&self, dir: BorrowedFd<'_>, name: &str, st: &Stat) -> Result<bool, Errno> {
        if self.inodes.contains(&inode(st)) {
            return Ok(true);
        }
        if self.links.is_empty() {
            return Ok(false);
        }
        Ok(self.links.contains(&link_key(dir, name)?))
    }
}

fn link_key(dir: BorrowedFd<'_>, name: &str) -> Result<[u8; 16], Errno> {
    let (dev, ino) = inode(&rustix::fs::fstat(dir)?);
    let d = Sha256::new()
        .chain_update(dev.to_le_bytes())
        .chain_update(ino.to_le_bytes())
        .chain_update(name.as_bytes())
        .finalize();
    let mut k = [0u8; 16];
    k.copy_from_slice(&d[..16]);
    Ok(k)
}
