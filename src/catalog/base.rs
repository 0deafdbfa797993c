//! Bases from the catalog: a blueprint's `base.ref = "catalog:NAME:VERSION"` builds on a
//! released core image. The catalog is the one `COREBUILD_CATALOG` names (default
//! `oci-layout:./catalog`; `COREBUILD_INSECURE=1` for a plain-HTTP loopback registry).
//! The release is resolved on every build, so a base revoked since it was pinned fails
//! the build (exit 1); a deprecated or end-of-life base warns. Its blobs are fetched into
//! the store, verified, untagged.

use super::resolve::{resolve, CatalogRef, Resolved};
use super::{open_str, Catalog, OpenOptions, DEFAULT_CATALOG};
use crate::digest::Digest;
use crate::oci::{OciDir, StoredImage};
use anyhow::{Context, Result};
use oci_spec::image::{Descriptor, ImageManifest, MediaType};

/// The prefix of a catalog base reference.
pub const PREFIX: &str = "catalog:";

/// The catalog named by the environment.
pub fn catalog_from_env() -> Result<Box<dyn Catalog>> {
    let spec = std::env::var("COREBUILD_CATALOG").unwrap_or_else(|_| DEFAULT_CATALOG.into());
    let insecure = std::env::var("COREBUILD_INSECURE").is_ok_and(|v| v == "1" || v == "true");
    open_str(
        &spec,
        &OpenOptions {
            insecure,
            retry: None,
        },
    )
}

/// Resolves `catalog:NAME:VERSION` (or `catalog:NAME@CHANNEL`) without fetching it.
pub fn resolve_base_ref(cat: &dyn Catalog, reference: &str) -> Result<Resolved> {
    let rest = reference
        .strip_prefix(PREFIX)
        .ok_or_else(|| crate::error::input(format!("{reference:?} is not a catalog reference")))?;
    let r = CatalogRef::parse(rest)?;
    let resolved = resolve(cat, &r, false)
        .with_context(|| format!("resolving the base {reference} in {}", cat.location()))?;
    for w in &resolved.warnings {
        eprintln!("warning: base {reference}: {w}");
    }
    Ok(resolved)
}

/// Resolves the catalog base and makes sure the store holds it (fetched and verified).
pub fn resolve_base(store: &OciDir, reference: &str) -> Result<StoredImage> {
    let cat = catalog_from_env()?;
    let resolved = resolve_base_ref(cat.as_ref(), reference)?;
    let mut resolved = resolved;
    resolved
        .require_signed(cat.as_ref())
        .with_context(|| format!("the base {reference}"))?;
    fetch_into_store(cat.as_ref(), store, &resolved.name, &resolved.digest)
        .with_context(|| format!("fetching the base {reference} ({})", resolved.digest))
}

fn fetch_into_store(
    cat: &dyn Catalog,
    store: &OciDir,
    name: &str,
    digest: &Digest,
) -> Result<StoredImage> {
    if let Some(img) = store.find_image(None, Some(digest))? {
        return Ok(img);
    }
    let m = cat
        .get_manifest(name, &digest.to_string())?
        .ok_or_else(|| {
            crate::error::environment(format!(
                "manifest {digest} of {name} is missing from the catalog"
            ))
        })?;
    let manifest: ImageManifest = m.parse()?;
    for d in std::iter::once(manifest.config()).chain(manifest.layers()) {
        cat.fetch_blob(name, &Digest::try_from(d.digest())?, d.size(), store)?;
    }
    store.write_blob(&m.bytes)?;
    let desc = Descriptor::new(
        MediaType::from(m.media_type.as_str()),
        m.bytes.len() as u64,
        digest.to_oci(),
    );
    store.image(&desc)
}
