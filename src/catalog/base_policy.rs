//! The signature policy applied to what an image was built on, when it is published:
//! its base (named by the image's `org.opencontainers.image.base.*` annotations) must be
//! signed by a trusted key where it came from, when it came from a catalog or a
//! registry. A base imported into the store (a bootstrapped minbase, or one that
//! `base import --registry` already checked under the policy) is local content pinned by
//! digest: there is no signature to check, and the policy does not refuse it.

use crate::digest::Digest;
use crate::oci::StoredImage;
use crate::trust::{policy, CatalogRepo};
use anyhow::{Context, Result};

/// Refuses an image whose base is not signed by a trusted key (no policy: no check).
pub fn check(image: &StoredImage) -> Result<()> {
    let keys = policy::trusted()?;
    if keys.is_empty() {
        return Ok(());
    }
    let ann = image.manifest.annotations().clone().unwrap_or_default();
    let Some(name) = ann.get("org.opencontainers.image.base.name") else {
        return Ok(()); // not built on a base: an imported base itself
    };
    let digest: Digest = ann
        .get("org.opencontainers.image.base.digest")
        .and_then(|d| d.parse().ok())
        .ok_or_else(|| {
            crate::error::failed(format!(
                "{} names its base {name} without a digest: it cannot be verified",
                image.digest
            ))
        })?;
    let what = format!("the base {name} of {}", image.digest);
    if name.starts_with(super::base::PREFIX) {
        let cat = super::base::catalog_from_env()?;
        let resolved = super::base::resolve_base_ref(cat.as_ref(), name)?;
        let repo = CatalogRepo {
            catalog: cat.as_ref(),
            name: &resolved.name,
        };
        policy::require_keys(&repo, &digest, &what, &keys)?;
        return Ok(());
    }
    if name.contains('/') && !name.starts_with("oci-layout:") {
        return crate::build::registry_base::require_signed(name, &digest)
            .with_context(|| format!("publishing {}", image.digest));
    }
    eprintln!("note: {what} is local (the store or a layout): no signature to check");
    Ok(())
}
