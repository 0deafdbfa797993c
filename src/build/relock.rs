//! What `corebuild lock` computes: the base digest the reference names now, the package
//! versions apt installs (by building, so the layer cache is filled on the way), the
//! declared sources and the resolved upgrades. `rebuild` uses it to move the pins an
//! advisory names.

use crate::blueprint::{self, Blueprint, LockFile, LockedBase, LockedSource, LockedUpgrade};
use crate::build::{self, base, BuildOptions};
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
    // An inline digest in the blueprint is the pin; otherwise pin what the ref names now.
    let reference = base::reference_of(bp)?;
    let digest = match &bp.base.digest {
        Some(d) => base::resolve(store, &reference, Some(d))?.digest,
        None => base::resolve_unpinned(store, &reference)?.0.digest,
    };
    let mut lock = bp.lock.clone().unwrap_or_default();
    lock.version = blueprint::LOCK_VERSION;
    lock.base = Some(LockedBase {
        reference: bp.base.reference.clone(),
        digest,
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

/// The `upgrade = true` layers, as the lock records them once resolved.
fn upgrade_layers(bp: &Blueprint) -> Vec<LockedUpgrade> {
    bp.layers
        .iter()
        .enumerate()
        .filter(|(_, l)| matches!(l, blueprint::Layer::Packages(p) if p.upgrade))
        .map(|(layer, _)| LockedUpgrade { layer })
        .collect()
}
