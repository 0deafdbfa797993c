//! The registry catalog backend: the catalog's primitives on the OCI distribution client
//! ([`crate::registry`]). Repository NAME is `NAMESPACE/NAME`; a release lands at
//! `HOST/NAMESPACE/NAME:VERSION`. The client checks everything read against its digest
//! and size, whatever the registry says.

use super::{BlobData, Catalog, PutManifest, RawManifest};
use crate::digest::Digest;
use crate::oci::OciDir;
use crate::registry::{Client, RetryPolicy};
use anyhow::Result;
use oci_spec::image::Descriptor;

pub struct RegistryCatalog {
    client: Client,
    namespace: String,
}

impl RegistryCatalog {
    pub fn new(host: &str, namespace: &str, insecure: bool, retry: RetryPolicy) -> Result<Self> {
        Ok(RegistryCatalog {
            client: Client::new(host, insecure, retry)?,
            namespace: namespace.to_string(),
        })
    }

    fn repo(&self, name: &str) -> String {
        format!("{}/{name}", self.namespace)
    }
}

impl Catalog for RegistryCatalog {
    fn location(&self) -> String {
        format!("registry:{}/{}", self.client.host(), self.namespace)
    }

    fn client_reference(&self, repo: &str, reference: &str) -> String {
        let sep = if reference.starts_with("sha256:") {
            '@'
        } else {
            ':'
        };
        format!("{}/{}{sep}{reference}", self.client.host(), self.repo(repo))
    }

    fn identity(&self, repo: &str) -> String {
        format!("{}/{}", self.client.host(), self.repo(repo))
    }

    fn has_blob(&self, repo: &str, digest: &Digest) -> Result<bool> {
        self.client.has_blob(&self.repo(repo), digest)
    }

    fn push_blob(&self, repo: &str, digest: &Digest, size: u64, data: &BlobData) -> Result<()> {
        let open = || data.open(digest, size);
        self.client.push_blob(&self.repo(repo), digest, size, &open)
    }

    fn read_blob(&self, repo: &str, digest: &Digest, size: u64) -> Result<Vec<u8>> {
        self.client.read_blob(&self.repo(repo), digest, size)
    }

    fn fetch_blob(&self, repo: &str, digest: &Digest, size: u64, dest: &OciDir) -> Result<()> {
        self.client.fetch_blob(&self.repo(repo), digest, size, dest)
    }

    fn put_manifest(&self, repo: &str, reference: &str, m: &RawManifest) -> Result<PutManifest> {
        let subject_indexed = self.client.put_manifest(
            &self.repo(repo),
            reference,
            &m.media_type,
            &m.bytes,
            &m.digest,
        )?;
        Ok(PutManifest { subject_indexed })
    }

    fn get_manifest(&self, repo: &str, reference: &str) -> Result<Option<RawManifest>> {
        Ok(self
            .client
            .get_manifest(&self.repo(repo), reference)?
            .map(|m| RawManifest::new(m.media_type, m.bytes)))
    }

    fn head_manifest(&self, repo: &str, reference: &str) -> Result<Option<Digest>> {
        self.client.head_manifest(&self.repo(repo), reference)
    }

    fn tags(&self, repo: &str) -> Result<Vec<String>> {
        self.client.tags(&self.repo(repo))
    }

    fn repositories(&self) -> Result<Vec<String>> {
        let prefix = format!("{}/", self.namespace);
        let mut out: Vec<String> = self
            .client
            .repositories()?
            .into_iter()
            .filter_map(|r| r.strip_prefix(&prefix).map(str::to_string))
            .filter(|r| !r.contains('/'))
            .collect();
        out.sort();
        Ok(out)
    }

    fn referrers_api(&self, repo: &str, subject: &Digest) -> Result<Option<Vec<Descriptor>>> {
        self.client.referrers(&self.repo(repo), subject)
    }
}
