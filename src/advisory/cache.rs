//! A local cache of small content-addressed blobs (artifact manifests, SBOM and VEX
//! documents) read from a catalog, under `<store>/cache/advisory/sha256/<hex>`.
//!
//! Correctness stays simple because a blob is named by its digest: a cached file is
//! verified against its name on every read (a file that does not match is removed and
//! fetched again), and it is written to a temp name and renamed, so a killed query
//! leaves no half-written entry. Nothing mutable (tags, referrer lists, events) is kept.

use crate::digest::Digest;
use anyhow::Result;
use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct BlobCache {
    dir: Option<PathBuf>,
}

impl BlobCache {
    /// A cache under `store` (created when first written).
    pub fn under(store: &std::path::Path) -> Self {
        BlobCache {
            dir: Some(store.join("cache/advisory/sha256")),
        }
    }

    /// No cache: every blob is read from the catalog.
    pub fn none() -> Self {
        BlobCache { dir: None }
    }

    fn path(&self, d: &Digest) -> Option<PathBuf> {
        self.dir.as_ref().map(|dir| dir.join(d.hex()))
    }

    /// The cached bytes of `d`, verified; `None` when absent or not matching.
    pub fn get(&self, d: &Digest) -> Option<Vec<u8>> {
        let p = self.path(d)?;
        let bytes = std::fs::read(&p).ok()?;
        if Digest::of_bytes(&bytes) == *d {
            Some(bytes)
        } else {
            let _ = std::fs::remove_file(&p);
            None
        }
    }

    /// The bytes of `d`: cached, else from `fetch` (which verifies them), then kept.
    /// A cache that cannot be written is skipped: it only saves time.
    pub fn get_or(&self, d: &Digest, fetch: impl FnOnce() -> Result<Vec<u8>>) -> Result<Vec<u8>> {
        if let Some(b) = self.get(d) {
            return Ok(b);
        }
        let bytes = fetch()?;
        if Digest::of_bytes(&bytes) != *d {
            return Err(crate::error::input(format!(
                "the catalog answered {} for blob {d}",
                Digest::of_bytes(&bytes)
            )));
        }
        let _ = self.put(d, &bytes);
        Ok(bytes)
    }

    fn put(&self, d: &Digest, bytes: &[u8]) -> std::io::Result<()> {
        let (Some(dir), Some(p)) = (&self.dir, self.path(d)) else {
            return Ok(());
        };
        std::fs::create_dir_all(dir)?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
        tmp.write_all(bytes)?;
        tmp.persist(p).map_err(|e| e.error)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verified_on_read_and_refetched_when_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let c = BlobCache::under(dir.path());
        let d = Digest::of_bytes(b"sbom");
        let got = c.get_or(&d, || Ok(b"sbom".to_vec())).unwrap();
        assert_eq!(got, b"sbom");
        // Cached: the fetch is not called again.
        let again = c.get_or(&d, || panic!("fetched twice")).unwrap();
        assert_eq!(again, b"sbom");
        // A corrupted entry is dropped and fetched again.
        let p = dir.path().join("cache/advisory/sha256").join(d.hex());
        std::fs::write(&p, b"evil").unwrap();
        assert_eq!(c.get(&d), None);
        assert!(!p.exists());
        // A fetch that answers other bytes is refused and not kept.
        let e = c.get_or(&d, || Ok(b"other".to_vec())).unwrap_err();
        assert_eq!(crate::error::exit_code(&e), 2);
        assert!(!p.exists());
        let none = BlobCache::none();
        assert_eq!(none.get_or(&d, || Ok(b"sbom".to_vec())).unwrap(), b"sbom");
    }
}
