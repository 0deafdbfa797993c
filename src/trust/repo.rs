//! One repository where signatures live, whoever holds it: a catalog (layout or
//! registry) or a vendor's registry that a `docker://` base comes from. Signing and
//! verification are written once against [`Repository`].

use crate::catalog::{BlobData, Catalog, RawManifest};
use crate::digest::Digest;
use crate::registry::Client;
use anyhow::Result;

/// The OCI primitives signing and verification need, for one repository.
pub trait Repository: Sync {
    /// The repository as a signature payload names it (`docker-reference`).
    fn identity(&self) -> String;
    fn get_manifest(&self, reference: &str) -> Result<Option<RawManifest>>;
    /// Reads a blob of at most `size` bytes (small: payloads and envelopes), verified.
    fn read_blob(&self, digest: &Digest, size: u64) -> Result<Vec<u8>>;
    fn has_blob(&self, digest: &Digest) -> Result<bool>;
    fn push_blob(&self, digest: &Digest, bytes: &[u8]) -> Result<()>;
    fn put_manifest(&self, tag: &str, m: &RawManifest) -> Result<()>;
}

/// A repository of a catalog.
pub struct CatalogRepo<'a> {
    pub catalog: &'a dyn Catalog,
    pub name: &'a str,
}

impl Repository for CatalogRepo<'_> {
    fn identity(&self) -> String {
        self.catalog.identity(self.name)
    }
    fn get_manifest(&self, reference: &str) -> Result<Option<RawManifest>> {
        self.catalog.get_manifest(self.name, reference)
    }
    fn read_blob(&self, digest: &Digest, size: u64) -> Result<Vec<u8>> {
        self.catalog.read_blob(self.name, digest, size)
    }
    fn has_blob(&self, digest: &Digest) -> Result<bool> {
        self.catalog.has_blob(self.name, digest)
    }
    fn push_blob(&self, digest: &Digest, bytes: &[u8]) -> Result<()> {
        let data = BlobData::Bytes(bytes.to_vec());
        self.catalog
            .push_blob(self.name, digest, bytes.len() as u64, &data)
    }
    fn put_manifest(&self, tag: &str, m: &RawManifest) -> Result<()> {
        self.catalog.put_manifest(self.name, tag, m).map(|_| ())
    }
}

/// A repository of a registry, through the shared client.
pub struct RegistryRepo<'a> {
    pub client: &'a Client,
    pub repository: &'a str,
}

impl Repository for RegistryRepo<'_> {
    fn identity(&self) -> String {
        format!("{}/{}", self.client.host(), self.repository)
    }
    fn get_manifest(&self, reference: &str) -> Result<Option<RawManifest>> {
        Ok(self
            .client
            .get_manifest(self.repository, reference)?
            .map(|m| RawManifest::new(m.media_type, m.bytes)))
    }
    fn read_blob(&self, digest: &Digest, size: u64) -> Result<Vec<u8>> {
        self.client.read_blob(self.repository, digest, size)
    }
    fn has_blob(&self, digest: &Digest) -> Result<bool> {
        self.client.has_blob(self.repository, digest)
    }
    fn push_blob(&self, digest: &Digest, bytes: &[u8]) -> Result<()> {
        // Opened again for each attempt: the bytes themselves, no copy.
        let open = || -> Result<Box<dyn std::io::Read + Send + '_>> { Ok(Box::new(bytes)) };
        self.client
            .push_blob(self.repository, digest, bytes.len() as u64, &open)
    }
    fn put_manifest(&self, tag: &str, m: &RawManifest) -> Result<()> {
        self.client
            .put_manifest(self.repository, tag, &m.media_type, &m.bytes, &m.digest)
            .map(|_| ())
    }
}
