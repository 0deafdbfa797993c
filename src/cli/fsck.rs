//! `corebuild fsck`: verify the store; exit 1 when a problem is found.

use crate::cli::output;
use crate::cli::output::say;
use crate::oci::OciDir;
use std::path::Path;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(long)]
    pub json: bool,
}

pub fn run(store: &Path, a: Args) -> anyhow::Result<i32> {
    let dir = OciDir::open(store)?;
    let report = dir.fsck()?;
    if a.json {
        output::json(&report)?;
    } else {
        for p in &report.problems {
            say!("{}: {}", p.object, p.problem);
        }
        say!(
            "{} blobs, {} references checked, {} problems",
            report.blobs_checked,
            report.references_checked,
            report.problems.len()
        );
    }
    Ok(if report.ok() { 0 } else { 1 })
}
