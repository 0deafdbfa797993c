//! What gc removed (or, in a dry run, would remove), by kind, and the sizes around it:
//! the same fields for people and for `--json`.

use super::budget::Plan;
use super::inventory::Kind;
use serde::Serialize;
use std::path::PathBuf;

/// A count and its bytes.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Tally {
    pub count: u64,
    pub bytes: u64,
}

impl Tally {
    fn add(&mut self, bytes: u64) {
        self.count += 1;
        self.bytes += bytes;
    }
}

/// Removed, by kind.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Removed {
    /// Blobs no tag or lock reaches and no kept layer record names.
    pub blobs: Tally,
    pub layer_records: Tally,
    pub rootfs: Tally,
    pub apt: Tally,
    pub candidates: Tally,
    pub other: Tally,
    pub scratch: Tally,
}

impl Removed {
    fn of(plan: &Plan) -> Removed {
        let mut r = Removed::default();
        for n in plan.blobs.values() {
            r.blobs.add(*n);
        }
        for i in &plan.items {
            let t = match i.kind {
                Kind::LayerRecord => &mut r.layer_records,
                Kind::Rootfs => &mut r.rootfs,
                Kind::Apt => &mut r.apt,
                Kind::Candidate => &mut r.candidates,
                Kind::Other => &mut r.other,
                Kind::Scratch => &mut r.scratch,
            };
            t.add(i.bytes);
        }
        r
    }

    /// Each kind with its name, in a fixed order.
    pub fn rows(&self) -> [(&'static str, Tally); 7] {
        [
            ("blobs", self.blobs),
            ("layer records", self.layer_records),
            ("rootfs trees", self.rootfs),
            ("apt caches", self.apt),
            ("unpacked candidates", self.candidates),
            ("other caches", self.other),
            ("scratch", self.scratch),
        ]
    }

    pub fn total(&self) -> Tally {
        self.rows()
            .iter()
            .fold(Tally::default(), |a, (_, t)| Tally {
                count: a.count + t.count,
                bytes: a.bytes + t.bytes,
            })
    }
}

/// The report of one gc run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub store: PathBuf,
    pub dry_run: bool,
    /// `--keep-size` in bytes, when given.
    pub budget: Option<u64>,
    /// Bytes under the store before.
    pub before: u64,
    /// Bytes under the store after (measured; in a dry run, predicted).
    pub after: u64,
    /// Bytes of the blobs tags and lock pins reach: what no budget removes.
    pub tagged: u64,
    /// How far `after` is over the budget (tagged content alone is larger), if it is.
    pub over_budget: Option<u64>,
    /// Index entries (tags, referrer tags, untagged entries) walked as roots.
    pub tags: usize,
    /// Base digests the lock files pin (walked as roots when stored).
    pub lock_pins: usize,
    /// Blobs kept because a tag or a lock reaches them.
    pub kept_blobs: usize,
    pub removed: Removed,
    /// Entries left alone because something is mounted below them (a killed build's
    /// overlay; the next build or test unmounts it).
    pub busy: Vec<PathBuf>,
}

/// The facts the plan does not carry.
pub struct Context {
    pub store: PathBuf,
    pub dry_run: bool,
    pub budget: Option<u64>,
    pub tags: usize,
    pub lock_pins: usize,
    pub kept_blobs: usize,
    pub after: u64,
    pub busy: Vec<PathBuf>,
}

impl Report {
    pub fn new(plan: &Plan, c: Context) -> Report {
        Report {
            store: c.store,
            dry_run: c.dry_run,
            budget: c.budget,
            before: plan.before,
            after: c.after,
            tagged: plan.pinned,
            over_budget: c.budget.filter(|b| c.after > *b).map(|b| c.after - b),
            tags: c.tags,
            lock_pins: c.lock_pins,
            kept_blobs: c.kept_blobs,
            removed: Removed::of(plan),
            busy: c.busy,
        }
    }
}
