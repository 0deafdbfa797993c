//! Which releases are built on a release, transitively: each release's image names its
//! base (`org.opencontainers.image.base.digest`), so the catalog alone answers, without
//! rewriting any release. [`super::view::View`] answers it for the whole catalog at
//! once; [`revoked_base`] walks one release's chain of bases for `resolve`.

use super::Catalog;
use crate::digest::Digest;
use anyhow::Result;
use oci_spec::image::ImageManifest;
use serde::Serialize;

/// A release built (directly or through others) on the one asked about.
#[derive(Debug, Clone, Serialize)]
pub struct Dependent {
    pub name: String,
    pub version: String,
    pub digest: Digest,
    /// The base it names (`catalog:NAME:VERSION`, or as the blueprint wrote it).
    pub base: String,
    pub base_digest: Digest,
    /// 1: built on it; 2: built on a release built on it; …
    pub depth: usize,
}

/// The base an image names: its annotation's name and digest.
pub fn base_of(cat: &dyn Catalog, name: &str, digest: &Digest) -> Result<Option<(String, Digest)>> {
    let Some(m) = cat.get_manifest(name, &digest.to_string())? else {
        return Ok(None);
    };
    let manifest: ImageManifest = m.parse()?;
    let ann = manifest.annotations().clone().unwrap_or_default();
    let base_digest = ann
        .get("org.opencontainers.image.base.digest")
        .and_then(|d| d.parse::<Digest>().ok());
    Ok(base_digest.map(|d| {
        let n = ann
            .get("org.opencontainers.image.base.name")
            .cloned()
            .unwrap_or_default();
        (n, d)
    }))
}

/// Why `digest` (released as `name`) stands on a revoked base, if it does: its base, or
/// its base's base, and so on, is a catalog release that was revoked since.
pub fn revoked_base(cat: &dyn Catalog, name: &str, digest: &Digest) -> Result<Option<String>> {
    let (mut name, mut digest) = (name.to_string(), digest.clone());
    for _ in 0..16 {
        let Some((base, base_digest)) = base_of(cat, &name, &digest)? else {
            return Ok(None);
        };
        let Some(rest) = base.strip_prefix(super::base::PREFIX) else {
            return Ok(None);
        };
        let base_name = rest
            .split([':', '@'])
            .next()
            .unwrap_or_default()
            .to_string();
        if super::check_name(&base_name).is_err() {
            return Ok(None);
        }
        let st = super::resolve::state(cat, &base_name)?;
        let Some(r) = st.releases.iter().find(|r| r.digest == base_digest) else {
            return Ok(None);
        };
        if r.status == super::Status::Revoked {
            return Ok(Some(format!(
                "base revoked: it is built on {base_name}:{} ({base_digest}), revoked: {}",
                r.version,
                r.reason().unwrap_or("no reason given")
            )));
        }
        (name, digest) = (base_name, base_digest);
    }
    Ok(None)
}
