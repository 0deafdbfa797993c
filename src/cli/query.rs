//! `corebuild query (--package NAME [--version C] | --file PATH | --cve ID) [--json]`:
//! which released versions of which core builds carry a package, a file or a CVE, read
//! from the SBOM and VEX documents attached in the catalog.

use crate::advisory::cache::BlobCache;
use crate::advisory::gather;
use crate::advisory::query::{self, Match, Query};
use crate::cli::catalog::CatalogArgs;
use crate::cli::output;
use crate::cli::output::say;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("selector").required(true).args(["package", "file", "cve"])))]
pub struct Args {
    /// A Debian package name (`pkg` or `pkg:arch`).
    #[arg(long)]
    pub package: Option<String>,
    /// Only versions of the package within this constraint, in Debian version order
    /// (e.g. `<< 1.0-2`, `>= 2.36`).
    #[arg(long = "version", id = "constraint", value_name = "CONSTRAINT", conflicts_with_all = ["file", "cve"])]
    pub version: Option<String>,
    /// An absolute path in the image (e.g. /usr/lib/libcore.so.1).
    #[arg(long)]
    pub file: Option<String>,
    /// A vulnerability id (CVE-…, DSA-…, DLA-…).
    #[arg(long)]
    pub cve: Option<String>,
    #[command(flatten)]
    pub catalog: CatalogArgs,
    /// Read every document from the catalog, not from the store's cache.
    #[arg(long)]
    pub no_cache: bool,
    #[arg(long)]
    pub json: bool,
}

/// The `--json` output.
#[derive(Serialize)]
struct Answer<'a> {
    query: BTreeMap<&'static str, String>,
    catalog: String,
    /// Releases whose documents were read.
    releases: usize,
    matches: &'a [Match],
    warnings: &'a [String],
}

fn selector(a: &Args) -> anyhow::Result<Query> {
    match (&a.package, &a.file, &a.cve) {
        (Some(p), None, None) => Query::package(p, a.version.as_deref()),
        (None, Some(f), None) => Query::file(f),
        (None, None, Some(c)) => Query::cve(c),
        _ => Err(crate::error::input(
            "give exactly one of --package, --file, --cve",
        )),
    }
}

pub fn run(store: &Path, a: Args) -> anyhow::Result<i32> {
    let q = selector(&a)?;
    let cat = a.catalog.open()?;
    let cache = if a.no_cache {
        BlobCache::none()
    } else {
        BlobCache::under(store)
    };
    let g = gather::gather(cat.as_ref(), &cache, q.needs_vex())?;
    let matches = query::find(&q, &g.releases);
    for w in &g.warnings {
        eprintln!("warning: {w}");
    }
    if a.json {
        output::json(&Answer {
            query: q.view(),
            catalog: cat.location(),
            releases: g.releases.len(),
            matches: &matches,
            warnings: &g.warnings,
        })?;
        return Ok(0);
    }
    table(&matches, g.releases.len(), &cat.location());
    Ok(0)
}

fn table(matches: &[Match], releases: usize, location: &str) {
    if matches.is_empty() {
        say!("no match in {releases} releases of {location}");
        return;
    }
    let rows: Vec<[String; 7]> = matches
        .iter()
        .map(|m| {
            let status = match &m.reason {
                Some(r) if m.status != crate::catalog::Status::Released => {
                    format!("{} ({r})", m.status)
                }
                _ => m.status.to_string(),
            };
            [
                m.name.clone(),
                m.version.clone(),
                status,
                dash(m.channels.join(",")),
                dash(m.end_of_support.clone().unwrap_or_default()),
                m.digest.hex()[..12].to_string(),
                m.matched.summary(),
            ]
        })
        .collect();
    let head = [
        "NAME", "VERSION", "STATUS", "CHANNELS", "SUPPORT", "DIGEST", "MATCH",
    ];
    let mut width = head.map(str::len);
    for r in &rows {
        for (w, c) in width.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: [&str; 7]| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i == 6 {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<w$}  ", w = width[i]));
            }
        }
        s
    };
    say!("{}", line(head));
    for r in &rows {
        say!("{}", line(r.each_ref().map(String::as_str)));
    }
    say!(
        "{} match(es) in {releases} releases of {location}",
        matches.len()
    );
}

fn dash(s: String) -> String {
    if s.is_empty() {
        "-".into()
    } else {
        s
    }
}
