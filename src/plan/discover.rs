//! Finds the blueprints of a plan: every directory under DIR that holds a
//! `blueprint.toml`, walked with bounds (depth, entries), without following symlinks,
//! skipping hidden directories and not descending into a blueprint (its tree is its
//! build context). Each is loaded and validated; one that does not load fails the plan.

use crate::blueprint::{self, BaseRef, LoadOptions, BLUEPRINT_FILE_NAME};
use anyhow::{Context, Result};
use std::path::Path;

/// How deep under DIR a blueprint may sit.
const MAX_DEPTH: usize = 6;
/// How many directory entries a walk may visit before it is refused.
const MAX_ENTRIES: usize = 20_000;

/// A blueprint of the set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub name: String,
    pub version: String,
    /// Relative to the run directory, `/`-separated.
    pub path: String,
    /// The `[base] ref` as written.
    pub base: String,
    /// `(NAME, VERSION)` of a `catalog:` base.
    pub catalog_base: Option<(String, String)>,
    /// The base is one imported into a store (`NAME:VERSION`), which a job's fresh store lacks.
    pub store_base: bool,
}

/// The blueprints under `dir`, sorted by path; paths relative to `run_dir`.
pub fn discover(dir: &Path, run_dir: &Path) -> Result<Vec<Found>> {
    let root = canonical(dir, "the blueprint directory")?;
    let run = canonical(run_dir, "the current directory")?;
    let mut found = Vec::new();
    for bp_dir in blueprint_dirs(&root)? {
        let rel = relative(&bp_dir, &run)?;
        let bp = blueprint::load(&bp_dir, &LoadOptions::default())
            .with_context(|| format!("planning the blueprint {rel}"))?;
        let base = &bp.base.reference;
        let parsed = bp.base.parsed()?;
        let store_base = matches!(parsed, BaseRef::Store { .. });
        let catalog_base = match parsed {
            BaseRef::Catalog { name, version } => Some((name, version)),
            _ => None,
        };
        found.push(Found {
            name: bp.name.clone(),
            version: bp.version.to_string(),
            path: rel,
            base: base.clone(),
            catalog_base,
            store_base,
        });
    }
    if found.is_empty() {
        return Err(crate::error::input(format!(
            "no {BLUEPRINT_FILE_NAME} under {}: pass the directory that holds the blueprints \
             (like blueprints/)",
            dir.display()
        )));
    }
    found.sort_by(|a, b| a.path.cmp(&b.path));
    check_unique_names(&found)?;
    Ok(found)
}

fn canonical(p: &Path, what: &str) -> Result<std::path::PathBuf> {
    p.canonicalize()
        .map_err(|e| crate::error::input(format!("{what} {} cannot be opened: {e}", p.display())))
}

/// Directories holding a blueprint, in walk order.
fn blueprint_dirs(root: &Path) -> Result<Vec<std::path::PathBuf>> {
    let mut dirs = Vec::new();
    let mut walk = walkdir::WalkDir::new(root)
        .max_depth(MAX_DEPTH)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter();
    let mut seen = 0usize;
    while let Some(entry) = walk.next() {
        let entry = entry.with_context(|| format!("walking {}", root.display()))?;
        seen += 1;
        if seen > MAX_ENTRIES {
            return Err(crate::error::input(format!(
                "{} holds more than {MAX_ENTRIES} entries outside blueprints: pass the \
                 directory that holds the blueprints (like blueprints/)",
                root.display()
            )));
        }
        if !entry.file_type().is_dir() {
            continue;
        }
        let hidden = entry.depth() > 0 && entry.file_name().to_string_lossy().starts_with('.');
        if hidden {
            walk.skip_current_dir();
            continue;
        }
        if entry.path().join(BLUEPRINT_FILE_NAME).is_file() {
            dirs.push(entry.path().to_path_buf());
            walk.skip_current_dir();
        }
    }
    Ok(dirs)
}

/// `dir` relative to `run`, `/`-separated; only characters every emitted format carries
/// unquoted and a shell word needs no escaping for.
fn relative(dir: &Path, run: &Path) -> Result<String> {
    let rel = dir.strip_prefix(run).map_err(|_| {
        crate::error::input(format!(
            "{} is outside the current directory {}: run `corebuild plan` from the checkout \
             root the jobs run in, so the plan holds paths relative to it",
            dir.display(),
            run.display()
        ))
    })?;
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let ok = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
            && !s.starts_with('-')
    };
    match parts.iter().find(|p| !ok(p)) {
        Some(bad) => Err(crate::error::input(format!(
            "the blueprint directory {} has the path component {bad:?}: plans carry paths of \
             letters, digits, `.`, `_` and `-` only; rename it",
            dir.display()
        ))),
        None if parts.is_empty() => Ok(".".into()),
        None => Ok(parts.join("/")),
    }
}

fn check_unique_names(found: &[Found]) -> Result<()> {
    let mut by_name: std::collections::BTreeMap<&str, &str> = Default::default();
    for f in found {
        if let Some(first) = by_name.insert(&f.name, &f.path) {
            return Err(crate::error::input(format!(
                "two blueprints are named {:?}: {first} and {}; a plan releases each name \
                 once, so plan them from different directories",
                f.name, f.path
            )));
        }
    }
    Ok(())
}
