//! The OCI distribution client: blobs, manifests, tags, the repository catalog and the
//! referrers API of one registry host, with our guards around every request: digests
//! and sizes verified, every answer read with a size cap, a retry budget, and credentials
//! that never leave the registry's own origin. The catalog's registry backend, registry
//! bases and the shared layer cache sit on top of it; it knows nothing about them.
//!
//! Blocking API; see runbook/decisions/0009-registry-client.md for what it is built on.

mod auth;
#[cfg(test)]
mod fake;
mod http;
mod limits;
mod origin;
mod pages;
#[cfg(test)]
mod tests;
mod token;

pub use auth::Credentials;
pub use http::RetryPolicy;
pub use limits::{JSON_LIMIT, MANIFEST_LIMIT, MAX_LISTED, MAX_PAGES};

use crate::digest::Digest;
use crate::oci::{OciDir, VerifiedReader};
use anyhow::Result;
use http::{error_text, Attempt, Body, Http};
use oci_spec::image::{Descriptor, ImageIndex};
use std::io::{Read, Write};

/// Manifest kinds we accept when reading.
const ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json";

/// Where a pushed blob's bytes come from: opened again for each attempt, and failing at
/// the end unless they match the digest and size.
pub type OpenBlob<'a> = dyn Fn() -> Result<Box<dyn Read + Send + 'a>> + Sync + 'a;

/// A manifest as the registry holds it, already checked against every digest claimed
/// for it (the reference, `Docker-Content-Digest`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedManifest {
    pub media_type: String,
    pub bytes: Vec<u8>,
}

/// A client for one registry host (`name[:port]`).
pub struct Client {
    http: Http,
}

/// Whether `host` (`name[:port]`) is a loopback address, where plain HTTP is allowed.
pub fn is_loopback(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host)
    };
    name == "localhost"
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl Client {
    /// A client for `host`; `insecure` (plain HTTP) only for a loopback host.
    pub fn new(host: &str, insecure: bool, retry: RetryPolicy) -> Result<Self> {
        let creds = auth::credentials_for(host)?;
        Self::with_credentials(host, insecure, retry, creds)
    }

    /// A client with the given credentials instead of those of the Docker config.
    pub fn with_credentials(
        host: &str,
        insecure: bool,
        retry: RetryPolicy,
        creds: Option<Credentials>,
    ) -> Result<Self> {
        if insecure && !is_loopback(host) {
            return Err(crate::error::input(format!(
                "--insecure (plain HTTP) is only allowed for a loopback registry, not {host}"
            )));
        }
        Ok(Client {
            http: Http::new(host, insecure, retry, creds)?,
        })
    }

    /// The registry host, `name[:port]`.
    pub fn host(&self) -> &str {
        &self.http.host
    }

    fn unexpected(&self, what: &str, resp: ureq::Response) -> anyhow::Error {
        crate::error::environment(format!(
            "{what} at {}: the registry answered {}",
            self.http.host,
            error_text(resp)
        ))
    }

    /// Whether repository `repo` holds the blob (HEAD).
    pub fn has_blob(&self, repo: &str, digest: &Digest) -> Result<bool> {
        let path = format!("/v2/{repo}/blobs/{digest}");
        let resp = self.http.request("HEAD", &path, &[], &Body::Empty, repo)?;
        match resp.status() {
            200 => Ok(true),
            404 => Ok(false),
            _ => Err(self.unexpected(&format!("HEAD blob {digest}"), resp)),
        }
    }

    /// Uploads a blob: a new upload session, then one PUT with the bytes. The whole
    /// upload is the unit that is retried: it is content-addressed, so repeating it is
    /// harmless.
    pub fn push_blob<'a>(
        &self,
        repo: &str,
        digest: &Digest,
        size: u64,
        open: &'a OpenBlob<'a>,
    ) -> Result<()> {
        let what = format!("uploading blob {digest} to {repo}");
        self.http.retrying(&what, || {
            let start = self.http.once(
                "POST",
                &self.http.url(&format!("/v2/{repo}/blobs/uploads/")),
                &[("Content-Length", "0")],
                &Body::Empty,
                repo,
            )?;
            if start.status() == 201 {
                return Ok(()); // a registry that mounted or already had it
            }
            if start.status() != 202 {
                return Err(self.unexpected(&what, start).into());
            }
            let location = start
                .header("Location")
                .ok_or_else(|| {
                    crate::error::environment(format!(
                        "{what}: the registry gave no upload Location"
                    ))
                })?
                .to_string();
            let sep = if location.contains('?') { '&' } else { '?' };
            let url = self
                .http
                .location(&format!("{location}{sep}digest={digest}"), &what)?;
            let put = self.http.once(
                "PUT",
                &url,
                &[("Content-Type", "application/octet-stream")],
                &Body::Stream { len: size, open },
                repo,
            )?;
            if put.status() != 201 {
                // 400 DIGEST_INVALID and friends: the registry refused our bytes; never retried.
                return Err(crate::error::environment(format!(
                    "{what}: the registry refused it: {}",
                    error_text(put)
                ))
                .into());
            }
            if let Some(h) = put.header("Docker-Content-Digest") {
                if h != digest.to_string() {
                    return Err(crate::error::input(format!(
                        "{what}: the registry stored it as {h}"
                    ))
                    .into());
                }
            }
            Ok(())
        })
    }

    /// Reads a small blob (at most 64 MiB) whole, verified.
    pub fn read_blob(&self, repo: &str, digest: &Digest, size: u64) -> Result<Vec<u8>> {
        if size > 64 << 20 {
            return Err(crate::error::input(format!(
                "blob {digest} is {size} bytes, too large to read whole"
            )));
        }
        let url = self.http.url(&format!("/v2/{repo}/blobs/{digest}"));
        self.http.retrying(&format!("GET blob {digest}"), || {
            let resp = self.http.once("GET", &url, &[], &Body::Empty, repo)?;
            if resp.status() != 200 {
                return Err(self.unexpected(&format!("GET blob {digest}"), resp).into());
            }
            let mut out = Vec::with_capacity(size as usize);
            let mut v = VerifiedReader::new(resp.into_reader(), digest.clone(), Some(size));
            read_verified(&mut v, &mut out, digest)?;
            Ok(out)
        })
    }

    /// Streams a blob into `dest`, verified; a blob `dest` holds already is kept.
    pub fn fetch_blob(&self, repo: &str, digest: &Digest, size: u64, dest: &OciDir) -> Result<()> {
        if dest.has_blob(digest) {
            return Ok(());
        }
        let url = self.http.url(&format!("/v2/{repo}/blobs/{digest}"));
        self.http.retrying(&format!("GET blob {digest}"), || {
            let resp = self.http.once("GET", &url, &[], &Body::Empty, repo)?;
            if resp.status() != 200 {
                return Err(self.unexpected(&format!("GET blob {digest}"), resp).into());
            }
            let mut w = dest.create_blob()?;
            let mut v = VerifiedReader::new(resp.into_reader(), digest.clone(), Some(size));
            read_verified(&mut v, &mut w, digest)?;
            w.flush().map_err(|e| Attempt::Fatal(e.into()))?;
            w.complete().map_err(|e| Attempt::Fatal(e.into()))?;
            Ok(())
        })
    }

    /// Puts a manifest under `reference` (its digest or a tag). Returns whether the
    /// registry answered `OCI-Subject` (it indexes the manifest's subject itself).
    pub fn put_manifest(
        &self,
        repo: &str,
        reference: &str,
        media_type: &str,
        bytes: &[u8],
        digest: &Digest,
    ) -> Result<bool> {
        let resp = self.http.request(
            "PUT",
            &format!("/v2/{repo}/manifests/{reference}"),
            &[("Content-Type", media_type)],
            &Body::Bytes(bytes),
            repo,
        )?;
        if resp.status() != 201 {
            return Err(crate::error::environment(format!(
                "putting manifest {digest} as {repo}:{reference}: the registry refused it: {}",
                error_text(resp)
            )));
        }
        if let Some(h) = resp.header("Docker-Content-Digest") {
            if h != digest.to_string() {
                return Err(crate::error::input(format!(
                    "manifest {digest} was stored by {} as {h}",
                    self.http.host
                )));
            }
        }
        Ok(resp.header("OCI-Subject").is_some())
    }

    /// Reads a manifest by tag or digest, verified; `None` when there is none.
    pub fn get_manifest(&self, repo: &str, reference: &str) -> Result<Option<FetchedManifest>> {
        let url = self.http.url(&format!("/v2/{repo}/manifests/{reference}"));
        let expected = reference.parse::<Digest>().ok();
        let what = format!("manifest {repo}:{reference}");
        self.http.retrying(&format!("GET {what}"), || {
            let resp = self
                .http
                .once("GET", &url, &[("Accept", ACCEPT)], &Body::Empty, repo)?;
            match resp.status() {
                200 => Ok(Some(manifest_from(resp, expected.as_ref(), &what)?)),
                404 => Ok(None),
                _ => Err(self.unexpected(&format!("GET {what}"), resp).into()),
            }
        })
    }

    /// The digest a tag names (or whether a digest is held), without the body when the
    /// registry says `Docker-Content-Digest`.
    pub fn head_manifest(&self, repo: &str, reference: &str) -> Result<Option<Digest>> {
        let resp = self.http.request(
            "HEAD",
            &format!("/v2/{repo}/manifests/{reference}"),
            &[("Accept", ACCEPT)],
            &Body::Empty,
            repo,
        )?;
        match resp.status() {
            200 => {}
            404 => return Ok(None),
            _ => return Err(self.unexpected(&format!("HEAD manifest {repo}:{reference}"), resp)),
        }
        match resp
            .header("Docker-Content-Digest")
            .and_then(|h| h.parse::<Digest>().ok())
        {
            Some(d) => Ok(Some(d)),
            // No digest header: read the manifest and hash it ourselves.
            None => Ok(self
                .get_manifest(repo, reference)?
                .map(|m| Digest::of_bytes(&m.bytes))),
        }
    }

    /// Every tag of `repo` (empty when the repository does not exist).
    pub fn tags(&self, repo: &str) -> Result<Vec<String>> {
        #[derive(serde::Deserialize)]
        struct Tags {
            tags: Option<Vec<String>>,
        }
        let what = format!("the tag list of {repo}");
        let first = format!("/v2/{repo}/tags/list?n=1000");
        pages::collect(&self.http, &first, repo, &what, true, |bytes| {
            let t: Tags = serde_json::from_slice(bytes)?;
            Ok(t.tags.unwrap_or_default())
        })
    }

    /// Every repository the registry lists (`/v2/_catalog`).
    pub fn repositories(&self) -> Result<Vec<String>> {
        #[derive(serde::Deserialize)]
        struct Repos {
            repositories: Option<Vec<String>>,
        }
        let what = "the repository list (/v2/_catalog)";
        pages::collect(
            &self.http,
            "/v2/_catalog?n=1000",
            "",
            what,
            false,
            |bytes| {
                let t: Repos = serde_json::from_slice(bytes)?;
                Ok(t.repositories.unwrap_or_default())
            },
        )
    }

    /// The referrers of `subject` from the referrers API, or `None` when the registry has
    /// none (Docker distribution 2.8 answers 404): the caller then reads the fallback tag.
    pub fn referrers(&self, repo: &str, subject: &Digest) -> Result<Option<Vec<Descriptor>>> {
        let resp = self.http.request(
            "GET",
            &format!("/v2/{repo}/referrers/{subject}"),
            &[("Accept", "application/vnd.oci.image.index.v1+json")],
            &Body::Empty,
            repo,
        )?;
        let is_index = resp
            .header("Content-Type")
            .is_some_and(|c| c.starts_with("application/vnd.oci.image.index.v1+json"));
        if resp.status() != 200 || !is_index {
            return Ok(None);
        }
        let what = format!("the referrers of {subject} in {repo}");
        let bytes = limits::read_capped(resp, JSON_LIMIT, &what)?;
        let index: ImageIndex = serde_json::from_slice(&bytes)
            .map_err(|e| crate::error::input(format!("{what} do not parse: {e}")))?;
        Ok(Some(index.manifests().clone()))
    }
}

/// Reads a manifest body (bounded), checks it against `expected` and the registry's
/// `Docker-Content-Digest`, and returns it.
fn manifest_from(
    resp: ureq::Response,
    expected: Option<&Digest>,
    what: &str,
) -> Result<FetchedManifest, Attempt> {
    let media_type = resp
        .header("Content-Type")
        .unwrap_or("application/vnd.oci.image.manifest.v1+json")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_string();
    let header_digest = resp.header("Docker-Content-Digest").map(str::to_string);
    let bytes = limits::read_capped_attempt(resp, MANIFEST_LIMIT, what)?;
    let actual = Digest::of_bytes(&bytes);
    let mut claims: Vec<Digest> = expected.into_iter().cloned().collect();
    if let Some(h) = header_digest.and_then(|h| h.parse::<Digest>().ok()) {
        claims.push(h);
    }
    if let Some(bad) = claims.iter().find(|c| **c != actual) {
        return Err(Attempt::Fatal(
            crate::oci::DigestMismatch {
                expected: bad.clone(),
                actual,
                size: bytes.len() as u64,
            }
            .into(),
        ));
    }
    Ok(FetchedManifest { media_type, bytes })
}

/// Copies a verified stream to `out`; a short or broken stream is worth a retry, a digest
/// mismatch is not.
fn read_verified<R: Read, W: Write>(
    v: &mut R,
    out: &mut W,
    digest: &Digest,
) -> Result<(), Attempt> {
    match std::io::copy(v, out) {
        Ok(_) => Ok(()),
        Err(e) => {
            let mismatch = e
                .get_ref()
                .is_some_and(|i| i.is::<crate::oci::DigestMismatch>());
            if mismatch || e.kind() == std::io::ErrorKind::InvalidData {
                Err(Attempt::Fatal(crate::error::input(format!(
                    "blob {digest} from the registry: {e}"
                ))))
            } else {
                Err(Attempt::Retry {
                    why: format!("reading blob {digest}: {e}"),
                    after: None,
                })
            }
        }
    }
}
