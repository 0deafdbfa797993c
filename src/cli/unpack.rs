//! `corebuild unpack REF DIR`: flatten an image with the safe apply.

use crate::build::unpack;
use crate::layer::ApplyOptions;
use crate::oci::{ImageRef, OciDir};
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
pub struct Args {
    pub reference: String,
    pub dir: PathBuf,
}

pub fn run(store: &Path, a: Args) -> anyhow::Result<i32> {
    let r = ImageRef::parse(&a.reference)?;
    let store = OciDir::open_or_create(store)?;
    let img = store.resolve(&r)?;
    if let ImageRef::Layout { path, .. } = &r {
        store.import_image(&OciDir::open(path)?, &img)?;
    }
    unpack::unpack(&store, &img, &a.dir, &ApplyOptions::default())?;
    eprintln!("unpacked {} into {}", img.digest, a.dir.display());
    Ok(0)
}
