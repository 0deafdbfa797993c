//! The whole catalog read once, for the pages and checks that look at every release at
//! the same time (`catalog list`, the web catalog, `pins check`, `catalog dependents`):
//! every name's state, and the base each release names in its image manifest, so that
//! "built on a revoked base" is answered in memory, at any depth.

use super::dependents::{base_of, Dependent};
use super::resolve::list;
use super::state::{Release, State, Status};
use super::Catalog;
use crate::digest::Digest;
use anyhow::Result;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// The base a release's image names (`org.opencontainers.image.base.*`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BaseRef {
    /// As the blueprint wrote it: `catalog:NAME:VERSION`, `docker://…`, a store name…
    pub name: String,
    pub digest: Digest,
}

/// Every release of the catalog with its base.
#[derive(Debug, Clone, Default)]
pub struct View {
    /// By name, lowest version first within each.
    pub states: Vec<State>,
    /// Release digest → the base its image names.
    pub bases: BTreeMap<Digest, BaseRef>,
}

/// Manifests read at once when the view loads (a registry answers them in parallel).
const READERS: usize = 8;

impl View {
    /// Reads the state of `name` (or of every name) and the base of every release.
    pub fn load(cat: &dyn Catalog, name: Option<&str>) -> Result<View> {
        let states = list(cat, name)?;
        let all: Vec<(String, Digest)> = states
            .iter()
            .flat_map(|s| {
                s.releases
                    .iter()
                    .map(|r| (s.name.clone(), r.digest.clone()))
            })
            .collect();
        let found = crate::parallel::map(&all, READERS, |(n, d)| base_of(cat, n, d))?;
        let bases = all
            .into_iter()
            .zip(found)
            .filter_map(|((_, d), b)| b.map(|(name, digest)| (d, BaseRef { name, digest })))
            .collect();
        Ok(View { states, bases })
    }

    /// The release published with `digest`, and its name's state.
    pub fn release(&self, digest: &Digest) -> Option<(&State, &Release)> {
        self.states.iter().find_map(|s| {
            s.releases
                .iter()
                .find(|r| &r.digest == digest)
                .map(|r| (s, r))
        })
    }

    /// The release a release is built on, when its base is a release of this catalog.
    pub fn base_release(&self, digest: &Digest) -> Option<(&State, &Release)> {
        self.bases.get(digest).and_then(|b| self.release(&b.digest))
    }

    /// Why `digest` stands on a revoked base, when it does: its base, or its base's base,
    /// and so on, is a release of this catalog that was revoked since.
    pub fn revoked_base(&self, digest: &Digest) -> Option<String> {
        let mut seen = BTreeSet::from([digest.clone()]);
        let mut at = digest.clone();
        while let Some((st, r)) = self.base_release(&at) {
            if r.status == Status::Revoked {
                return Some(format!(
                    "base revoked: it is built on {}:{} ({}), revoked: {}",
                    st.name,
                    r.version,
                    r.digest,
                    r.reason().unwrap_or("no reason given")
                ));
            }
            if !seen.insert(r.digest.clone()) {
                return None;
            }
            at = r.digest.clone();
        }
        None
    }

    /// Every release built on `target`, nearest first (then by name and version).
    pub fn dependents(&self, target: &Digest) -> Vec<Dependent> {
        let mut out = Vec::new();
        let mut seen = BTreeSet::from([target.clone()]);
        let mut frontier = BTreeSet::from([target.clone()]);
        let mut depth = 0;
        while !frontier.is_empty() {
            depth += 1;
            let mut next = BTreeSet::new();
            for s in &self.states {
                for r in &s.releases {
                    let Some(b) = self.bases.get(&r.digest) else {
                        continue;
                    };
                    if frontier.contains(&b.digest) && seen.insert(r.digest.clone()) {
                        next.insert(r.digest.clone());
                        out.push(Dependent {
                            name: s.name.clone(),
                            version: r.version.clone(),
                            digest: r.digest.clone(),
                            base: b.name.clone(),
                            base_digest: b.digest.clone(),
                            depth,
                        });
                    }
                }
            }
            frontier = next;
        }
        out.sort_by(|a, b| (a.depth, &a.name, &a.version).cmp(&(b.depth, &b.name, &b.version)));
        out
    }
}

/// A release as `catalog list --json` shows it: its state, its base, and whether that
/// base (at any depth) was revoked.
#[derive(Debug, Serialize)]
pub struct Listed<'a> {
    #[serde(flatten)]
    pub release: &'a Release,
    pub base: Option<&'a BaseRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_revoked: Option<String>,
}

/// A name as `catalog list --json` shows it.
#[derive(Debug, Serialize)]
pub struct ListedState<'a> {
    pub name: &'a str,
    pub releases: Vec<Listed<'a>>,
    pub channels: &'a [super::state::ChannelState],
    pub last_event: Option<&'a str>,
}

impl View {
    /// Every name with its releases' bases, for `catalog list`.
    pub fn listing(&self) -> Vec<ListedState<'_>> {
        self.states
            .iter()
            .map(|s| ListedState {
                name: &s.name,
                releases: s
                    .releases
                    .iter()
                    .map(|r| Listed {
                        release: r,
                        base: self.bases.get(&r.digest),
                        base_revoked: self.revoked_base(&r.digest),
                    })
                    .collect(),
                channels: &s.channels,
                last_event: s.last_event.as_deref(),
            })
            .collect()
    }
}
