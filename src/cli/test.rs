//! `corebuild test BLUEPRINT|REF [--suite NAME]... [--junit FILE] [--json]`.

use crate::blueprint::{self, LoadOptions};
use crate::build::{self, BuildOptions};
use crate::cli::output::say;
use crate::contract::{self, testing, TestOptions};
use crate::disk::qemu::{Accel, BootOptions};
use crate::oci::{ImageRef, OciDir};
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A blueprint (file or directory: built first if needed) or an image reference.
    pub target: String,
    /// Also run this suite (repeatable); a REF runs only the suites named here.
    #[arg(long = "suite")]
    pub suites: Vec<String>,
    /// Where suites live (default: contract-tests/ of the nearest ancestor).
    #[arg(long = "suites")]
    pub suites_dir: Option<PathBuf>,
    /// Write the report as JUnit XML here.
    #[arg(long)]
    pub junit: Option<PathBuf>,
    /// Tests of one suite run at most this many at once (default: the core count).
    #[arg(long, default_value_t = 0)]
    pub jobs: usize,
    #[arg(long, default_value = "runc")]
    pub runtime: String,
    /// How `boot` tests run qemu: tcg (software emulation, the default) or kvm.
    #[arg(long, value_enum, default_value_t = Accel::Tcg)]
    pub accel: Accel,
    /// Build with --locked (CI mode).
    #[arg(long)]
    pub locked: bool,
    #[arg(long)]
    pub json: bool,
}

pub fn run(store: &Path, a: Args) -> anyhow::Result<i32> {
    let store = OciDir::open_or_create(store)?;
    let path = Path::new(&a.target);
    let mut disk = crate::blueprint::DiskOutput::default();
    let (digest, mut suites, dir) = if path.exists() {
        let bp = blueprint::load(
            path,
            &LoadOptions {
                suites_dir: a.suites_dir.clone(),
            },
        )?;
        let opts = BuildOptions {
            locked: a.locked,
            runtime: a.runtime.clone(),
            source_date_epoch: std::env::var("SOURCE_DATE_EPOCH").ok(),
            ..BuildOptions::new()
        };
        let outcome = build::build(&store, &bp, &opts)?;
        if let Some(q) = &bp.outputs.qcow2 {
            disk = q.clone();
        }
        let dir = a
            .suites_dir
            .clone()
            .or_else(|| blueprint::find_suites_dir(&bp.dir));
        (outcome.digest, contract::load_suites(&bp.suites)?, dir)
    } else {
        let img = store.resolve(&ImageRef::parse(&a.target)?)?;
        if a.suites.is_empty() {
            return Err(crate::error::input(format!(
                "{} is an image reference: name the suites to run with --suite NAME",
                a.target
            )));
        }
        let cwd = std::env::current_dir()?;
        (
            img.digest,
            Vec::new(),
            a.suites_dir
                .clone()
                .or_else(|| blueprint::find_suites_dir(&cwd)),
        )
    };
    if !a.suites.is_empty() {
        let dir = dir.ok_or_else(|| {
            crate::error::input("no contract-tests/ directory found; pass --suites DIR")
        })?;
        for s in testing::named_suites(&dir, &a.suites)? {
            if !suites.iter().any(|have| have.name == s.name) {
                suites.push(s);
            }
        }
    }
    let report = testing::test_candidate(
        &store,
        &digest,
        &suites,
        &TestOptions {
            runtime: a.runtime,
            jobs: a.jobs,
            boot: BootOptions {
                accel: a.accel,
                ..BootOptions::default()
            },
            disk,
        },
    )?;
    if let Some(j) = &a.junit {
        crate::oci::write_atomic(j, report.to_junit().as_bytes())?;
    }
    if a.json {
        say!("{}", report.to_json());
    } else {
        crate::cli::output::text(&report.to_text());
    }
    Ok(report.exit_code())
}
