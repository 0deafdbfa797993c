//! `corebuild diff A B [--json]`: what changed between two images in the store.

use crate::cli::output;
use crate::contract;
use crate::digest::Digest;
use crate::notes::{diff_images, render_diff};
use crate::oci::{ImageRef, OciDir};
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The older image (name:version, sha256:…, oci-layout:PATH[:TAG]).
    pub from: String,
    /// The newer image.
    pub to: String,
    #[arg(long)]
    pub json: bool,
}

/// The suites (name → version) the newest stored report for `digest` passed.
pub fn passed_suites(store: &OciDir, digest: &Digest) -> anyhow::Result<BTreeMap<String, String>> {
    let mut m = BTreeMap::new();
    for r in contract::reports_for(store, digest)? {
        for s in r.suites.iter().filter(|s| s.passed()) {
            m.insert(s.name.clone(), s.version.to_string());
        }
    }
    Ok(m)
}

pub fn run(store: &Path, a: Args) -> anyhow::Result<i32> {
    let store = OciDir::open_or_create(store)?;
    let load = |r: &str| -> anyhow::Result<_> {
        let r = ImageRef::parse(r)?;
        let img = store.resolve(&r)?;
        if let ImageRef::Layout { path, .. } = &r {
            store.import_image(&OciDir::open(path)?, &img)?;
        }
        Ok(img)
    };
    let (from, to) = (load(&a.from)?, load(&a.to)?);
    let d = diff_images(
        &store,
        &from,
        &to,
        &passed_suites(&store, &from.digest)?,
        &passed_suites(&store, &to.digest)?,
    )?;
    if a.json {
        output::json(&d)?;
    } else {
        print!("{}", render_diff::render(&d));
    }
    Ok(0)
}
