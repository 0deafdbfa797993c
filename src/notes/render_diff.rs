//! The human text of an image diff: a summary first, then the details, paths capped so a
//! large change reads as a summary and not a dump.

use crate::notes::diff::{ImageDiff, PackageChange};
use std::fmt::Write;

/// How many paths a list shows before it says "and N more".
pub const PATH_LIMIT: usize = 40;

fn pkg(c: &PackageChange) -> String {
    match (&c.from, &c.to) {
        (Some(a), Some(b)) => format!("{} {a} → {b}", c.name),
        (None, Some(b)) => format!("{} {b}", c.name),
        (Some(a), None) => format!("{} {a}", c.name),
        (None, None) => c.name.clone(),
    }
}

pub fn paths(out: &mut String, title: &str, items: &[String], limit: usize) {
    if items.is_empty() {
        return;
    }
    let _ = writeln!(out, "{title} ({}):", items.len());
    for p in items.iter().take(limit) {
        let _ = writeln!(out, "  /{p}");
    }
    if items.len() > limit {
        let _ = writeln!(out, "  … and {} more", items.len() - limit);
    }
}

pub fn render(d: &ImageDiff) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "from {}\nto   {}", d.from, d.to);
    if d.is_empty() {
        let _ = writeln!(s, "identical");
        return s;
    }
    if let Some(b) = &d.base {
        let _ = writeln!(
            s,
            "base: {} → {}",
            b.from.as_deref().unwrap_or("-"),
            b.to.as_deref().unwrap_or("-")
        );
    }
    let p = &d.packages;
    let _ = writeln!(
        s,
        "packages: {} added, {} removed, {} upgraded, {} downgraded",
        p.added.len(),
        p.removed.len(),
        p.upgraded.len(),
        p.downgraded.len()
    );
    for (title, list) in [
        ("  added", &p.added),
        ("  removed", &p.removed),
        ("  upgraded", &p.upgraded),
        ("  downgraded", &p.downgraded),
    ] {
        for c in list {
            let _ = writeln!(s, "{title}: {}", pkg(c));
        }
    }
    let f = &d.files;
    let _ = writeln!(
        s,
        "files: {} added, {} removed, {} changed",
        f.added.len(),
        f.removed.len(),
        f.changed.len()
    );
    paths(&mut s, "added", &f.added, PATH_LIMIT);
    paths(&mut s, "removed", &f.removed, PATH_LIMIT);
    let changed: Vec<String> = f
        .changed
        .iter()
        .map(|c| format!("{} ({})", c.path, c.what.join(", ")))
        .collect();
    paths(&mut s, "changed", &changed, PATH_LIMIT);
    for c in d.config.iter().chain(&d.suites) {
        let _ = writeln!(
            s,
            "{}: {} → {}",
            c.field,
            c.from.as_deref().unwrap_or("(unset)"),
            c.to.as_deref().unwrap_or("(unset)")
        );
    }
    let _ = writeln!(
        s,
        "size: {} → {} bytes compressed ({:+}), layers {:?} → {:?}",
        d.size.from_total, d.size.to_total, d.size.delta, d.size.from_layers, d.size.to_layers
    );
    if !d.advisories.is_empty() {
        let _ = writeln!(s, "advisories fixed ({}):", d.advisories.len());
        for f in &d.advisories {
            let _ = writeln!(
                s,
                "  {} {} → {}: {}",
                f.package,
                f.old_version,
                f.new_version,
                f.advisories.join(", ")
            );
        }
    }
    s
}
