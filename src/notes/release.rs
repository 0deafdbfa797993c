//! Release notes (`release-notes/<name>/<version>.md`): what an app team reads before it
//! moves its pin — the digest to pin, what changed and why, what the release promises.

use crate::advisory::fixed::{by_advisory, Fix};
use crate::blueprint::ChangeKind;
use crate::notes::facts::{contract_major_changes, kind_heading, ReleaseFacts, KINDS};
use crate::notes::links;
use crate::notes::render_diff::PATH_LIMIT;
use std::fmt::Write;

pub fn render(f: &ReleaseFacts) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# {} {}\n", f.name, f.version);
    if !f.description.is_empty() {
        let _ = writeln!(s, "{}\n", f.description);
    }
    let _ = writeln!(s, "| | |\n|---|---|");
    let _ = writeln!(s, "| Released | {} |", f.released);
    let _ = writeln!(s, "| Digest | `{}` |", f.digest);
    let _ = writeln!(s, "| Pull by digest | `{}` |", f.pull_ref);
    let _ = writeln!(s, "| Catalog | `{}` |", f.catalog);
    let _ = writeln!(
        s,
        "| Base | `{}`{} |",
        f.base_ref,
        f.base_digest
            .as_deref()
            .map(|d| format!(" (`{d}`)"))
            .unwrap_or_default()
    );
    let _ = writeln!(
        s,
        "| End of support | {} |",
        f.end_of_support.as_deref().unwrap_or("not set")
    );
    let _ = writeln!(s, "| Status | {} |\n", f.status);

    let majors = contract_major_changes(f);
    if !majors.is_empty() {
        let _ = writeln!(s, "## Upgrade notes\n");
        let _ = writeln!(
            s,
            "The service contract changed in a way that may break consumers:\n"
        );
        for (n, a, b) in &majors {
            let _ = writeln!(
                s,
                "- `{n}` {a} → {b}: read the technical notes for the tests it now holds."
            );
        }
        s.push('\n');
    }

    highlights(&mut s, f);

    match (&f.previous, &f.diff) {
        (Some((pv, pd)), Some(d)) => {
            let _ = writeln!(s, "## Changes since {pv}\n");
            let _ = writeln!(s, "Compared with {} {pv} (`{pd}`).\n", f.name);
            if let Some(b) = &d.base {
                let _ = writeln!(
                    s,
                    "- Base: `{}` → `{}`",
                    b.from.as_deref().unwrap_or("-"),
                    b.to.as_deref().unwrap_or("-")
                );
            }
            let p = &d.packages;
            let _ = writeln!(
                s,
                "- Packages: {} added, {} removed, {} upgraded, {} downgraded",
                p.added.len(),
                p.removed.len(),
                p.upgraded.len(),
                p.downgraded.len()
            );
            for (verb, list) in [
                ("added", &p.added),
                ("removed", &p.removed),
                ("upgraded", &p.upgraded),
                ("downgraded", &p.downgraded),
            ] {
                for c in list {
                    let _ = writeln!(
                        s,
                        "  - {verb} {} {}",
                        links::package(&c.name, &f.sources),
                        match (&c.from, &c.to) {
                            (Some(a), Some(b)) => format!("{a} → {b}"),
                            (None, Some(b)) => b.clone(),
                            (Some(a), None) => a.clone(),
                            _ => String::new(),
                        }
                    );
                }
            }
            let fd = &d.files;
            let _ = writeln!(
                s,
                "- Files: {} added, {} removed, {} changed",
                fd.added.len(),
                fd.removed.len(),
                fd.changed.len()
            );
            let mut listed = 0;
            let changed: Vec<(String, String)> = fd
                .changed
                .iter()
                .map(|c| (c.path.clone(), format!(" ({})", c.what.join(", "))))
                .collect();
            let plain = |v: &[String]| -> Vec<(String, String)> {
                v.iter().map(|p| (p.clone(), String::new())).collect()
            };
            for (verb, paths) in [
                ("added", plain(&fd.added)),
                ("removed", plain(&fd.removed)),
                ("changed", changed),
            ] {
                for (p, what) in paths {
                    if listed < PATH_LIMIT {
                        let _ = writeln!(s, "  - {verb} `/{p}`{what}");
                    }
                    listed += 1;
                }
            }
            if listed > PATH_LIMIT {
                let _ = writeln!(
                    s,
                    "  - … and {} more (run `corebuild diff {}:{pv} {}:{}`)",
                    listed - PATH_LIMIT,
                    f.name,
                    f.name,
                    f.version
                );
            }
            for c in &d.config {
                let _ = writeln!(
                    s,
                    "- Config `{}`: {} → {}",
                    c.field,
                    c.from.as_deref().unwrap_or("(unset)"),
                    c.to.as_deref().unwrap_or("(unset)")
                );
            }
            let _ = writeln!(
                s,
                "- Size: {} → {} bytes compressed ({:+})\n",
                d.size.from_total, d.size.to_total, d.size.delta
            );
        }
        _ => {
            let _ = writeln!(s, "## Changes\n\nFirst release of {}.\n", f.name);
        }
    }

    super::product::known_issues(&mut s, f);
    let _ = writeln!(s, "## Service contract\n");
    let skips = f.report.suites.iter().any(|r| !r.skipped().is_empty());
    let _ = writeln!(
        s,
        "This release passed every test {}of these suites (contract report for `{}`):\n",
        if skips { "it ran " } else { "" },
        f.report.candidate
    );
    for r in &f.report.suites {
        let _ = writeln!(
            s,
            "- `{}` {} ({} tests)",
            r.name,
            r.version,
            r.results.len()
        );
        for t in r.skipped() {
            let _ = writeln!(s, "  - skipped, so not verified: {t}");
        }
    }
    let _ = writeln!(
        s,
        "\nSee `{}-technical.md` for the contract in words, the package list and how to verify.",
        f.version
    );
    super::product::support(&mut s, f);
    s
}

/// The declared changes by kind; under security advisories also the ids the upgraded
/// packages' changelogs name, each once: an id the blueprint lists says which package
/// fixed it, the others follow it.
fn highlights(s: &mut String, f: &ReleaseFacts) {
    let _ = writeln!(s, "## Highlights\n");
    let fixes = f
        .diff
        .as_ref()
        .map(|d| d.advisories.as_slice())
        .unwrap_or(&[]);
    let found = by_advisory(fixes);
    // Declared: the id of a change, or named in its summary (a `rebuild` entry names
    // every advisory it fixes in one line).
    let declared = |id: &str| {
        f.changes.iter().any(|c| {
            c.id.as_deref().is_some_and(|d| d.eq_ignore_ascii_case(id))
                || c.summary
                    .split(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '-'))
                    .any(|w| w.eq_ignore_ascii_case(id))
        })
    };
    let fixed_by = |id: &str| {
        found
            .iter()
            .find(|(a, _)| a.eq_ignore_ascii_case(id))
            .map(|(_, fs)| fs.clone())
    };
    if f.changes.is_empty() && found.is_empty() {
        let _ = writeln!(s, "No changes were declared for this release.\n");
    }
    for k in KINDS {
        let items: Vec<_> = f.changes.iter().filter(|c| c.kind == k).collect();
        let extra: Vec<_> = match k {
            ChangeKind::Security => found.iter().filter(|(id, _)| !declared(id)).collect(),
            _ => Vec::new(),
        };
        if items.is_empty() && extra.is_empty() {
            continue;
        }
        let _ = writeln!(s, "### {}\n", kind_heading(k));
        for c in items {
            match &c.id {
                Some(id) => {
                    let by = fixed_by(id)
                        .map(|fs| format!(" (fixed by {})", who(&fs, f)))
                        .unwrap_or_default();
                    let _ = writeln!(s, "- **{}**: {}{by}", links::advisory(id), c.summary);
                }
                None => {
                    let _ = writeln!(s, "- {}", c.summary);
                }
            }
        }
        for (id, fs) in extra {
            let _ = writeln!(
                s,
                "- **{}**: fixed by {} (from its Debian changelog)",
                links::advisory(id),
                who(fs, f)
            );
        }
        s.push('\n');
    }
}

/// "`corelib` 1.0-1 → 1.0-2, `libssl3` 3.0.14-1 → 3.0.15-1", each package linked to
/// the security tracker.
fn who(fs: &[&Fix], f: &ReleaseFacts) -> String {
    fs.iter()
        .map(|x| {
            format!(
                "{} {} → {}",
                links::package(&x.package, &f.sources),
                x.old_version,
                x.new_version
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}
