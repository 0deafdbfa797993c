//! `corebuild release BLUEPRINT [--catalog C] [--channel candidate] [--locked] [--json]`:
//! the main job. Progress per stage for humans (a spinner on a terminal, plain lines
//! otherwise); a JSON summary for machines.

use crate::blueprint::{self, LoadOptions};
use crate::cli::catalog::CatalogArgs;
use crate::cli::output;
use crate::cli::output::say;
use crate::oci::OciDir;
use crate::pipeline::{self, Progress, ReleaseOptions, ReleaseSummary, Stage};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The blueprint file or its directory.
    pub blueprint: PathBuf,
    #[command(flatten)]
    pub catalog: CatalogArgs,
    /// Promote the release to this channel once published (e.g. candidate).
    #[arg(long)]
    pub channel: Option<String>,
    /// Fail unless the base and packages are pinned and the lock is current (CI mode).
    #[arg(long)]
    pub locked: bool,
    /// Where release notes go (default: release-notes/ of the project root).
    #[arg(long)]
    pub notes_dir: Option<PathBuf>,
    /// Contract suites directory (default: contract-tests/ in the nearest ancestor).
    #[arg(long)]
    pub suites: Option<PathBuf>,
    #[arg(long, default_value = "runc")]
    pub runtime: String,
    /// Tests of one suite run at most this many at once (default: the core count).
    #[arg(long, default_value_t = 0)]
    pub jobs: usize,
    /// Run the contract suites even when this candidate already passed the same suites
    /// (the same file bytes) in the same runtime; by default that stored report is reused.
    #[arg(long)]
    pub retest: bool,
    /// Accelerator for `boot` tests: tcg (default; works everywhere) or kvm.
    #[arg(long, value_enum, default_value = "tcg")]
    pub accel: crate::disk::qemu::Accel,
    #[command(flatten)]
    pub sign: crate::cli::key::SignArgs,
    /// Shared layer cache: registry:HOST[:PORT]/REPO (default: COREBUILD_CACHE).
    #[arg(long, value_name = "registry:HOST[:PORT]/REPO")]
    pub cache: Option<String>,
    #[arg(long)]
    pub json: bool,
}

/// Stage progress: a spinner per stage on a terminal, one line per stage otherwise;
/// silent with --json (stderr stays free for errors).
pub(crate) struct Reporter {
    bar: Mutex<Option<ProgressBar>>,
    tty: bool,
    quiet: bool,
}

impl Reporter {
    /// Silent when `quiet` (`--json`).
    pub(crate) fn new(quiet: bool) -> Reporter {
        Reporter {
            bar: Mutex::new(None),
            tty: std::io::stderr().is_terminal(),
            quiet,
        }
    }
}

impl Progress for Reporter {
    fn start(&self, stage: &'static str) {
        if self.quiet || !self.tty {
            return;
        }
        let pb = ProgressBar::new_spinner();
        pb.set_style(
            ProgressStyle::with_template("{spinner} {msg} {elapsed}").expect("valid template"),
        );
        pb.set_message(stage);
        pb.enable_steady_tick(std::time::Duration::from_millis(120));
        *self.bar.lock().expect("progress lock") = Some(pb);
    }

    fn finish(&self, s: &Stage) {
        if let Some(pb) = self.bar.lock().expect("progress lock").take() {
            pb.finish_and_clear();
        }
        if self.quiet {
            return;
        }
        let mark = match s.status {
            "ok" => "ok     ",
            "skipped" => "skipped",
            _ => "FAILED ",
        };
        let why = match (s.status, &s.detail) {
            ("skipped", Some(d)) => format!(" ({d})"),
            _ => String::new(),
        };
        eprintln!("{mark} {:<8} {:>7} ms{why}", s.name, s.ms);
    }
}

pub fn run(store: &Path, a: Args) -> anyhow::Result<i32> {
    let bp = blueprint::load(
        &a.blueprint,
        &LoadOptions {
            suites_dir: a.suites.clone(),
        },
    )?;
    let store = OciDir::open_or_create(store)?;
    let cat = a.catalog.open()?;
    let reporter = Reporter {
        bar: Mutex::new(None),
        tty: std::io::stderr().is_terminal(),
        quiet: a.json,
    };
    let opts = ReleaseOptions {
        locked: a.locked,
        runtime: a.runtime,
        channel: a.channel,
        notes_dir: a.notes_dir,
        jobs: a.jobs,
        source_date_epoch: std::env::var("SOURCE_DATE_EPOCH").ok(),
        accel: a.accel,
        sign_key: a.sign.load()?,
        retest: a.retest,
        cache: crate::build::registry_cache::CacheSpec::from_flag_or_env(a.cache.as_deref())?,
    };
    let mut summary = ReleaseSummary::default();
    let result = pipeline::release(&store, cat.as_ref(), &bp, &opts, &reporter, &mut summary);
    let code = match &result {
        Ok(()) => 0,
        Err(e) => crate::error::exit_code(e),
    };
    if a.json {
        let mut v = serde_json::to_value(&summary)?;
        v["exit_code"] = code.into();
        output::json(&v)?;
    }
    match result {
        Ok(()) => {
            if !a.json {
                say!(
                    "released {}:{} {}",
                    summary.name,
                    summary.version,
                    summary
                        .digest
                        .as_ref()
                        .map(|d| d.to_string())
                        .unwrap_or_default()
                );
                if let Some(r) = &summary.reference {
                    say!("  pull: {r}");
                }
                if let (Some(r), Some(t)) = (&summary.release_notes, &summary.technical_notes) {
                    say!("  notes: {}\n         {}", r.display(), t.display());
                }
                if let Some(c) = &summary.channel {
                    say!("  channel: {c}");
                }
            }
            Ok(0)
        }
        Err(e) if a.json => {
            eprintln!("error: {e:#}");
            Ok(code)
        }
        Err(e) => Err(e),
    }
}
