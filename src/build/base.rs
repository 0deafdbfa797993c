//! Resolving and verifying a blueprint's known-good base: the pinned digest (blueprint or
//! lock) must match what the reference names, and the base ends up in the store.

use super::registry_base;
use crate::blueprint::{BaseRef, Blueprint};
use crate::digest::Digest;
use crate::oci::{ImageRef, OciDir, StoredImage};
use anyhow::Result;

/// The blueprint's base pin: its own digest or the lock's. `None` when neither pins it
/// (allowed outside `--locked`); a disagreement between the two is an error.
pub fn pin_of(bp: &Blueprint) -> Result<Option<Digest>> {
    let lock_pins = bp
        .lock
        .as_ref()
        .and_then(|l| l.base.as_ref())
        .is_some_and(|l| l.reference == bp.base.reference);
    if bp.own_pin()?.is_none() && !lock_pins {
        return Ok(None);
    }
    Ok(Some(bp.pinned_base()?.1))
}

/// The base reference with a relative layout path made absolute against the blueprint.
pub fn reference_of(bp: &Blueprint) -> Result<String> {
    Ok(match bp.base.parsed()? {
        BaseRef::OciLayout { path, tag: Some(t) } => format!("oci-layout:{}:{t}", path.display()),
        BaseRef::OciLayout { path, tag: None } => format!("oci-layout:{}", path.display()),
        BaseRef::Store { .. } | BaseRef::Catalog { .. } | BaseRef::Docker { .. } => {
            bp.base.reference.clone()
        }
    })
}

/// The base as the `org.opencontainers.image.base.name` annotation names it: a registry
/// base by its registry name (`HOST/REPO:TAG`), any other by its reference.
pub fn annotation_name(bp: &Blueprint) -> &str {
    bp.base
        .reference
        .strip_prefix(registry_base::DOCKER_PREFIX)
        .unwrap_or(&bp.base.reference)
}

/// Where a base reference currently points, without any pin applied.
pub fn resolve_unpinned(store: &OciDir, reference: &str) -> Result<(StoredImage, Option<OciDir>)> {
    if registry_base::is_registry_ref(reference) {
        return Ok((
            registry_base::resolve(store, reference, None, false)?.image,
            None,
        ));
    }
    if reference.starts_with(crate::catalog::base::PREFIX) {
        return Ok((crate::catalog::base::resolve_base(store, reference)?, None));
    }
    let r = ImageRef::parse(reference)?;
    match &r {
        ImageRef::Layout { path, .. } => {
            let src = OciDir::open(path)?;
            let img = store.resolve(&r)?;
            Ok((img, Some(src)))
        }
        _ => Ok((store.resolve(&r)?, None)),
    }
}

/// Resolves the base: with a pin, the image must be exactly that digest; without one
/// (only outside `--locked`), whatever the reference names now. The base is copied into
/// the store when it comes from another layout or a registry (`--locked`: a registry
/// tag is not resolved, the pin is fetched).
pub fn resolve(
    store: &OciDir,
    reference: &str,
    pin: Option<&Digest>,
    locked: bool,
) -> Result<StoredImage> {
    if registry_base::is_registry_ref(reference) {
        return Ok(registry_base::resolve(store, reference, pin, locked)?.image);
    }
    if reference.starts_with(crate::catalog::base::PREFIX) {
        let img = crate::catalog::base::resolve_base(store, reference)?;
        if let Some(d) = pin {
            if img.digest != *d {
                return Err(mismatch(reference, &img.digest, d));
            }
        }
        return Ok(img);
    }
    let r = ImageRef::parse(reference)?;
    let img = match (&r, pin) {
        (ImageRef::Tag(_), Some(d)) => {
            // The pin decides. A tag that moved is a mismatch the user must look at;
            // a missing tag is fine while the pinned manifest is in the store.
            match store.find_image(None, Some(d))? {
                Some(img) => {
                    if let Some(tagged) = store.find_image(Some(&r.to_string()), None)? {
                        if tagged.digest != *d {
                            return Err(mismatch(reference, &tagged.digest, d));
                        }
                    }
                    img
                }
                None => match store.find_image(Some(&r.to_string()), None)? {
                    Some(tagged) => return Err(mismatch(reference, &tagged.digest, d)),
                    None => return Err(missing(store, reference, Some(d))),
                },
            }
        }
        (ImageRef::Tag(_), None) => store
            .find_image(Some(&r.to_string()), None)?
            .ok_or_else(|| missing(store, reference, None))?,
        (ImageRef::Digest { digest, .. }, _) => {
            if let Some(d) = pin {
                if d != digest {
                    return Err(mismatch(reference, digest, d));
                }
            }
            store
                .find_image(None, Some(digest))?
                .ok_or_else(|| missing(store, reference, Some(digest)))?
        }
        (ImageRef::Layout { .. }, _) => {
            let (img, src) = resolve_unpinned(store, reference)?;
            if let Some(d) = pin {
                if img.digest != *d {
                    return Err(mismatch(reference, &img.digest, d));
                }
            }
            store.import_image(src.as_ref().expect("layout refs have a source"), &img)?;
            img
        }
    };
    Ok(img)
}

pub(crate) fn mismatch(reference: &str, actual: &Digest, pinned: &Digest) -> anyhow::Error {
    crate::error::input(format!(
        "base {reference} is {actual}, but the blueprint pins {pinned}: the base changed since it was pinned; \
         if the new base is intended, run `corebuild lock` (or update [base] digest) and review the change"
    ))
}

fn missing(store: &OciDir, reference: &str, pin: Option<&Digest>) -> anyhow::Error {
    let pinned = pin.map(|d| format!(" ({d})")).unwrap_or_default();
    crate::error::input(format!(
        "base {reference}{pinned} is not in the store at {}: import it with `corebuild base import` \
         (for debian-minbase:12, run blueprints/bases/debian-minbase.sh)",
        store.root().display()
    ))
}
