//! Bases from any OCI registry: `[base] ref = "docker://HOST/REPO[:TAG][@sha256:…]"`.
//! A tag is resolved (to this machine's platform, through a multi-platform index) only
//! by `corebuild lock` and unlocked builds; `--locked` and digest references fetch the
//! pinned digest and nothing else, and a store that holds it is not asked for anything.
//! Plain HTTP only for a loopback registry with `COREBUILD_INSECURE=1`, as `catalog:`
//! bases; credentials come from the Docker config and stay on their host.

mod fetch;
pub mod manifest;

use crate::blueprint::{parse_docker_ref, BaseRef};
use crate::digest::Digest;
use crate::oci::{OciDir, StoredImage};
use crate::registry::{is_loopback, Client, RetryPolicy};
use anyhow::Result;
use fetch::Resolved;

pub use crate::blueprint::DOCKER_PREFIX;

/// A base from a registry, in the store: the image and the index it was picked from.
#[derive(Debug, Clone)]
pub struct RegistryBase {
    pub image: StoredImage,
    pub index: Option<Digest>,
}

/// A parsed `docker://` reference.
#[derive(Debug, Clone)]
pub struct Source {
    pub host: String,
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<Digest>,
    /// `HOST/REPO[:TAG][@DIGEST]`, as a registry names it.
    pub name: String,
}

impl Source {
    /// Parses `docker://HOST/REPO…` or `HOST/REPO…`; a bad one is bad input (exit 2).
    pub fn parse(reference: &str) -> Result<Self> {
        let r = parse_docker_ref(reference).map_err(|why| {
            crate::error::input(format!(
                "invalid registry reference {reference:?}: {why} (write docker://HOST[:PORT]/REPOSITORY:TAG or @sha256:HEX)"
            ))
        })?;
        let name = r.docker_name().unwrap_or_default();
        let BaseRef::Docker {
            host,
            repository,
            tag,
            digest,
        } = r
        else {
            return Err(crate::error::input(format!(
                "{reference:?} is not a registry reference"
            )));
        };
        Ok(Source {
            host,
            repository,
            tag,
            digest,
            name,
        })
    }

    /// A client for the host: plain HTTP only for loopback with `COREBUILD_INSECURE=1`.
    fn client(&self) -> Result<Client> {
        let insecure = is_loopback(&self.host)
            && std::env::var("COREBUILD_INSECURE").is_ok_and(|v| v == "1" || v == "true");
        Client::new(&self.host, insecure, RetryPolicy::default())
    }
}

/// Whether a base reference is a registry reference.
pub fn is_registry_ref(reference: &str) -> bool {
    reference.starts_with(DOCKER_PREFIX)
}

/// Resolves and fetches a registry base. With a pin under `--locked`, or a reference
/// that names a digest, only the pinned digest is fetched (from the store when it has
/// it); with a pin outside `--locked`, the tag must still name it (else the base
/// mismatch error); without one, whatever the tag names now.
pub fn resolve(
    store: &OciDir,
    reference: &str,
    pin: Option<&Digest>,
    locked: bool,
) -> Result<RegistryBase> {
    let src = Source::parse(reference)?;
    let pinned = pin.cloned().or_else(|| src.digest.clone());
    let tag = src.tag.clone().filter(|_| src.digest.is_none());
    match (pinned, tag) {
        (Some(p), Some(tag)) if !locked => {
            let client = src.client()?;
            let now = fetch::resolve(&client, &src, &tag)?;
            let index = now.index.as_ref().map(|(d, _)| d);
            if now.digest != p && index != Some(&p) {
                return Err(super::base::mismatch(reference, &now.digest, &p));
            }
            by_digest(store, &src, &p, Some(client))
        }
        (Some(p), _) => by_digest(store, &src, &p, None),
        (None, Some(tag)) => {
            let client = src.client()?;
            let now = fetch::resolve(&client, &src, &tag)?;
            fetched(store, &client, &src, &now)
        }
        (None, None) => Err(crate::error::input(format!(
            "{reference}: name a tag or a digest"
        ))),
    }
}

/// The image `d` (a manifest or an index) names: from the store alone when it holds it.
fn by_digest(
    store: &OciDir,
    src: &Source,
    d: &Digest,
    client: Option<Client>,
) -> Result<RegistryBase> {
    if let Some((image, index)) = fetch::from_store(store, d)? {
        // Under a signature policy the registry is asked even so: a key may have
        // been distrusted since the image was stored.
        policy(client.as_ref(), src, &image.digest, index.as_ref())?;
        return Ok(RegistryBase { image, index });
    }
    let client = match client {
        Some(c) => c,
        None => src.client()?,
    };
    let r = fetch::resolve(&client, src, &d.to_string())?;
    fetched(store, &client, src, &r)
}

fn fetched(store: &OciDir, client: &Client, src: &Source, r: &Resolved) -> Result<RegistryBase> {
    let index = r.index.as_ref().map(|(d, _)| d);
    policy(Some(client), src, &r.digest, index)?;
    Ok(RegistryBase {
        image: fetch::fetch(store, client, src, r)?,
        index: r.index.as_ref().map(|(d, _)| d.clone()),
    })
}

/// The signature policy (`--require-signed`, `COREBUILD_TRUSTED_KEYS`): the manifest,
/// or the index it was picked from (what `cosign sign IMAGE:TAG` signs), must carry a
/// signature by a trusted key in the base's own repository. Checked before any layer is
/// fetched; nothing is asked when no policy is set.
fn policy(
    client: Option<&Client>,
    src: &Source,
    digest: &Digest,
    index: Option<&Digest>,
) -> Result<()> {
    let keys = crate::trust::policy::trusted()?;
    if keys.is_empty() {
        return Ok(());
    }
    let own;
    let client = match client {
        Some(c) => c,
        None => {
            own = src.client()?;
            &own
        }
    };
    let repo = crate::trust::RegistryRepo {
        client,
        repository: &src.repository,
    };
    let what = format!("the base {DOCKER_PREFIX}{}", src.name);
    let v = manifest_or_index(&repo, digest, index, &keys);
    crate::trust::policy::judge(&v, &what, &keys).map(|_| ())
}

/// The signatures of the manifest `digest`, or, when they do not verify, of the index
/// it was picked from (what `cosign sign IMAGE:TAG` signs); both sets of problems when
/// neither does.
fn manifest_or_index(
    repo: &crate::trust::RegistryRepo<'_>,
    digest: &Digest,
    index: Option<&Digest>,
    keys: &[crate::trust::PublicKey],
) -> crate::trust::verify::Verification {
    use crate::trust::verify;
    let mut v = verify::signatures(repo, digest, keys);
    let Some(index) = index.filter(|_| !v.ok()) else {
        return v;
    };
    let on_index = verify::signatures(repo, index, keys);
    if on_index.ok() {
        return on_index;
    }
    v.problems.extend(
        on_index
            .problems
            .into_iter()
            .map(|p| format!("its index: {p}")),
    );
    v
}

/// What `reference` names in its registry now (its digest, or its tag resolved), with
/// the parsed reference and a client for the host.
fn lookup(reference: &str) -> Result<(Source, Client, Resolved)> {
    let src = Source::parse(reference)?;
    let client = src.client()?;
    let r = match (&src.digest, &src.tag) {
        (Some(d), _) => fetch::resolve(&client, &src, &d.to_string())?,
        (None, Some(t)) => fetch::resolve(&client, &src, t)?,
        (None, None) => {
            return Err(crate::error::input(format!(
                "{reference}: name a tag or a digest"
            )))
        }
    };
    Ok((src, client, r))
}

/// Under a signature policy, refuses the registry base a published image names (its
/// `base.name` annotation, `HOST/REPO[:TAG]`) unless a trusted key signed it: the
/// manifest, or the index its tag names when that index still lists it.
pub fn require_signed(name: &str, digest: &Digest) -> Result<()> {
    if crate::trust::policy::trusted()?.is_empty() {
        return Ok(());
    }
    let src = Source::parse(name)?;
    let client = src.client()?;
    let index = src
        .tag
        .as_ref()
        .and_then(|t| fetch::resolve(&client, &src, t).ok())
        .filter(|r| r.digest == *digest)
        .and_then(|r| r.index.map(|(d, _)| d));
    policy(Some(&client), &src, digest, index.as_ref())
}

/// Signs the image `reference` names in its registry (cosign's format, no
/// attestations): how a team vouches for a vendor image it vetted, in its mirror.
pub fn sign(reference: &str, key: &crate::trust::SigningKey) -> Result<crate::trust::sign::Signed> {
    let (src, client, r) = lookup(reference)?;
    let repo = crate::trust::RegistryRepo {
        client: &client,
        repository: &src.repository,
    };
    // What a tag names is what consumers resolve: the index when there is one.
    let signed = r.index.as_ref().map(|(d, _)| d).unwrap_or(&r.digest);
    crate::trust::sign::sign(&repo, signed, key, &[])
}

/// Verifies the image `reference` names in its registry: the signatures of the
/// manifest (or, when they do not verify, of the index it was picked from), and any
/// attestations of the digest that verified.
pub fn verify(
    reference: &str,
    keys: &[crate::trust::PublicKey],
) -> Result<crate::trust::verify::Verification> {
    use crate::trust::verify;
    let (src, client, r) = lookup(reference)?;
    let repo = crate::trust::RegistryRepo {
        client: &client,
        repository: &src.repository,
    };
    let index = r.index.as_ref().map(|(d, _)| d);
    let mut v = manifest_or_index(&repo, &r.digest, index, keys);
    let signed = v.digest.clone();
    verify::attestations(&repo, &signed, keys, false, &mut v);
    Ok(v)
}

/// What `base import --registry` did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Imported {
    pub name: String,
    pub version: String,
    pub digest: Digest,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index_digest: Option<Digest>,
    pub source: String,
}

/// Pulls `reference` (with or without `docker://`) into the store and tags it `name:version`.
pub fn import(store: &OciDir, reference: &str, name: &str, version: &str) -> Result<Imported> {
    let src = Source::parse(reference)?;
    let full = format!("{DOCKER_PREFIX}{}", src.name);
    let b = resolve(store, &full, None, false)?;
    store.set_tag(&format!("{name}:{version}"), &b.image.desc)?;
    Ok(Imported {
        name: name.to_string(),
        version: version.to_string(),
        digest: b.image.digest,
        index_digest: b.index,
        source: full,
    })
}
