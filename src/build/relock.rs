//! What `corebuild lock` computes: the base digest the reference names now, the package
//! versions apt installs (by building, so the layer cache is filled on the way), the
//! declared sources and the resolved upgrades. `rebuild` uses it to move the pins an
//! advisory names.

use crate::blueprint::{self, Blueprint, LockFile, LockedBase, LockedSource, LockedUpgrade};
use crate::build::{self, base, registry_base, BuildOptions};
use crate::digest::Digest;
use crate::oci::OciDir;
use anyhow::Result;

#[derive(Debug, Clone, Default)]
pub struct RelockOptions {
    /// Re-resolve every package version (`lock --update`).
    pub update: bool,
    /// Re-resolve only these packages (`lock --package`, `rebuild`).
    pub packages: Vec<String>,
    pub runtime: String,
}

/// The lock `bp` should have now (not written).
pub fn relock(store: &OciDir, bp: &Blueprint, o: &RelockOptions) -> Result<LockFile> {
    let (digest, index) = pin_now(store, bp)?;
    let mut lock = bp.lock.clone().unwrap_or_default();
    lock.version = blueprint::LOCK_VERSION;
    lock.base = Some(LockedBase {
        reference: bp.base.reference.clone(),
        digest,
        index,
    });
    let has_packages = bp
        .layers
        .iter()
        .any(|l| matches!(l, blueprint::Layer::Packages(_)));
    if has_packages {
        // Package versions are what apt installs: build (reusing the cache) to learn them.
        let mut pinned = bp.clone();
        pinned.lock = Some(lock.clone());
        let opts = BuildOptions {
            runtime: o.runtime.clone(),
            update_pins: o.update,
            update_packages: o.packages.clone(),
            source_date_epoch: std::env::var("SOURCE_DATE_EPOCH").ok(),
            ..BuildOptions::new()
        };
        let outcome = build::build(store, &pinned, &opts)?;
        lock.packages = outcome.package_pins;
    } else {
        lock.packages.clear();
    }
    lock.sources = bp.apt_sources.iter().map(LockedSource::of).collect();
    lock.upgrades = upgrade_layers(bp);
    Ok(lock)
}

/// The base digest to lock (and the index it came from): the blueprint's own pin
/// (checked against what the reference names), else what the reference names now.
fn pin_now(store: &OciDir, bp: &Blueprint) -> Result<(Digest, Option<Digest>)> {
    let reference = base::reference_of(bp)?;
    let own = bp.own_pin()?;
    if registry_base::is_registry_ref(&reference) {
        let b = registry_base::resolve(store, &reference, own.as_ref(), false)?;
        return Ok((b.image.digest, b.index));
    }
    let digest = match &own {
        Some(d) => base::resolve(store, &reference, Some(d), false)?.digest,
        None => base::resolve_unpinned(store, &reference)?.0.digest,
    };
    Ok((digest, None))
}

/// The `upgrade = true` layers, as the lock records them once resolved.
fn upgrade_layers(bp: &Blueprint) -> Vec<LockedUpgrade> {
    bp.layers
        .iter()
        .enumerate()
        .filter(|(_, l)| matches!(l, blueprint::Layer::Packages(p) if p.upgrade))
        .map(|(layer, _)| LockedUpgrade { layer })
        .collect()
}
