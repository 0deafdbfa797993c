//! `corebuild lock BLUEPRINT`: resolve the base to a digest and write blueprint.lock.

use crate::blueprint::{self, LoadOptions};
use crate::build::relock::{relock, RelockOptions};
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
    let lock = relock(
        &store,
        &bp,
        &RelockOptions {
            update: a.update,
            packages: a.packages.clone(),
            runtime: a.runtime.clone(),
        },
    )?;
    let locked_base = lock.base.clone().expect("relock pins the base");
    let digest = locked_base.digest;
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
            "base": {"ref": bp.base.reference, "digest": digest, "index": locked_base.index},
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
