//! `corebuild gc`: removes from the store what no tag, no lock file and no size budget
//! keeps. Tagged content is never removed; caches (layer records, flattened trees, apt
//! caches, unpacked candidates) leave least recently used first while the store is over
//! the budget; scratch goes whenever no other command holds the store's lease.

pub mod budget;
pub mod inventory;
pub mod lease;
pub mod locks;
pub mod reach;
mod remove;
pub mod report;
pub mod size;

use crate::oci::OciDir;
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

pub use lease::Wait;
pub use report::Report;

/// What `gc` was asked to do.
#[derive(Debug, Clone)]
pub struct Options {
    /// The size budget: caches go until the store fits (tagged content always stays).
    pub keep_size: Option<u64>,
    /// Directories whose `blueprint.lock` files pin bases to keep.
    pub locks: Vec<PathBuf>,
    /// Report what would go; change nothing.
    pub dry_run: bool,
    pub wait: Wait,
}

/// Collects the store at `store`. `waiting` is called once if gc has to wait for the
/// commands holding the store's lease.
pub fn collect(store: &Path, opts: &Options, waiting: impl FnOnce()) -> Result<Report> {
    let dir = OciDir::open(store)?;
    let mut roots = Vec::new();
    for d in &opts.locks {
        roots.extend(locks::pins_under(d)?);
    }
    let lock_pins = roots.len();
    let _lease = lease::exclusive(store, opts.wait, !opts.dry_run, waiting)?;
    let tags = reach::index_roots(&dir)?;
    let tag_count = tags.len();
    roots.extend(tags);
    let reached = reach::reachable(&dir, &roots)?;
    let root =
        std::fs::canonicalize(store).with_context(|| format!("resolving {}", store.display()))?;
    let mounts: Vec<PathBuf> = crate::runtime::overlay::mountinfo()?
        .into_iter()
        .map(|m| m.mount_point)
        .collect();
    let inv = inventory::scan(&root, &mounts)
        .with_context(|| format!("reading the store {}", store.display()))?;
    let plan = budget::plan(&inv, &reached, opts.keep_size);
    let mut after = plan.after;
    if !opts.dry_run {
        remove::apply(&dir, &plan)?;
        after = inventory::du(&root);
    }
    Ok(Report::new(
        &plan,
        report::Context {
            store: store.to_path_buf(),
            dry_run: opts.dry_run,
            budget: opts.keep_size,
            tags: tag_count,
            lock_pins,
            kept_blobs: reached
                .iter()
                .filter(|d| inv.blobs.contains_key(*d))
                .count(),
            after,
            busy: inv
                .busy
                .iter()
                .map(|p| p.strip_prefix(&root).unwrap_or(p).to_path_buf())
                .collect(),
        },
    ))
}
