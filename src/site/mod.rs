//! `corebuild catalog site`: the static web catalog app teams shop from, made from the
//! catalog alone: an index of core builds, a page per core build (versions, lifecycle
//! timeline, channel history) and a page per version (notes, contract in words, the
//! searchable package list, the diff from the previous version, pull commands, and the
//! SBOM, provenance, reports, disk and signatures as files). Plain files: no server, no
//! CDN, no external script or font. The same catalog and the same `--today` give the same
//! bytes: nothing reads the clock, the host or the paths, and everything is sorted.

mod artifacts;
mod assets;
pub mod dates;
mod files;
mod gather;
pub mod html;
mod manifest;
pub mod markdown;
pub mod packages;
mod page;
pub mod timeline;
mod write;

use crate::catalog::Catalog;
use anyhow::Result;
use serde::Serialize;
use std::path::{Path, PathBuf};

pub use write::MARKER;

/// What a run wrote.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub out: PathBuf,
    pub today: String,
    pub core_builds: usize,
    pub versions: usize,
    /// HTML pages.
    pub pages: usize,
    /// Every file of the site (pages, assets, linked documents).
    pub files: usize,
    pub bytes: u64,
}

/// Generates the site of `cat` into `out` as of `today` (`YYYY-MM-DD`).
pub fn generate(cat: &dyn Catalog, out: &Path, today: &str) -> Result<Summary> {
    dates::check_today(today)?;
    let staging = write::Staging::begin(out)?;
    let files = files::Files::new(staging.root())?;
    let site = gather::gather(cat, &files, today)?;
    let (linked, mut bytes) = files.finish()?;
    let mut pages: Vec<(String, String)> = vec![("index.html".into(), page::index::render(&site))];
    for b in &site.builds {
        pages.push((page::build_path(b.name()), page::build::render(&site, b)));
        for (i, v) in b.versions.iter().enumerate() {
            if v.has_page {
                pages.push((
                    page::version_path(b.name(), &v.release.version),
                    page::version::render(&site, b, i),
                ));
            }
        }
    }
    for (rel, text) in pages
        .iter()
        .map(|(r, t)| (r.as_str(), t.as_str()))
        .chain(assets::FILES.iter().copied())
    {
        staging.write(rel, text.as_bytes())?;
        bytes += text.len() as u64;
    }
    let out = staging.finish()?;
    Ok(Summary {
        out,
        today: today.to_string(),
        core_builds: site.builds.len(),
        versions: site.builds.iter().map(|b| b.versions.len()).sum(),
        pages: pages.len(),
        files: pages.len() + assets::FILES.len() + linked + 1,
        bytes,
    })
}
