//! `corebuild lock BLUEPRINT`: resolve the base to a digest and write blueprint.lock.

use crate::blueprint::{self, LoadOptions, LockedBase, LockedSource, LockedUpgrade};
use crate::build::{self, base, BuildOptions};
use crate::cli::output;
use crate::cli::output::say;
use crate::oci::OciDir;
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
pub struct Args {
    pub blueprint: PathBuf,
    /// Only check: exit 1 if the lock file would change.
    #[arg(long)]
    pub check: bool,
    /// Re-resolve package versions the lock already pins (like `cargo update`).
    #[arg(long)]
    pub update: bool,
    /// Re-resolve only this package, keeping every other pin (repeatable; like
    /// `cargo update -p`). An advisory's fix: `--package openssl`.
    #[arg(long = "package", value_name = "NAME")]
    pub packages: Vec<String>,
    /// OCI runtime for resolving `packages` layers.
    #[arg(long, default_value = "runc")]
    pub runtime: String,
    #[arg(long)]
    pub json: bool,
}

pub fn run(store: &Path, a: Args) -> anyhow::Result<i32> {
    let bp = blueprint::load(&a.blueprint, &LoadOptions::default())?;
    let store = OciDir::open_or_create(store)?;
    // An inline digest in the blueprint is the pin; otherwise pin what the ref names now.
    let reference = base::reference_of(&bp)?;
    let digest = match &bp.base.digest {
        Some(d) => base::resolve(&store, &reference, Some(d))?.digest,
        None => base::resolve_unpinned(&store, &reference)?.0.digest,
    };
    let mut lock = bp.lock.clone().unwrap_or_default();
    lock.version = 1;
    lock.base = Some(LockedBase {
        reference: bp.base.reference.clone(),
        digest: digest.clone(),
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
            runtime: a.runtime.clone(),
            update_pins: a.update,
            update_packages: a.packages.clone(),
            source_date_epoch: std::env::var("SOURCE_DATE_EPOCH").ok(),
            ..BuildOptions::new()
        };
        let outcome = build::build(&store, &pinned, &opts)?;
        lock.packages = outcome.package_pins;
    } else {
        lock.packages.clear();
    }
    lock.sources = bp.apt_sources.iter().map(LockedSource::of).collect();
    lock.upgrades = upgrade_layers(&bp);
    let path = blueprint::lock_path(&bp.dir);
    let changed = bp.lock.as_ref() != Some(&lock);
    if a.check {
        if changed {
            eprintln!(
                "{} is out of date; run `corebuild lock {}`",
                path.display(),
                a.blueprint.display()
            );
            return Ok(1);
        }
    } else if changed {
        blueprint::write_lock(&path, &lock)?;
    }
    if a.json {
        output::json(&serde_json::json!({
            "lock": path,
            "changed": changed,
            "base": {"ref": bp.base.reference, "digest": digest},
            "packages": lock.packages.iter().map(|p| serde_json::json!({
                "name": p.name, "version": p.version, "layer": p.layer,
            })).collect::<Vec<_>>(),
        }))?;
    } else {
        say!(
            "{} {}: base {} = {}",
            if changed { "wrote" } else { "unchanged" },
            path.display(),
            bp.base.reference,
            digest
        );
    }
    Ok(0)
}

/// The `upgrade = true` layers, as the lock records them once resolved.
fn upgrade_layers(bp: &blueprint::Blueprint) -> Vec<LockedUpgrade> {
    bp.layers
        .iter()
        .enumerate()
        .filter(|(_, l)| matches!(l, blueprint::Layer::Packages(p) if p.upgrade))
        .map(|(layer, _)| LockedUpgrade { layer })
        .collect()
}
