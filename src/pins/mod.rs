//! `pins check`: find the references app teams pin to the catalog's core builds in their
//! Dockerfiles, Containerfiles, Kubernetes and Compose YAML and plain lists; judge each
//! against the catalog (ok, deprecated, revoked, end-of-life, base revoked, unknown, tag
//! only); suggest the release on a channel; and with `--fix` rewrite the files to the
//! suggestions, every other byte kept. See runbook/pins.md.

pub mod find;
pub mod fix;
pub mod judge;
pub mod reference;
pub mod walk;

use crate::catalog::view::View;
use crate::catalog::{Catalog, CatalogSpec};
use anyhow::Result;
use judge::{Judge, Judged, Pin, Skipped, Verdict};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;
use walk::Target;

/// What `pins check` found, judged (after `--fix`, the files as they are now).
#[derive(Debug, Serialize)]
pub struct Report {
    pub catalog: String,
    pub channel: String,
    pub pins: Vec<Pin>,
    /// References (and files) not checked, with why.
    pub skipped: Vec<Skipped>,
    /// What `--fix` changed.
    pub fixed: Vec<Fixed>,
    /// How many pins got each verdict (every verdict present).
    pub summary: BTreeMap<Verdict, usize>,
    /// 1 when a pin is revoked, end-of-life or base-revoked, else 0.
    pub exit_code: i32,
}

/// One reference `--fix` rewrote.
#[derive(Debug, Clone, Serialize)]
pub struct Fixed {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub from: String,
    pub to: String,
}

/// A layout catalog must exist: checking pins against an empty catalog made on the spot
/// would pass everything (exit 3, like an unreachable registry).
pub fn require_catalog(spec: &CatalogSpec) -> Result<()> {
    match spec {
        CatalogSpec::Layout(p) if !p.join("index.json").is_file() => {
            Err(crate::error::environment(format!(
                "no catalog at {} (an OCI layout with index.json); name it with --catalog",
                p.display()
            )))
        }
        _ => Ok(()),
    }
}

/// Checks the files under `paths` against `cat`, suggesting releases on `channel`;
/// with `fix`, rewrites them first.
pub fn check(
    cat: &dyn Catalog,
    paths: &[std::path::PathBuf],
    channel: &str,
    fix: bool,
) -> Result<Report> {
    crate::catalog::check_channel(channel)?;
    let targets = walk::collect(paths)?;
    let view = View::load(cat, None)?;
    let judge = Judge::new(cat, &view, channel);
    let mut report = Report {
        catalog: cat.location(),
        channel: channel.to_string(),
        pins: Vec::new(),
        skipped: Vec::new(),
        fixed: Vec::new(),
        summary: Verdict::ALL.iter().map(|v| (*v, 0)).collect(),
        exit_code: 0,
    };
    for t in &targets {
        let Some(text) = read(t, &mut report.skipped)? else {
            continue;
        };
        let mut judged = judge_text(&judge, t, &text);
        if fix {
            if let Some(fixed) = fix_file(t, &text, &judged.0)? {
                report.fixed.extend(fixed.1);
                judged = judge_text(&judge, t, &fixed.0);
            }
        }
        report.pins.extend(judged.0);
        report.skipped.extend(judged.1);
    }
    for p in &report.pins {
        *report.summary.entry(p.verdict).or_default() += 1;
    }
    report.exit_code = i32::from(report.pins.iter().any(|p| p.verdict.fails()));
    Ok(report)
}

/// The text of a target; a file that cannot be read is an error when it was named, and
/// skipped (with why) when a directory walk found it.
fn read(t: &Target, skipped: &mut Vec<Skipped>) -> Result<Option<String>> {
    let why = match std::fs::metadata(&t.path) {
        Ok(m) if m.len() > walk::MAX_FILE_BYTES => {
            format!("larger than {} MiB", walk::MAX_FILE_BYTES >> 20)
        }
        Ok(_) => match std::fs::read(&t.path) {
            Ok(b) => match String::from_utf8(b) {
                Ok(s) => return Ok(Some(s)),
                Err(_) => "not UTF-8 text".to_string(),
            },
            Err(e) => e.to_string(),
        },
        Err(e) => e.to_string(),
    };
    if t.explicit {
        return Err(crate::error::input(format!("{}: {why}", t.path.display())));
    }
    skipped.push(Skipped {
        file: t.path.display().to_string(),
        line: 0,
        column: 0,
        reference: String::new(),
        why: format!("file not read: {why}"),
    });
    Ok(None)
}

fn judge_text(judge: &Judge, t: &Target, text: &str) -> (Vec<Pin>, Vec<Skipped>) {
    let mut pins = Vec::new();
    let mut skipped = Vec::new();
    for f in find::find(t.syntax, text) {
        match judge.judge(&t.path, &f) {
            Judged::Pin(p) => pins.push(p),
            Judged::Skipped(s) => skipped.push(s),
        }
    }
    (pins, skipped)
}

/// Rewrites the pins of one file that have a suggestion; `None` when nothing changes.
fn fix_file(t: &Target, text: &str, pins: &[Pin]) -> Result<Option<(String, Vec<Fixed>)>> {
    let mut edits = Vec::new();
    let mut fixed = Vec::new();
    for p in pins {
        let (Some(span), Some(to)) = (&p.span, &p.suggestion) else {
            continue;
        };
        if p.verdict == Verdict::Ok || *to == p.reference {
            continue;
        }
        edits.push(fix::Edit {
            span: span.clone(),
            to: to.clone(),
        });
        fixed.push(Fixed {
            file: p.file.clone(),
            line: p.line,
            column: p.column,
            from: p.reference.clone(),
            to: to.clone(),
        });
    }
    if edits.is_empty() {
        return Ok(None);
    }
    let new = fix::apply(text, &edits);
    fix::write(Path::new(&t.path), new.as_bytes())?;
    Ok(Some((new, fixed)))
}
