//! What the store holds, by kind, with sizes and last use: blobs, layer-cache records,
//! flattened rootfs trees, apt caches, unpacked candidates, other caches and scratch.
//! Sizes are allocated bytes (what `du` counts), each hard-linked inode once.

use crate::build::cache::CacheRecord;
use crate::digest::Digest;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// The prefix of every temp name the store's writers use (and gc's own renames).
pub const TMP_PREFIX: &str = ".tmp-";

/// A kind of thing gc may remove.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// `cache/layers/<key>.json`: a layer-cache record (its blob is counted as a blob).
    LayerRecord,
    /// `cache/rootfs/<chain id>/`: a flattened parent chain for build steps.
    Rootfs,
    /// `cache/apt/<chain id>/`: apt lists and downloaded packages.
    Apt,
    /// `cache/candidates/<digest>/`: an unpacked candidate for contract tests and disks.
    Candidate,
    /// Anything else under `cache/` (the advisory document cache, caches gc does not know).
    Other,
    /// Temp files and trees (`.tmp-*`) and `cache/work/`: nobody's once no command runs.
    Scratch,
}

/// One removable thing.
#[derive(Debug, Clone)]
pub struct Item {
    pub kind: Kind,
    pub path: PathBuf,
    pub bytes: u64,
    /// Last use: the record's, tree's or cache directory's modification time.
    pub used: SystemTime,
    /// The layer blob a layer record names.
    pub blob: Option<Digest>,
    /// Inodes with several links (flattened trees share their files as hard links): freed
    /// only when every link goes, so they are not in `bytes`.
    pub shared: Vec<Shared>,
}

/// An inode an item holds some of the links of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shared {
    pub inode: (u64, u64),
    /// Links to it inside the item.
    pub links: u64,
    /// Its allocated bytes.
    pub bytes: u64,
}

/// The store, sorted out.
#[derive(Debug, Default)]
pub struct Inventory {
    /// Every byte under the store (`du`).
    pub total: u64,
    /// Blobs by digest with their sizes.
    pub blobs: BTreeMap<Digest, u64>,
    /// Caches gc may keep or evict, least recently used first once sorted.
    pub cached: Vec<Item>,
    /// Always removed: scratch, and layer records that do not parse or whose blob is gone.
    pub garbage: Vec<Item>,
    /// Entries with a mount below them (a killed build's overlay): left alone.
    pub busy: Vec<PathBuf>,
    /// The link count of every inode some item shares.
    pub nlink: HashMap<(u64, u64), u64>,
}

/// Sums allocated bytes, counting an inode with several links once.
#[derive(Default)]
struct Meter {
    seen: HashSet<(u64, u64)>,
}

impl Meter {
    fn file(&mut self, m: &std::fs::Metadata) -> u64 {
        if m.nlink() > 1 && !m.is_dir() && !self.seen.insert((m.dev(), m.ino())) {
            return 0;
        }
        m.blocks() * 512
    }

    fn tree(&mut self, path: &Path) -> u64 {
        metadata_below(path).map(|m| self.file(&m)).sum()
    }
}

/// The metadata of `path` and everything below it, on its file system, links not followed.
fn metadata_below(path: &Path) -> impl Iterator<Item = std::fs::Metadata> {
    walkdir::WalkDir::new(path)
        .follow_links(false)
        .same_file_system(true)
        .into_iter()
        .filter_map(Result::ok)
        .filter_map(|e| e.metadata().ok())
}

/// Every byte under `root`.
pub fn du(root: &Path) -> u64 {
    Meter::default().tree(root)
}

/// Sorts out the store at `root` (an absolute path). `mounts` are the mount points of
/// this mount namespace.
pub fn scan(root: &Path, mounts: &[PathBuf]) -> std::io::Result<Inventory> {
    let mut s = Scan {
        inv: Inventory {
            total: du(root),
            ..Inventory::default()
        },
        meter: Meter::default(),
        mounts,
    };
    s.blobs(&root.join("blobs/sha256"))?;
    for e in sorted_children(root)? {
        if is_tmp(&e) {
            s.add(Kind::Scratch, e, None, None);
        }
    }
    let cache = root.join("cache");
    for e in sorted_children(&cache)? {
        let name = e.file_name().map(|n| n.to_string_lossy().into_owned());
        match name.as_deref() {
            Some("layers") => s.layer_records(&e)?,
            Some("rootfs") => s.entries(&e, Kind::Rootfs)?,
            Some("apt") => s.entries(&e, Kind::Apt)?,
            Some("candidates") => s.entries(&e, Kind::Candidate)?,
            Some("work") => s.entries(&e, Kind::Scratch)?,
            _ if e.is_dir() && !is_tmp(&e) => s.entries(&e, Kind::Other)?,
            _ if is_tmp(&e) => s.add(Kind::Scratch, e, None, None),
            _ => s.add(Kind::Other, e, None, None),
        }
    }
    Ok(s.inv)
}

struct Scan<'a> {
    inv: Inventory,
    meter: Meter,
    mounts: &'a [PathBuf],
}

impl Scan<'_> {
    /// The bytes only `path` holds, and the inodes it shares links of.
    fn split(&mut self, path: &Path, m: &std::fs::Metadata) -> (u64, Vec<Shared>) {
        let metas: Vec<std::fs::Metadata> = if m.is_dir() {
            metadata_below(path).collect()
        } else {
            vec![m.clone()]
        };
        let mut own = 0;
        let mut shared: BTreeMap<(u64, u64), Shared> = BTreeMap::new();
        for m in metas {
            if m.is_dir() || m.nlink() <= 1 {
                own += m.blocks() * 512;
                continue;
            }
            let inode = (m.dev(), m.ino());
            self.inv.nlink.insert(inode, m.nlink());
            shared
                .entry(inode)
                .or_insert(Shared {
                    inode,
                    links: 0,
                    bytes: m.blocks() * 512,
                })
                .links += 1;
        }
        (own, shared.into_values().collect())
    }

    fn blobs(&mut self, dir: &Path) -> std::io::Result<()> {
        for p in sorted_children(dir)? {
            if is_tmp(&p) {
                self.add(Kind::Scratch, p, None, None);
                continue;
            }
            let name = p.file_name().unwrap_or_default().to_string_lossy();
            // A name that is no digest is fsck's to report, not gc's to remove.
            if let Ok(d) = format!("sha256:{name}").parse::<Digest>() {
                let m = std::fs::symlink_metadata(&p)?;
                let bytes = self.meter.file(&m);
                self.inv.blobs.insert(d, bytes);
            }
        }
        Ok(())
    }

    fn layer_records(&mut self, dir: &Path) -> std::io::Result<()> {
        for p in sorted_children(dir)? {
            if is_tmp(&p) {
                self.add(Kind::Scratch, p, None, None);
                continue;
            }
            if p.extension().is_none_or(|e| e != "json") {
                self.add(Kind::Other, p, None, None);
                continue;
            }
            let rec = std::fs::read(&p)
                .ok()
                .and_then(|b| serde_json::from_slice::<CacheRecord>(&b).ok());
            match rec {
                Some(r) if self.inv.blobs.contains_key(&r.digest) => {
                    self.add(Kind::LayerRecord, p, None, Some(r.digest))
                }
                // A record of a blob that is gone is a miss for every build: garbage.
                _ => self.add(Kind::Scratch, p, Some(Kind::LayerRecord), None),
            }
        }
        Ok(())
    }

    /// Each child of `dir` is one item of `kind`; `.tmp-*` children are scratch.
    fn entries(&mut self, dir: &Path, kind: Kind) -> std::io::Result<()> {
        for p in sorted_children(dir)? {
            let k = if is_tmp(&p) { Kind::Scratch } else { kind };
            self.add(k, p, None, None);
        }
        Ok(())
    }

    /// Adds `path` as `kind`; `garbage_as` files an always-removed item under that kind.
    fn add(&mut self, kind: Kind, path: PathBuf, garbage_as: Option<Kind>, blob: Option<Digest>) {
        if self.mounts.iter().any(|m| m.starts_with(&path)) {
            self.inv.busy.push(path);
            return;
        }
        let Ok(m) = std::fs::symlink_metadata(&path) else {
            return; // gone meanwhile
        };
        let (bytes, shared) = self.split(&path, &m);
        let used = last_use(&path, &m, kind);
        let item = Item {
            kind: garbage_as.unwrap_or(kind),
            path,
            bytes,
            used,
            blob,
            shared,
        };
        if kind == Kind::Scratch {
            self.inv.garbage.push(item);
        } else {
            self.inv.cached.push(item);
        }
    }
}

/// When a cache item was last used: a record's or tree's mtime (builds touch them on a
/// hit); for an apt cache or an unknown cache directory, the newest of it and its
/// direct children (apt rewrites its lock file, lists and archives on every use).
fn last_use(path: &Path, m: &std::fs::Metadata, kind: Kind) -> SystemTime {
    let own = m.modified().unwrap_or(SystemTime::UNIX_EPOCH);
    if !m.is_dir() || !matches!(kind, Kind::Apt | Kind::Other) {
        return own;
    }
    std::fs::read_dir(path)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|e| e.metadata().ok()?.modified().ok())
        .fold(own, SystemTime::max)
}

fn is_tmp(p: &Path) -> bool {
    p.file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with(TMP_PREFIX))
}

/// The entries of `dir` in name order; none when it does not exist.
fn sorted_children(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut v = rd
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<Vec<_>, _>>()?;
    v.sort();
    Ok(v)
}
