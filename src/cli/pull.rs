//! `corebuild pull REF --out DIR`: a release into an OCI layout, every digest verified.

use crate::catalog::{self, CatalogRef};
use crate::cli::catalog::CatalogArgs;
use crate::cli::output;
use crate::cli::output::say;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// NAME:VERSION, NAME@CHANNEL or NAME@sha256:….
    pub reference: String,
    /// The OCI layout to write (created when missing); tagged VERSION and NAME:VERSION.
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub catalog: CatalogArgs,
    #[arg(long)]
    pub allow_revoked: bool,
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: Args) -> anyhow::Result<i32> {
    let cat = a.catalog.open()?;
    let r = CatalogRef::parse(&a.reference)?;
    let o = catalog::pull(cat.as_ref(), &r, &a.out, a.allow_revoked)?;
    for w in &o.resolved.warnings {
        eprintln!("warning: {w}");
    }
    if a.json {
        output::json(&o)?;
    } else {
        say!(
            "pulled {} into {} (tags {})",
            o.resolved.pinned,
            o.out.display(),
            o.tags.join(", ")
        );
    }
    Ok(0)
}
