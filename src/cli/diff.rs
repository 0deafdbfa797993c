//! `corebuild diff A B [--json]`: what changed between two images in the store.

use crate::cli::output;
use crate::notes::{diff_images, render_diff};
use crate::oci::{ImageRef, OciDir};
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
        &crate::notes::diff::passed_suites(&store, &from.digest)?,
        &crate::notes::diff::passed_suites(&store, &to.digest)?,
    )?;
    if a.json {
        output::json(&d)?;
    } else {
        crate::cli::output::text(&render_diff::render(&d));
    }
    Ok(0)
}
