//! The registry catalog backend: the OCI distribution API over HTTP(S). Repository NAME
//! is `NAMESPACE/NAME`; a release lands at `HOST/NAMESPACE/NAME:VERSION`. Everything
//! read is checked against its digest and size, whatever the registry says.

mod auth;
mod http;

pub use http::RetryPolicy;

use super::{BlobData, Catalog, PutManifest, RawManifest};
use crate::digest::Digest;
use crate::oci::{OciDir, VerifiedReader};
use anyhow::{anyhow, Context, Result};
use http::{error_text, Attempt, Body, Http};
use oci_spec::image::{Descriptor, ImageIndex};
use std::io::{Read, Write};

/// Manifest kinds we accept when reading.
const ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json";
const MANIFEST_LIMIT: u64 = 4 << 20;

pub struct RegistryCatalog {
    http: Http,
    namespace: String,
}

/// Whether `host` (`name[:port]`) is a loopback address, where plain HTTP is allowed.
fn is_loopback(host: &str) -> bool {
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

impl RegistryCatalog {
    pub fn new(host: &str, namespace: &str, insecure: bool, retry: RetryPolicy) -> Result<Self> {
        if insecure && !is_loopback(host) {
            return Err(crate::error::input(format!(
                "--insecure (plain HTTP) is only allowed for a loopback registry, not {host}"
            )));
        }
        Ok(RegistryCatalog {
            http: Http::new(host, insecure, retry)?,
            namespace: namespace.to_string(),
        })
    }

    fn repo(&self, name: &str) -> String {
        format!("{}/{name}", self.namespace)
    }

    fn unexpected(&self, what: &str, resp: ureq::Response) -> anyhow::Error {
        crate::error::environment(format!(
            "{what} at {}: the registry answered {}",
            self.http.host,
            error_text(resp)
        ))
    }

    /// Reads a manifest body (bounded), checks it against `expected` and the registry's
    /// `Docker-Content-Digest`, and returns it.
    fn manifest_from(
        &self,
        resp: ureq::Response,
        expected: Option<&Digest>,
        what: &str,
    ) -> Result<RawManifest, Attempt> {
        let media_type = resp
            .header("Content-Type")
            .unwrap_or("application/vnd.oci.image.manifest.v1+json")
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_string();
        let header_digest = resp.header("Docker-Content-Digest").map(str::to_string);
        let mut bytes = Vec::new();
        if let Err(e) = resp
            .into_reader()
            .take(MANIFEST_LIMIT + 1)
            .read_to_end(&mut bytes)
        {
            return Err(Attempt::Retry {
                why: format!("reading {what}: {e}"),
                after: None,
            });
        }
        if bytes.len() as u64 > MANIFEST_LIMIT {
            return Err(Attempt::Fatal(crate::error::input(format!(
                "{what}: manifest larger than {MANIFEST_LIMIT} bytes"
            ))));
        }
        let m = RawManifest::new(media_type, bytes);
        let mut claims: Vec<Digest> = expected.into_iter().cloned().collect();
        if let Some(h) = header_digest.and_then(|h| h.parse::<Digest>().ok()) {
            claims.push(h);
        }
        if let Some(bad) = claims.iter().find(|c| **c != m.digest) {
            return Err(Attempt::Fatal(
                crate::oci::DigestMismatch {
                    expected: bad.clone(),
                    actual: m.digest.clone(),
                    size: m.bytes.len() as u64,
                }
                .into(),
            ));
        }
        Ok(m)
    }
}

impl Catalog for RegistryCatalog {
    fn location(&self) -> String {
        format!("registry:{}/{}", self.http.host, self.namespace)
    }

    fn client_reference(&self, repo: &str, reference: &str) -> String {
        let sep = if reference.starts_with("sha256:") {
            '@'
        } else {
            ':'
        };
        format!("{}/{}{sep}{reference}", self.http.host, self.repo(repo))
    }

    fn has_blob(&self, repo: &str, digest: &Digest) -> Result<bool> {
        let r = self.repo(repo);
        let resp = self.http.request(
            "HEAD",
            &format!("/v2/{r}/blobs/{digest}"),
            &[],
            &Body::Empty,
            &r,
        )?;
        match resp.status() {
            200 => Ok(true),
            404 => Ok(false),
            _ => Err(self.unexpected(&format!("HEAD blob {digest}"), resp)),
        }
    }

    fn push_blob(&self, repo: &str, digest: &Digest, size: u64, data: &BlobData) -> Result<()> {
        let r = self.repo(repo);
        let open = || data.open(digest, size);
        let what = format!("uploading blob {digest} to {r}");
        // The whole upload (a new session, then one PUT with the bytes) is the unit that is
        // retried: it is content-addressed, so repeating it is harmless.
        self.http.retrying(&what, || {
            let start = self.http.once(
                "POST",
                &self.http.url(&format!("/v2/{r}/blobs/uploads/")),
                &[("Content-Length", "0")],
                &Body::Empty,
                &r,
            )?;
            if start.status() == 201 {
                return Ok(()); // a registry that mounted or already had it
            }
            if start.status() != 202 {
                return Err(self.unexpected(&what, start).into());
            }
            let location = start
                .header("Location")
                .ok_or_else(|| anyhow!("{what}: the registry gave no upload Location"))?
                .to_string();
            let sep = if location.contains('?') { '&' } else { '?' };
            let url = self.http.url(&format!("{location}{sep}digest={digest}"));
            let put = self.http.once(
                "PUT",
                &url,
                &[("Content-Type", "application/octet-stream")],
                &Body::Stream {
                    len: size,
                    open: &open,
                },
                &r,
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

    fn read_blob(&self, repo: &str, digest: &Digest, size: u64) -> Result<Vec<u8>> {
        if size > 64 << 20 {
            return Err(crate::error::input(format!(
                "blob {digest} is {size} bytes, too large to read whole"
            )));
        }
        let r = self.repo(repo);
        let url = self.http.url(&format!("/v2/{r}/blobs/{digest}"));
        self.http.retrying(&format!("GET blob {digest}"), || {
            let resp = self.http.once("GET", &url, &[], &Body::Empty, &r)?;
            if resp.status() != 200 {
                return Err(self.unexpected(&format!("GET blob {digest}"), resp).into());
            }
            let mut out = Vec::with_capacity(size as usize);
            let mut v = VerifiedReader::new(resp.into_reader(), digest.clone(), Some(size));
            read_verified(&mut v, &mut out, digest)?;
            Ok(out)
        })
    }

    fn fetch_blob(&self, repo: &str, digest: &Digest, size: u64, dest: &OciDir) -> Result<()> {
        if dest.has_blob(digest) {
            return Ok(());
        }
        let r = self.repo(repo);
        let url = self.http.url(&format!("/v2/{r}/blobs/{digest}"));
        self.http.retrying(&format!("GET blob {digest}"), || {
            let resp = self.http.once("GET", &url, &[], &Body::Empty, &r)?;
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

    fn put_manifest(&self, repo: &str, reference: &str, m: &RawManifest) -> Result<PutManifest> {
        let r = self.repo(repo);
        let resp = self.http.request(
            "PUT",
            &format!("/v2/{r}/manifests/{reference}"),
            &[("Content-Type", &m.media_type)],
            &Body::Bytes(&m.bytes),
            &r,
        )?;
        if resp.status() != 201 {
            return Err(crate::error::environment(format!(
                "putting manifest {} as {r}:{reference}: the registry refused it: {}",
                m.digest,
                error_text(resp)
            )));
        }
        if let Some(h) = resp.header("Docker-Content-Digest") {
            if h != m.digest.to_string() {
                return Err(crate::error::input(format!(
                    "manifest {} was stored by {} as {h}",
                    m.digest, self.http.host
                )));
            }
        }
        Ok(PutManifest {
            subject_indexed: resp.header("OCI-Subject").is_some(),
        })
    }

    fn get_manifest(&self, repo: &str, reference: &str) -> Result<Option<RawManifest>> {
        let r = self.repo(repo);
        let url = self.http.url(&format!("/v2/{r}/manifests/{reference}"));
        let expected = reference.parse::<Digest>().ok();
        let what = format!("manifest {r}:{reference}");
        self.http.retrying(&format!("GET {what}"), || {
            let resp = self
                .http
                .once("GET", &url, &[("Accept", ACCEPT)], &Body::Empty, &r)?;
            match resp.status() {
                200 => Ok(Some(self.manifest_from(resp, expected.as_ref(), &what)?)),
                404 => Ok(None),
                _ => Err(self.unexpected(&format!("GET {what}"), resp).into()),
            }
        })
    }

    fn head_manifest(&self, repo: &str, reference: &str) -> Result<Option<Digest>> {
        let r = self.repo(repo);
        let resp = self.http.request(
            "HEAD",
            &format!("/v2/{r}/manifests/{reference}"),
            &[("Accept", ACCEPT)],
            &Body::Empty,
            &r,
        )?;
        match resp.status() {
            200 => {}
            404 => return Ok(None),
            _ => return Err(self.unexpected(&format!("HEAD manifest {r}:{reference}"), resp)),
        }
        match resp
            .header("Docker-Content-Digest")
            .and_then(|h| h.parse::<Digest>().ok())
        {
            Some(d) => Ok(Some(d)),
            // No digest header: read the manifest and hash it ourselves.
            None => Ok(self.get_manifest(repo, reference)?.map(|m| m.digest)),
        }
    }

    fn tags(&self, repo: &str) -> Result<Vec<String>> {
        let r = self.repo(repo);
        let mut path = format!("/v2/{r}/tags/list?n=1000");
        let mut out = Vec::new();
        loop {
            let resp = self.http.request("GET", &path, &[], &Body::Empty, &r)?;
            match resp.status() {
                200 => {}
                404 => return Ok(out),
                _ => return Err(self.unexpected(&format!("listing the tags of {r}"), resp)),
            }
            let next = next_link(&resp);
            #[derive(serde::Deserialize)]
            struct Tags {
                tags: Option<Vec<String>>,
            }
            let t: Tags = resp
                .into_json()
                .with_context(|| format!("the tag list of {r} does not parse"))?;
            out.extend(t.tags.unwrap_or_default());
            match next {
                Some(n) => path = n,
                None => return Ok(out),
            }
        }
    }

    fn repositories(&self) -> Result<Vec<String>> {
        let mut path = "/v2/_catalog?n=1000".to_string();
        let prefix = format!("{}/", self.namespace);
        let mut out = Vec::new();
        loop {
            let resp = self.http.request("GET", &path, &[], &Body::Empty, "")?;
            if resp.status() != 200 {
                return Err(self.unexpected("listing repositories (/v2/_catalog)", resp));
            }
            let next = next_link(&resp);
            #[derive(serde::Deserialize)]
            struct Repos {
                repositories: Option<Vec<String>>,
            }
            let t: Repos = resp
                .into_json()
                .context("the repository list does not parse")?;
            out.extend(
                t.repositories
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|r| r.strip_prefix(&prefix).map(str::to_string))
                    .filter(|r| !r.contains('/')),
            );
            match next {
                Some(n) => path = n,
                None => break,
            }
        }
        out.sort();
        Ok(out)
    }

    fn referrers_api(&self, repo: &str, subject: &Digest) -> Result<Option<Vec<Descriptor>>> {
        let r = self.repo(repo);
        let resp = self.http.request(
            "GET",
            &format!("/v2/{r}/referrers/{subject}"),
            &[("Accept", "application/vnd.oci.image.index.v1+json")],
            &Body::Empty,
            &r,
        )?;
        let is_index = resp
            .header("Content-Type")
            .is_some_and(|c| c.starts_with("application/vnd.oci.image.index.v1+json"));
        if resp.status() != 200 || !is_index {
            return Ok(None); // no referrers API (Docker distribution 2.8 answers 404)
        }
        let index: ImageIndex = resp
            .into_json()
            .context("the referrers answer does not parse")?;
        Ok(Some(index.manifests().clone()))
    }
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

/// The `Link: <…>; rel="next"` of a paginated answer.
fn next_link(resp: &ureq::Response) -> Option<String> {
    let l = resp.header("Link")?;
    let start = l.find('<')? + 1;
    let end = l.find('>')?;
    l[end..]
        .contains("rel=\"next\"")
        .then(|| l[start..end].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insecure_only_on_loopback() {
        for h in ["127.0.0.1:5000", "localhost:1", "[::1]:5000", "127.1.2.3"] {
            assert!(is_loopback(h), "{h}");
        }
        for h in ["example.com", "10.0.0.1:5000", "registry:5000"] {
            assert!(!is_loopback(h), "{h}");
        }
        assert!(RegistryCatalog::new("example.com", "ns", true, RetryPolicy::default()).is_err());
    }
}
