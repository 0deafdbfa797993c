//! The files a site links to (SBOMs, provenance, contract reports, notes, disks,
//! signatures), content-addressed: `files/sha256/<hex>.<ext>`, each written once however
//! many releases share it. The name comes from the digest the catalog verified and an
//! extension chosen here, never from the catalog's text.

use crate::catalog::Catalog;
use crate::digest::Digest;
use crate::oci::OciDir;
use anyhow::{Context, Result};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Blobs larger than this are streamed (a disk), not read whole.
const READ_WHOLE: u64 = 64 << 20;

/// A file of the site, as linked from a page.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Linked {
    /// Relative to the site root: `files/sha256/<hex>.<ext>`.
    pub path: String,
    pub size: u64,
}

/// Writes the linked files of a site under `root` (the site being built).
pub struct Files {
    root: PathBuf,
    written: Mutex<BTreeSet<String>>,
    bytes: AtomicU64,
}

/// `files/sha256/<hex>.<ext>`.
pub fn rel(digest: &Digest, ext: &str) -> String {
    debug_assert!(ext
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.'));
    format!("files/sha256/{}.{ext}", digest.hex())
}

impl Files {
    pub fn new(root: &Path) -> Result<Files> {
        std::fs::create_dir_all(root.join("files/sha256"))
            .with_context(|| format!("creating {}", root.join("files").display()))?;
        Ok(Files {
            root: root.to_path_buf(),
            written: Mutex::new(BTreeSet::new()),
            bytes: AtomicU64::new(0),
        })
    }

    /// Claims `path`: true when nobody wrote it yet.
    fn claim(&self, path: &str) -> bool {
        self.written
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(path.to_string())
    }

    /// Writes `bytes` (already verified against `digest`) once.
    pub fn put(&self, digest: &Digest, ext: &str, bytes: &[u8]) -> Result<Linked> {
        let path = rel(digest, ext);
        if self.claim(&path) {
            std::fs::write(self.root.join(&path), bytes)
                .with_context(|| format!("writing {path}"))?;
            self.bytes.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        }
        Ok(Linked {
            path,
            size: bytes.len() as u64,
        })
    }

    /// Copies the blob `digest` of `repo` once, verified, streaming large ones.
    pub fn copy(
        &self,
        cat: &dyn Catalog,
        repo: &str,
        digest: &Digest,
        size: u64,
        ext: &str,
    ) -> Result<Linked> {
        let path = rel(digest, ext);
        if !self.claim(&path) {
            return Ok(Linked { path, size });
        }
        let dest = self.root.join(&path);
        if size <= READ_WHOLE {
            let bytes = cat.read_blob(repo, digest, size)?;
            std::fs::write(&dest, &bytes).with_context(|| format!("writing {path}"))?;
        } else {
            // The backend streams into a layout (verified); the blob is then moved into place.
            let staging = OciDir::open_or_create(self.root.join(".fetch"))?;
            cat.fetch_blob(repo, digest, size, &staging)?;
            std::fs::rename(staging.blob_path(digest), &dest)
                .with_context(|| format!("moving {path} into place"))?;
        }
        self.bytes.fetch_add(size, Ordering::Relaxed);
        Ok(Linked { path, size })
    }

    /// How many files and bytes were written; removes the staging layout.
    pub fn finish(self) -> Result<(usize, u64)> {
        let staging = self.root.join(".fetch");
        if staging.exists() {
            std::fs::remove_dir_all(&staging)
                .with_context(|| format!("removing {}", staging.display()))?;
        }
        let n = self.written.lock().unwrap_or_else(|e| e.into_inner()).len();
        Ok((n, self.bytes.load(Ordering::Relaxed)))
    }
}
