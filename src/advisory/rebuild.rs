//! Rebuild planning: which blueprints of a directory to rebuild for a query, in what
//! order, and what each rebuild moves. Pure over the loaded blueprints and the query's
//! matches, so the plan `--dry-run` prints is the plan that runs.
//!
//! A blueprint is affected when the latest (not revoked) release of its name matches.
//! Each affected package is fixed where it comes from: a pin in the blueprint's lock
//! (moved by re-resolving just that package), an `upgrade = true` layer (the same), or a
//! base that is itself a core build in the plan (`catalog:NAME:…`, moved to its rebuilt
//! version, so that one is rebuilt first). A package that comes only from a base outside
//! the plan cannot be fixed here: the target is blocked, with the reason.

use super::edit::next_patch;
use super::query::{Match, Matched};
use crate::blueprint::{BaseRef, Blueprint, Layer};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

/// One blueprint to rebuild.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Target {
    pub name: String,
    pub blueprint: PathBuf,
    /// The latest release, which matched.
    pub released: String,
    /// The version the rebuild releases (the next patch).
    pub next: String,
    /// What matched in the latest release: `package version`.
    pub packages: Vec<(String, String)>,
    /// Packages re-resolved in this blueprint's lock.
    pub moves: Vec<String>,
    /// The in-plan core build this one's base moves to the rebuild of.
    pub base_from: Option<String>,
    /// The advisory ids the query names (`--cve`).
    pub advisories: Vec<String>,
    /// Why this blueprint cannot be fixed by a rebuild, when it cannot.
    pub blocked: Option<String>,
}

/// Targets for every blueprint in `blueprints` whose latest release has a match, bases
/// before the blueprints built on them.
pub fn plan(blueprints: &[Blueprint], matches: &[Match], advisories: &[String]) -> Vec<Target> {
    let mut by_name: BTreeMap<&str, Target> = BTreeMap::new();
    for bp in blueprints {
        let latest = matches
            .iter()
            .filter(|m| m.name == bp.name)
            .filter_map(|m| semver::Version::parse(&m.version).ok().map(|v| (v, m)))
            .max_by(|a, b| a.0.cmp(&b.0));
        let Some((released, _)) = latest else {
            continue;
        };
        let packages: Vec<(String, String)> = matches
            .iter()
            .filter(|m| m.name == bp.name && m.version == released.to_string())
            .filter_map(matched_package)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        by_name.insert(
            &bp.name,
            Target {
                name: bp.name.clone(),
                blueprint: bp.dir.clone(),
                next: next_patch(&released).to_string(),
                released: released.to_string(),
                packages,
                moves: Vec::new(),
                base_from: None,
                advisories: advisories.to_vec(),
                blocked: None,
            },
        );
    }
    let names: BTreeSet<String> = by_name.keys().map(|s| s.to_string()).collect();
    for bp in blueprints {
        if let Some(t) = by_name.get_mut(bp.name.as_str()) {
            decide(bp, t, &names);
        }
    }
    order(by_name.into_values().collect(), blueprints)
}

/// The package of a match that names one (not `--file` matches without owner).
fn matched_package(m: &Match) -> Option<(String, String)> {
    match &m.matched {
        Matched::Package {
            package, version, ..
        } => Some((package.clone(), version.clone())),
        Matched::Cve {
            package: Some(p),
            version,
            status,
            ..
        } if status != "fixed" && status != "not_affected" => {
            Some((p.clone(), version.clone().unwrap_or_default()))
        }
        Matched::File { packages, .. } => packages.first().map(|p| (p.clone(), String::new())),
        _ => None,
    }
}

/// Where each affected package of `t` is fixed, or why it cannot be.
fn decide(bp: &Blueprint, t: &mut Target, in_plan: &BTreeSet<String>) {
    if bp.version.to_string() != t.released {
        t.blocked = Some(format!(
            "{} is at version {}, not at its latest release {}: release or revert it first, then rebuild",
            crate::blueprint::display_path(&bp.path),
            bp.version,
            t.released
        ));
        return;
    }
    let pinned: BTreeSet<&str> = bp
        .lock
        .iter()
        .flat_map(|l| l.packages.iter())
        .map(|p| p.name.as_str())
        .collect();
    let upgrades = bp
        .layers
        .iter()
        .any(|l| matches!(l, Layer::Packages(p) if p.upgrade));
    t.base_from = match bp.base.parsed() {
        Ok(BaseRef::Catalog { name, .. }) if in_plan.contains(&name) => Some(name),
        _ => None,
    };
    let mut unfixed = Vec::new();
    for (p, _) in &t.packages {
        if pinned.contains(p.as_str()) || upgrades {
            t.moves.push(p.clone());
        } else if t.base_from.is_none() {
            unfixed.push(p.clone());
        }
    }
    if !unfixed.is_empty() {
        t.blocked = Some(format!(
            "{} come(s) from the base {} and nothing here moves it: rebuild the base, or add a packages layer with upgrade = true",
            unfixed.join(", "),
            bp.base.reference
        ));
    }
}

/// Targets whose base is another target come after it (depth in the in-plan chain,
/// then name): a stable order, the same every run.
fn order(mut targets: Vec<Target>, blueprints: &[Blueprint]) -> Vec<Target> {
    let base_of: BTreeMap<String, Option<String>> = targets
        .iter()
        .map(|t| (t.name.clone(), t.base_from.clone()))
        .collect();
    let depth = |name: &str| {
        let mut d = 0;
        let mut cur = base_of.get(name).cloned().flatten();
        while let Some(b) = cur {
            d += 1;
            if d > blueprints.len() {
                break; // a cycle of catalog bases cannot be built anyway
            }
            cur = base_of.get(&b).cloned().flatten();
        }
        d
    };
    targets.sort_by_key(|t| (depth(&t.name), t.name.clone()));
    targets
}
