//! The layer cache: a layer built once is reused when nothing it depends on changed.
//! The key is the digest of the parent chain's diff_ids, the layer's canonical
//! definition, the digests of its inputs, its locked package versions, the epoch and the
//! compression. A record maps the key to the layer blob; a hit needs the blob to exist.

use crate::digest::Digest;
use crate::layer::LayerInfo;
use crate::oci::{to_canonical_json, OciDir};
use anyhow::Result;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Everything a layer's bytes depend on. Serialized canonically and hashed into the key.
#[derive(Debug, Serialize)]
pub struct CacheKeyInput<'a> {
    /// Bumped when the way we build a layer kind changes, so old records stop matching.
    pub format: u32,
    pub parent_chain: &'a [String],
    pub definition: serde_json::Value,
    pub inputs: Vec<String>,
    pub locked_packages: Vec<(String, String)>,
    pub epoch: u64,
    pub compression: crate::layer::Compression,
}

impl CacheKeyInput<'_> {
    pub fn key(&self) -> Result<Digest> {
        Ok(Digest::of_bytes(&to_canonical_json(self)?))
    }
}

/// What a record remembers: enough to put the layer in a manifest without reading it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CacheRecord {
    pub digest: Digest,
    pub size: u64,
    pub diff_id: Digest,
    pub uncompressed_size: u64,
    pub media_type: String,
    /// Packages the layer installed (name, version), for the lock file.
    #[serde(default)]
    pub packages: Vec<(String, String)>,
}

impl CacheRecord {
    pub fn from_info(info: &LayerInfo, packages: Vec<(String, String)>) -> Self {
        CacheRecord {
            digest: info.digest.clone(),
            size: info.size,
            diff_id: info.diff_id.clone(),
            uncompressed_size: info.uncompressed_size,
            media_type: info.media_type.to_string(),
            packages,
        }
    }

    pub fn to_info(&self) -> Option<LayerInfo> {
        let media_type = crate::layer::Compression::from_media_type(&self.media_type)?.media_type();
        Some(LayerInfo {
            digest: self.digest.clone(),
            size: self.size,
            diff_id: self.diff_id.clone(),
            uncompressed_size: self.uncompressed_size,
            media_type,
        })
    }
}

/// Records live in `<store>/cache/layers/<key-hex>.json`, written atomically.
pub struct LayerCache {
    dir: PathBuf,
}

impl LayerCache {
    pub fn new(store: &OciDir) -> Self {
        LayerCache {
            dir: store.root().join("cache/layers"),
        }
    }

    /// The record for a key, if there is one whose blob is still in the store. A hit
    /// sets the record's mtime to now: `gc` removes the least recently used first.
    pub fn get(&self, store: &OciDir, key: &Digest) -> Option<CacheRecord> {
        let path = self.dir.join(format!("{}.json", key.hex()));
        let bytes = std::fs::read(&path).ok()?;
        let rec: CacheRecord = serde_json::from_slice(&bytes).ok()?;
        if !store.has_blob(&rec.digest) {
            return None;
        }
        // Best effort: a read-only store still builds.
        let _ = std::fs::File::options()
            .write(true)
            .open(&path)
            .and_then(|f| f.set_modified(std::time::SystemTime::now()));
        Some(rec)
    }

    pub fn put(&self, key: &Digest, rec: &CacheRecord) -> Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        crate::oci::write_atomic(
            &self.dir.join(format!("{}.json", key.hex())),
            &serde_json::to_vec_pretty(rec)?,
        )
    }
}

/// Where a layer that was not built came from, for reports and `--json` (`cache`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CacheSource {
    /// This store's own record.
    Local,
    /// The shared cache in a registry (`--cache`).
    Registry,
}
