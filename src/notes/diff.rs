//! `corebuild diff A B`: what changed between two images — packages (Debian version
//! order), files (content digest, mode, owner), config, base, contract suite versions,
//! sizes per layer and in total, and the advisories the upgraded packages' changelogs say
//! the newer image fixed.

use crate::advisory::fixed::{self, Fix};
use crate::debian::dpkg;
use crate::debian::version::DebVersion;
use crate::digest::Digest;
use crate::notes::tree::{read_tree, Node, Tree};
use crate::oci::{OciDir, StoredImage};
use anyhow::Result;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PackageChange {
    pub name: String,
    pub from: Option<String>,
    pub to: Option<String>,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct PackageDiff {
    pub added: Vec<PackageChange>,
    pub removed: Vec<PackageChange>,
    pub upgraded: Vec<PackageChange>,
    pub downgraded: Vec<PackageChange>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FileChange {
    pub path: String,
    /// What differs: `content`, `mode`, `owner`, `kind`, `target`.
    pub what: Vec<&'static str>,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct FileDiff {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub changed: Vec<FileChange>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ValueChange {
    pub field: String,
    pub from: Option<String>,
    pub to: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SizeDiff {
    pub from_layers: Vec<u64>,
    pub to_layers: Vec<u64>,
    pub from_total: u64,
    pub to_total: u64,
    pub delta: i64,
}

/// Everything that differs between `from` and `to`.
#[derive(Debug, Clone, Serialize)]
pub struct ImageDiff {
    pub from: Digest,
    pub to: Digest,
    pub base: Option<ValueChange>,
    pub packages: PackageDiff,
    pub files: FileDiff,
    pub config: Vec<ValueChange>,
    pub suites: Vec<ValueChange>,
    pub size: SizeDiff,
    /// Upgraded packages whose changelog names advisories fixed since `from`.
    pub advisories: Vec<Fix>,
}

impl ImageDiff {
    pub fn is_empty(&self) -> bool {
        self.from == self.to
    }
}

/// Compares two stored images. `suites_*` are (name → version) of the contract suites
/// each passed, when known.
pub fn diff_images(
    store: &OciDir,
    from: &StoredImage,
    to: &StoredImage,
    suites_from: &BTreeMap<String, String>,
    suites_to: &BTreeMap<String, String>,
) -> Result<ImageDiff> {
    let ta = read_tree(store, from)?;
    let tb = read_tree(store, to)?;
    Ok(ImageDiff {
        from: from.digest.clone(),
        to: to.digest.clone(),
        base: change("base", base_of(from), base_of(to)),
        packages: package_diff(&ta, &tb),
        files: file_diff(&ta, &tb),
        config: config_diff(from, to),
        suites: map_diff(suites_from, suites_to, ""),
        size: SizeDiff {
            from_total: from.manifest.layers().iter().map(|l| l.size()).sum(),
            to_total: to.manifest.layers().iter().map(|l| l.size()).sum(),
            from_layers: from.manifest.layers().iter().map(|l| l.size()).collect(),
            to_layers: to.manifest.layers().iter().map(|l| l.size()).collect(),
            delta: to
                .manifest
                .layers()
                .iter()
                .map(|l| l.size() as i64)
                .sum::<i64>()
                - from
                    .manifest
                    .layers()
                    .iter()
                    .map(|l| l.size() as i64)
                    .sum::<i64>(),
        },
        advisories: fixed::fixes(store, to, &ta, &tb)?,
    })
}

fn change(field: &str, a: Option<String>, b: Option<String>) -> Option<ValueChange> {
    (a != b).then(|| ValueChange {
        field: field.to_string(),
        from: a,
        to: b,
    })
}

fn base_of(img: &StoredImage) -> Option<String> {
    img.manifest
        .annotations()
        .as_ref()
        .and_then(|a| a.get("org.opencontainers.image.base.digest").cloned())
}

/// Installed packages (name → version) from an image's dpkg database.
pub fn packages(tree: &Tree) -> BTreeMap<String, String> {
    let text = tree
        .dpkg_status()
        .map(String::from_utf8_lossy)
        .unwrap_or_default();
    dpkg::installed(&text)
        .into_iter()
        .map(|(name, (version, _))| (name, version))
        .collect()
}

fn package_diff(a: &Tree, b: &Tree) -> PackageDiff {
    let (pa, pb) = (packages(a), packages(b));
    let mut d = PackageDiff::default();
    for (name, va) in &pa {
        match pb.get(name) {
            None => d.removed.push(PackageChange {
                name: name.clone(),
                from: Some(va.clone()),
                to: None,
            }),
            Some(vb) if vb != va => {
                let c = PackageChange {
                    name: name.clone(),
                    from: Some(va.clone()),
                    to: Some(vb.clone()),
                };
                let newer = match (DebVersion::parse(va), DebVersion::parse(vb)) {
                    (Ok(x), Ok(y)) => y > x,
                    _ => vb > va,
                };
                if newer {
                    d.upgraded.push(c)
                } else {
                    d.downgraded.push(c)
                }
            }
            _ => {}
        }
    }
    for (name, vb) in &pb {
        if !pa.contains_key(name) {
            d.added.push(PackageChange {
                name: name.clone(),
                from: None,
                to: Some(vb.clone()),
            });
        }
    }
    d
}

fn file_diff(a: &Tree, b: &Tree) -> FileDiff {
    let mut d = FileDiff::default();
    for (path, na) in &a.nodes {
        match b.nodes.get(path) {
            None => d.removed.push(path.clone()),
            Some(nb) if nb != na => d.changed.push(FileChange {
                path: path.clone(),
                what: what_changed(na, nb),
            }),
            _ => {}
        }
    }
    d.added = b
        .nodes
        .keys()
        .filter(|p| !a.nodes.contains_key(*p))
        .cloned()
        .collect();
    // Directory mtimes are not compared, so a directory only "changes" by mode or owner.
    d.changed.retain(|c| !c.what.is_empty());
    d
}

fn what_changed(a: &Node, b: &Node) -> Vec<&'static str> {
    let mut w = Vec::new();
    if a.kind != b.kind {
        w.push("kind");
    } else if a.content != b.content {
        w.push(if a.kind == "symlink" {
            "target"
        } else {
            "content"
        });
    }
    if a.mode != b.mode {
        w.push("mode");
    }
    if (a.uid, a.gid) != (b.uid, b.gid) {
        w.push("owner");
    }
    w
}

fn config_diff(a: &StoredImage, b: &StoredImage) -> Vec<ValueChange> {
    let flat = |img: &StoredImage| -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        let Some(c) = img.config.config() else {
            return m;
        };
        for e in c.env().iter().flatten() {
            let (k, v) = e.split_once('=').unwrap_or((e, ""));
            m.insert(format!("env.{k}"), v.to_string());
        }
        let list = |v: &Option<Vec<String>>| v.as_ref().map(|v| format!("{v:?}"));
        if let Some(v) = list(c.entrypoint()) {
            m.insert("entrypoint".into(), v);
        }
        if let Some(v) = list(c.cmd()) {
            m.insert("cmd".into(), v);
        }
        if let Some(u) = c.user() {
            m.insert("user".into(), u.clone());
        }
        if let Some(w) = c.working_dir() {
            m.insert("workdir".into(), w.clone());
        }
        if let Some(s) = c.stop_signal() {
            m.insert("stop_signal".into(), s.clone());
        }
        for (k, v) in c.labels().iter().flatten() {
            m.insert(format!("labels.{k}"), v.clone());
        }
        let mut ports = c.exposed_ports().clone().unwrap_or_default();
        ports.sort();
        if !ports.is_empty() {
            m.insert("exposed_ports".into(), ports.join(","));
        }
        m
    };
    map_diff(&flat(a), &flat(b), "")
}

fn map_diff(
    a: &BTreeMap<String, String>,
    b: &BTreeMap<String, String>,
    prefix: &str,
) -> Vec<ValueChange> {
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter_map(|k| {
            change(
                &format!("{prefix}{k}"),
                a.get(k).cloned(),
                b.get(k).cloned(),
            )
        })
        .collect()
}

/// The suites (name → version) the newest stored report for `digest` passed.
pub fn passed_suites(store: &OciDir, digest: &Digest) -> Result<BTreeMap<String, String>> {
    let mut m = BTreeMap::new();
    for r in crate::contract::reports_for(store, digest)? {
        for s in r.suites.iter().filter(|s| s.passed()) {
            m.insert(s.name.clone(), s.version.to_string());
        }
    }
    Ok(m)
}
