//! Running a rebuild plan, target by target in its order: edit blueprint.toml (next
//! patch, base moved to the rebuilt core build, one security `[[change]]`), move the
//! affected pins in blueprint.lock, then the whole release pipeline with `--locked`.
//! The edited files stay for the engineer to review and commit; a failed target stops
//! the run (the ones after it may build on it) and leaves its edits in place.

use super::edit::{self, Edit};
use super::rebuild::Target;
use crate::blueprint::{self, LoadOptions};
use crate::build::relock::{relock, RelockOptions};
use crate::catalog::Catalog;
use crate::digest::Digest;
use crate::oci::OciDir;
use crate::pipeline::{self, Progress, ReleaseOptions, ReleaseSummary};
use anyhow::{Context, Result};
use std::collections::BTreeMap;

/// What became of one target.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Outcome {
    pub name: String,
    pub version: String,
    pub digest: Option<Digest>,
    /// `package old → new` for every moved package, as the new lock pins it.
    pub moved: Vec<String>,
    pub summary: ReleaseSummary,
}

/// Runs every target that is not blocked; returns what each produced.
pub fn run(
    store: &OciDir,
    cat: &dyn Catalog,
    targets: &[Target],
    opts: &ReleaseOptions,
    progress: &dyn Progress,
) -> Result<Vec<Outcome>> {
    let mut done: BTreeMap<String, String> = BTreeMap::new();
    let mut out = Vec::new();
    for t in targets.iter().filter(|t| t.blocked.is_none()) {
        let o = one(store, cat, t, &done, opts, progress)
            .with_context(|| format!("rebuilding {} {} as {}", t.name, t.released, t.next))?;
        done.insert(t.name.clone(), t.next.clone());
        out.push(o);
    }
    Ok(out)
}

fn one(
    store: &OciDir,
    cat: &dyn Catalog,
    t: &Target,
    done: &BTreeMap<String, String>,
    opts: &ReleaseOptions,
    progress: &dyn Progress,
) -> Result<Outcome> {
    let bp = blueprint::load(&t.blueprint, &LoadOptions::default())?;
    let base_ref = t.base_from.as_ref().and_then(|b| {
        done.get(b)
            .map(|v| format!("{}{b}:{v}", crate::catalog::base::PREFIX))
    });
    let mut e = Edit {
        version: t.next.clone(),
        base_ref: base_ref.clone(),
        base_digest: None,
        change_id: None,
        change_summary: summary(&t.advisories, t, &[], base_ref.as_deref()),
    };
    write_edit(&bp.path, &e)?;
    let bp = blueprint::load(&t.blueprint, &LoadOptions::default())?;
    if bp.base.digest.is_some() {
        // An inline base digest pins the old base: move it with the ref.
        let resolved =
            crate::build::base::resolve_unpinned(store, &crate::build::base::reference_of(&bp)?)?;
        e.base_digest = Some(resolved.0.digest.to_string());
        write_edit(&bp.path, &e)?;
    }
    let bp = blueprint::load(&t.blueprint, &LoadOptions::default())?;
    let old = bp.lock.clone().unwrap_or_default();
    let lock = relock(
        store,
        &bp,
        &RelockOptions {
            update: false,
            packages: t.moves.clone(),
            runtime: opts.runtime.clone(),
        },
    )?;
    blueprint::write_lock(&blueprint::lock_path(&bp.dir), &lock)?;
    let moved = moved(&old, &lock, &t.moves);
    // Build the candidate (the cache has it after the lock) to read what it fixed from
    // its packages' changelogs, so the entry names the advisories nobody typed.
    let bp = blueprint::load(&t.blueprint, &LoadOptions::default())?;
    let built = crate::build::build(
        store,
        &bp,
        &crate::build::BuildOptions {
            locked: true,
            runtime: opts.runtime.clone(),
            source_date_epoch: opts.source_date_epoch.clone(),
            ..crate::build::BuildOptions::new()
        },
    )?;
    let version = semver::Version::parse(&t.next)?;
    let previous = pipeline::previous_release(cat, &t.name, &version);
    let fixes = pipeline::fixes_since(cat, store, &t.name, previous.as_ref(), &built.digest)?;
    let mut advisories = t.advisories.clone();
    for (id, _) in crate::advisory::fixed::by_advisory(&fixes) {
        if !advisories.iter().any(|a| a.eq_ignore_ascii_case(&id)) {
            advisories.push(id);
        }
    }
    e.change_id = None;
    e.change_summary = summary(&advisories, t, &moved, base_ref.as_deref());
    write_edit(&bp.path, &e)?;
    let bp = blueprint::load(&t.blueprint, &LoadOptions::default())?;
    let mut summary = ReleaseSummary::default();
    let opts = ReleaseOptions {
        locked: true,
        ..opts.clone()
    };
    pipeline::release(store, cat, &bp, &opts, progress, &mut summary)?;
    Ok(Outcome {
        name: t.name.clone(),
        version: t.next.clone(),
        digest: summary.digest.clone(),
        moved,
        summary,
    })
}

fn write_edit(path: &std::path::Path, e: &Edit) -> Result<()> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let edited = edit::apply(&text, e).with_context(|| format!("editing {}", path.display()))?;
    crate::oci::write_atomic(path, edited.as_bytes())
}

/// `name old → new` for each moved package whose pin changed (every layer's pin).
fn moved(old: &blueprint::LockFile, new: &blueprint::LockFile, moves: &[String]) -> Vec<String> {
    let pins = |l: &blueprint::LockFile, n: &str| {
        l.packages
            .iter()
            .filter(|p| p.name == n)
            .map(|p| p.version.clone())
            .collect::<Vec<_>>()
    };
    moves
        .iter()
        .filter_map(|n| {
            let (a, b) = (pins(old, n), pins(new, n));
            (a != b).then(|| {
                format!(
                    "{n} {} → {}",
                    a.last().map_or("(base)", String::as_str),
                    b.last().map_or("?", String::as_str)
                )
            })
        })
        .collect()
}

/// The one security entry's summary: what moved, and the advisories named.
fn summary(advisories: &[String], t: &Target, moved: &[String], base_ref: Option<&str>) -> String {
    let mut parts: Vec<String> = moved.to_vec();
    if let Some(b) = base_ref {
        parts.push(format!("rebuilt on {b}"));
    }
    if parts.is_empty() {
        parts = t.packages.iter().map(|(p, v)| format!("{p} {v}")).collect();
    }
    let mut s = format!("Security rebuild: {}", parts.join("; "));
    if !advisories.is_empty() {
        s.push_str(&format!(", fixing {}", advisories.join(", ")));
    }
    s
}
