//! `corebuild lock BLUEPRINT`: resolve the base to a digest and write blueprint.lock.

use crate::blueprint::{self, LoadOptions, LockedBase};
use crate::build::base;
use crate::cli::output;
use crate::oci::OciDir;
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
pub struct Args {
    pub blueprint: PathBuf,
    /// Only check: exit 1 if the lock file would change.
    #[arg(long)]
    pub check: bool,
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
        }))?;
    } else {
        println!(
            "{} {}: base {} = {}",
            if changed { "wrote" } else { "unchanged" },
            path.display(),
            bp.base.reference,
            digest
        );
    }
    Ok(0)
}
