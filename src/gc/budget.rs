//! The plan: which blobs and cache items go. Garbage always goes (scratch, stale
//! records, blobs that nothing keeps); then, while the store is over the budget, cache
//! items leave least recently used first, each taking with it the blob only it named.
//! Blobs the roots reach never go. Pure: the inventory in, the plan out.

use super::inventory::{Inventory, Item, Kind};
use crate::digest::Digest;
use std::collections::{BTreeMap, BTreeSet};

/// What to remove, and the sizes that follow.
#[derive(Debug, Default)]
pub struct Plan {
    /// Items to remove, records first (crash safety: a record must never name a blob
    /// that is already gone while the record stays).
    pub items: Vec<Item>,
    /// Blobs to remove, with their sizes.
    pub blobs: BTreeMap<Digest, u64>,
    /// The store's size before.
    pub before: u64,
    /// Its size after the plan (predicted).
    pub after: u64,
    /// Bytes of blobs the roots reach (tags and lock pins): what no budget removes.
    pub pinned: u64,
}

/// Plans a collection of `inv` keeping `reached` and, with a budget, at most
/// `budget` bytes in all.
pub fn plan(inv: &Inventory, reached: &BTreeSet<Digest>, budget: Option<u64>) -> Plan {
    let mut p = Plan {
        before: inv.total,
        pinned: inv
            .blobs
            .iter()
            .filter(|(d, _)| reached.contains(*d))
            .map(|(_, n)| n)
            .sum(),
        ..Plan::default()
    };
    // Blobs no root reaches, with how many cache records still name each.
    let mut held: BTreeMap<&Digest, usize> = BTreeMap::new();
    for i in &inv.cached {
        if let Some(d) = i.blob.as_ref().filter(|d| !reached.contains(*d)) {
            *held.entry(d).or_default() += 1;
        }
    }
    for (d, n) in &inv.blobs {
        if !reached.contains(d) && !held.contains_key(d) {
            p.blobs.insert(d.clone(), *n);
        }
    }
    // Links still standing per shared inode: its bytes are freed with its last link.
    let mut links = inv.nlink.clone();
    let mut frees = |item: &Item| -> u64 {
        item.bytes
            + item
                .shared
                .iter()
                .map(|s| {
                    let n = links.entry(s.inode).or_insert(s.links);
                    *n = n.saturating_sub(s.links);
                    if *n == 0 {
                        s.bytes
                    } else {
                        0
                    }
                })
                .sum::<u64>()
    };
    // Each planned item carries the bytes its removal frees.
    let mut freed = |item: &Item| Item {
        bytes: frees(item),
        ..item.clone()
    };
    p.items.extend(inv.garbage.iter().map(&mut freed));
    let garbage: u64 = p.items.iter().map(|i| i.bytes).sum();
    let mut current = inv
        .total
        .saturating_sub(garbage + p.blobs.values().sum::<u64>());
    if let Some(budget) = budget {
        for item in lru_order(&inv.cached, reached) {
            if current <= budget {
                break;
            }
            let item = freed(item);
            current = current.saturating_sub(item.bytes);
            if let Some(d) = &item.blob {
                if let Some(n) = held.get_mut(d) {
                    *n -= 1;
                    if *n == 0 {
                        let size = inv.blobs[d];
                        p.blobs.insert(d.clone(), size);
                        current = current.saturating_sub(size);
                    }
                }
            }
            p.items.push(item.clone());
        }
    }
    p.items
        .sort_by_key(|i| (i.kind != Kind::LayerRecord, i.path.clone()));
    p.after = current;
    p
}

/// Cache items in the order they leave: least recently used first (ties: by kind, then
/// path, so the order is the same on every run), except that layer records whose layer a
/// tag keeps come last: removing one frees only the record's own bytes and costs a
/// cache hit.
pub fn lru_order<'a>(items: &'a [Item], reached: &BTreeSet<Digest>) -> Vec<&'a Item> {
    let cheap = |i: &Item| i.blob.as_ref().is_some_and(|d| reached.contains(d));
    let mut v: Vec<&Item> = items.iter().collect();
    v.sort_by(|a, b| (cheap(a), a.used, a.kind, &a.path).cmp(&(cheap(b), b.used, b.kind, &b.path)));
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gc::inventory::Shared;
    use std::collections::HashMap;
    use std::path::PathBuf;
    use std::time::{Duration, SystemTime};

    fn d(n: u8) -> Digest {
        Digest::of_bytes(&[n])
    }

    fn item(kind: Kind, name: &str, bytes: u64, age: u64, blob: Option<Digest>) -> Item {
        Item {
            kind,
            path: PathBuf::from(name),
            bytes,
            used: SystemTime::UNIX_EPOCH + Duration::from_secs(1000 - age),
            blob,
            shared: Vec::new(),
        }
    }

    /// Tagged blob 1 (100 B), a blob 2 (50 B) only an old record names, blob 3 (30 B)
    /// that nothing names; a new rootfs tree (40 B) and an older apt cache (20 B).
    fn store() -> (Inventory, BTreeSet<Digest>) {
        let inv = Inventory {
            total: 100 + 50 + 30 + 1 + 1 + 40 + 20 + 5,
            blobs: BTreeMap::from([(d(1), 100), (d(2), 50), (d(3), 30)]),
            cached: vec![
                item(
                    Kind::LayerRecord,
                    "cache/layers/old.json",
                    1,
                    300,
                    Some(d(2)),
                ),
                item(
                    Kind::LayerRecord,
                    "cache/layers/tagged.json",
                    1,
                    10,
                    Some(d(1)),
                ),
                item(Kind::Rootfs, "cache/rootfs/new", 40, 1, None),
                item(Kind::Apt, "cache/apt/older", 20, 100, None),
            ],
            garbage: vec![item(Kind::Scratch, "cache/work/step-1", 5, 0, None)],
            busy: Vec::new(),
            nlink: HashMap::new(),
        };
        (inv, BTreeSet::from([d(1)]))
    }

    #[test]
    fn a_file_trees_share_is_freed_with_its_last_link() {
        // Two trees of 10 B each, sharing a 100 B file by hard link (one link each).
        let shared = |name, age| Item {
            shared: vec![Shared {
                inode: (1, 7),
                links: 1,
                bytes: 100,
            }],
            ..item(Kind::Rootfs, name, 10, age, None)
        };
        let inv = Inventory {
            total: 120,
            cached: vec![shared("cache/rootfs/a", 20), shared("cache/rootfs/b", 10)],
            nlink: HashMap::from([((1, 7), 2)]),
            ..Inventory::default()
        };
        let reached = BTreeSet::new();
        // Removing the older tree frees only its own 10 B: the budget needs both gone.
        let p = plan(&inv, &reached, Some(50));
        let freed: Vec<(String, u64)> = p
            .items
            .iter()
            .map(|i| (i.path.display().to_string(), i.bytes))
            .collect();
        assert_eq!(
            freed,
            [
                ("cache/rootfs/a".to_string(), 10),
                ("cache/rootfs/b".to_string(), 110)
            ]
        );
        assert_eq!(p.after, 0);
        // A budget the first removal meets stops there.
        let p = plan(&inv, &reached, Some(115));
        assert_eq!(p.items.len(), 1);
        assert_eq!(p.after, 110);
    }

    #[test]
    fn without_a_budget_only_garbage_goes() {
        let (inv, reached) = store();
        let p = plan(&inv, &reached, None);
        assert_eq!(p.blobs.keys().collect::<Vec<_>>(), [&d(3)]);
        assert_eq!(p.items.len(), 1);
        assert_eq!(p.after, inv.total - 35);
        assert_eq!(p.pinned, 100);
    }

    #[test]
    fn least_recently_used_leave_first_with_the_blobs_only_they_name() {
        let (inv, reached) = store();
        // 212 after garbage; 180 needs the old record (and its blob: 51) to go.
        let p = plan(&inv, &reached, Some(180));
        assert_eq!(
            p.blobs.keys().cloned().collect::<BTreeSet<_>>(),
            BTreeSet::from([d(2), d(3)])
        );
        let names: Vec<_> = p.items.iter().map(|i| i.path.to_str().unwrap()).collect();
        assert_eq!(names, ["cache/layers/old.json", "cache/work/step-1"]);
        assert_eq!(p.after, 161);
        // 150: the apt cache (older) goes next, then the tagged record; the rootfs too.
        let p = plan(&inv, &reached, Some(141));
        assert!(p.items.iter().any(|i| i.kind == Kind::Apt));
        assert!(!p.items.iter().any(|i| i.kind == Kind::Rootfs));
        assert_eq!(p.after, 141);
    }

    #[test]
    fn tagged_blobs_stay_even_over_budget_and_records_go_first() {
        let (inv, reached) = store();
        let p = plan(&inv, &reached, Some(0));
        assert!(!p.blobs.contains_key(&d(1)));
        assert_eq!(p.after, 100);
        assert_eq!(p.items[0].kind, Kind::LayerRecord);
        assert_eq!(p.items[1].kind, Kind::LayerRecord);
        assert_eq!(p.items.len(), 5);
    }

    #[test]
    fn lru_ties_break_by_kind_then_path_and_tag_backed_records_go_last() {
        let a = item(Kind::Rootfs, "b", 1, 5, None);
        let b = item(Kind::LayerRecord, "z", 1, 5, None);
        let c = item(Kind::Rootfs, "a", 1, 5, None);
        let old = item(Kind::Apt, "x", 1, 50, None);
        let tagged = item(Kind::LayerRecord, "t", 1, 500, Some(d(1)));
        let v = [a, b, c, old, tagged];
        let reached = BTreeSet::from([d(1)]);
        let order: Vec<_> = lru_order(&v, &reached)
            .iter()
            .map(|i| i.path.to_str().unwrap())
            .collect();
        assert_eq!(
            order,
            ["x", "z", "a", "b", "t"],
            "a tag-backed record goes last"
        );
    }
}
