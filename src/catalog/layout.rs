//! The embedded catalog backend: one OCI image layout directory. Repository NAME's tag
//! TAG is the layout tag `NAME:TAG`, so `skopeo inspect oci:PATH:NAME:VERSION` finds a
//! release. Tags move under `OciDir`'s index lock, blobs are written atomically.

use super::{BlobData, Catalog, PutManifest, RawManifest};
use crate::digest::Digest;
use crate::oci::OciDir;
use anyhow::{Context, Result};
use oci_spec::image::{Descriptor, MediaType};
use std::io::Write;
use std::path::Path;

#[derive(Debug, Clone)]
pub struct LayoutCatalog {
    dir: OciDir,
}

impl LayoutCatalog {
    /// Opens the layout at `path`, creating an empty one when there is none.
    pub fn open(path: &Path) -> Result<Self> {
        let dir = OciDir::open_or_create(path)
            .with_context(|| format!("opening the catalog at {}", path.display()))?;
        Ok(LayoutCatalog { dir })
    }

    pub fn dir(&self) -> &OciDir {
        &self.dir
    }
}

fn layout_tag(repo: &str, tag: &str) -> String {
    format!("{repo}:{tag}")
}

/// The media type a manifest names for itself (`mediaType`), defaulting to an image manifest.
fn media_type_of(bytes: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(bytes)
        .ok()
        .and_then(|v| v.get("mediaType")?.as_str().map(str::to_string))
        .unwrap_or_else(|| MediaType::ImageManifest.to_string())
}

impl Catalog for LayoutCatalog {
    fn location(&self) -> String {
        format!("oci-layout:{}", self.dir.root().display())
    }

    fn client_reference(&self, repo: &str, reference: &str) -> String {
        if reference.starts_with("sha256:") {
            format!("oci:{}@{reference}", self.dir.root().display())
        } else {
            format!("oci:{}:{repo}:{reference}", self.dir.root().display())
        }
    }

    fn has_blob(&self, _repo: &str, digest: &Digest) -> Result<bool> {
        Ok(self.dir.has_blob(digest))
    }

    fn push_blob(&self, _repo: &str, digest: &Digest, size: u64, data: &BlobData) -> Result<()> {
        if self.dir.has_blob(digest) {
            return Ok(());
        }
        let mut r = data.open(digest, size)?;
        let mut w = self.dir.create_blob()?;
        std::io::copy(&mut r, &mut w).with_context(|| format!("copying blob {digest}"))?;
        w.flush()?;
        let (got, n) = w.complete()?;
        if &got != digest || n != size {
            return Err(crate::error::input(format!(
                "blob {digest}: wrote {got} ({n} bytes), expected {size} bytes"
            )));
        }
        Ok(())
    }

    fn read_blob(&self, _repo: &str, digest: &Digest, size: u64) -> Result<Vec<u8>> {
        if size > 64 << 20 {
            return Err(crate::error::input(format!(
                "blob {digest} is {size} bytes, too large to read whole"
            )));
        }
        self.dir.read_blob(digest, Some(size))
    }

    fn fetch_blob(&self, _repo: &str, digest: &Digest, size: u64, dest: &OciDir) -> Result<()> {
        dest.copy_blob_from(&self.dir, digest, Some(size))
    }

    fn put_manifest(&self, repo: &str, reference: &str, m: &RawManifest) -> Result<PutManifest> {
        let (d, _) = self.dir.write_blob(&m.bytes)?;
        debug_assert_eq!(d, m.digest);
        if !reference.starts_with("sha256:") {
            let mut desc = Descriptor::new(
                MediaType::from(m.media_type.as_str()),
                m.bytes.len() as u64,
                m.digest.to_oci(),
            );
            if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&m.bytes) {
                if let Some(t) = v.get("artifactType").and_then(|t| t.as_str()) {
                    desc.set_artifact_type(Some(MediaType::from(t)));
                }
            }
            self.dir.set_tag(&layout_tag(repo, reference), &desc)?;
        }
        Ok(PutManifest::default())
    }

    fn get_manifest(&self, repo: &str, reference: &str) -> Result<Option<RawManifest>> {
        if let Ok(d) = reference.parse::<Digest>() {
            if !self.dir.has_blob(&d) {
                return Ok(None);
            }
            let bytes = self.dir.read_blob(&d, None)?;
            return Ok(Some(RawManifest::new(media_type_of(&bytes), bytes)));
        }
        let Some(desc) = self.dir.resolve_tag(&layout_tag(repo, reference))? else {
            return Ok(None);
        };
        let d = Digest::try_from(desc.digest())?;
        let bytes = self.dir.read_blob(&d, Some(desc.size()))?;
        Ok(Some(RawManifest::new(desc.media_type().to_string(), bytes)))
    }

    fn head_manifest(&self, repo: &str, reference: &str) -> Result<Option<Digest>> {
        if let Ok(d) = reference.parse::<Digest>() {
            return Ok(self.dir.has_blob(&d).then_some(d));
        }
        self.dir
            .resolve_tag(&layout_tag(repo, reference))?
            .map(|desc| Ok(Digest::try_from(desc.digest())?))
            .transpose()
    }

    fn tags(&self, repo: &str) -> Result<Vec<String>> {
        let prefix = format!("{repo}:");
        Ok(self
            .dir
            .tag_names()?
            .into_iter()
            .filter_map(|t| t.strip_prefix(&prefix).map(str::to_string))
            .collect())
    }

    fn repositories(&self) -> Result<Vec<String>> {
        let mut v: Vec<String> = self
            .dir
            .tag_names()?
            .into_iter()
            .filter_map(|t| t.split_once(':').map(|(r, _)| r.to_string()))
            .collect();
        v.sort();
        v.dedup();
        Ok(v)
    }
}
