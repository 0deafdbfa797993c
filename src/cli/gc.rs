//! `corebuild gc [--keep-size SIZE] [--locks DIR]... [--dry-run] [--no-wait] [--json]`.

use crate::cli::output;
use crate::cli::output::say;
use crate::cli::output::size as human;
use crate::gc::size::parse_size;
use crate::gc::{Options, Report, Wait};
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The size budget for the whole store: `20GiB`, `500MiB`, `1.5GB` or bytes. Caches
    /// leave least recently used first until the store fits; tagged content always stays.
    #[arg(long, value_name = "SIZE", value_parser = keep_size)]
    pub keep_size: Option<u64>,
    /// Keep the bases pinned by the `blueprint.lock` files under DIR; repeatable.
    #[arg(long = "locks", value_name = "DIR")]
    pub locks: Vec<PathBuf>,
    /// Report what would be removed; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Fail at once (exit 3) when a build or another command is using the store, instead
    /// of waiting for it.
    #[arg(long)]
    pub no_wait: bool,
    #[arg(long)]
    pub json: bool,
}

fn keep_size(s: &str) -> Result<u64, String> {
    parse_size(s).ok_or_else(|| {
        format!(
            "{s:?} is not a size: write bytes or a number with a unit, e.g. 20GiB, 500MiB, 1.5GB"
        )
    })
}

pub fn run(store: &Path, a: Args) -> anyhow::Result<i32> {
    let opts = Options {
        keep_size: a.keep_size,
        locks: a.locks,
        dry_run: a.dry_run,
        wait: if a.no_wait { Wait::NoWait } else { Wait::Block },
    };
    let report = crate::gc::collect(store, &opts, || {
        eprintln!(
            "waiting for the commands using {} to finish (gc --no-wait does not wait)",
            store.display()
        )
    })?;
    if a.json {
        output::json(&report)?;
    } else {
        print(&report);
    }
    Ok(0)
}

fn print(r: &Report) {
    let verb = if r.dry_run { "would remove" } else { "removed" };
    let total = r.removed.total();
    say!("{verb} {} entries, {}", total.count, human(total.bytes));
    for (name, t) in r.removed.rows().iter().filter(|(_, t)| t.count > 0) {
        say!("  {name:<20} {:>6}  {}", t.count, human(t.bytes));
    }
    let budget = r
        .budget
        .map(|b| format!(", budget {}", human(b)))
        .unwrap_or_default();
    let after = if r.dry_run {
        "after (predicted)"
    } else {
        "after"
    };
    say!(
        "store: {} before, {} {after}{budget}; kept {} blobs of {} tags and {} lock pins",
        human(r.before),
        human(r.after),
        r.kept_blobs,
        r.tags,
        r.lock_pins
    );
    if let Some(over) = r.over_budget {
        say!(
            "over budget by {}: tagged content alone is {}",
            human(over),
            human(r.tagged)
        );
    }
    for b in &r.busy {
        eprintln!(
            "warning: left {} alone: something is mounted below it",
            b.display()
        );
    }
}
