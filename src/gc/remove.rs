//! Carrying out a plan, crash-safe: layer records go first (and that is made durable)
//! before the blobs they name; a tree is first renamed to a `.tmp-gc-*` name beside it,
//! which no reader takes for a cache entry and the next gc treats as scratch, then
//! deleted. A process killed at any point leaves only complete entries or scratch.

use super::budget::Plan;
use super::inventory::{Item, Kind, TMP_PREFIX};
use crate::oci::OciDir;
use anyhow::{Context, Result};
use std::path::Path;

/// Removes what `plan` names from `store`.
pub fn apply(store: &OciDir, plan: &Plan) -> Result<()> {
    let (records, rest): (Vec<&Item>, Vec<&Item>) =
        plan.items.iter().partition(|i| i.kind == Kind::LayerRecord);
    for r in &records {
        remove_file(&r.path)?;
    }
    if let Some(dir) = records.first().and_then(|r| r.path.parent()) {
        sync_dir(dir)?;
    }
    for d in plan.blobs.keys() {
        crate::failpoint::hit("gc.blob");
        remove_file(&store.blob_path(d))?;
    }
    sync_dir(&store.root().join("blobs/sha256"))?;
    for item in rest {
        remove_entry(item)?;
    }
    Ok(())
}

/// Removes one item: a file at once, a tree through a `.tmp-gc-*` rename.
fn remove_entry(item: &Item) -> Result<()> {
    let m = match std::fs::symlink_metadata(&item.path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", item.path.display())),
    };
    if !m.is_dir() {
        return remove_file(&item.path);
    }
    let name = item.path.file_name().unwrap_or_default().to_string_lossy();
    let doomed = if name.starts_with(TMP_PREFIX) {
        item.path.clone()
    } else {
        let to = item.path.with_file_name(format!("{TMP_PREFIX}gc-{name}"));
        std::fs::rename(&item.path, &to)
            .with_context(|| format!("renaming {} for removal", item.path.display()))?;
        crate::failpoint::hit("gc.renamed");
        to
    };
    remove_tree(&doomed)
}

fn remove_file(p: &Path) -> Result<()> {
    match std::fs::remove_file(p) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("removing {}", p.display()))
        }
        _ => Ok(()),
    }
}

/// Deletes a tree; a flattened image may hold directories without write permission
/// (a rootless run cannot remove their entries), so those are opened up and it retries.
fn remove_tree(p: &Path) -> Result<()> {
    if std::fs::remove_dir_all(p).is_ok() || !p.exists() {
        return Ok(());
    }
    use std::os::unix::fs::PermissionsExt;
    for e in walkdir::WalkDir::new(p)
        .follow_links(false)
        .same_file_system(true)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_dir())
    {
        let _ = std::fs::set_permissions(e.path(), std::fs::Permissions::from_mode(0o700));
    }
    std::fs::remove_dir_all(p).with_context(|| format!("removing {}", p.display()))
}

fn sync_dir(dir: &Path) -> Result<()> {
    match std::fs::File::open(dir) {
        Ok(f) => f
            .sync_all()
            .with_context(|| format!("syncing {}", dir.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("opening {}", dir.display())),
    }
}
