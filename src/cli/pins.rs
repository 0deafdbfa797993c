//! `corebuild pins check PATH…`: the check app teams run in their CI against the
//! references they pin (see runbook/pins.md).

use crate::catalog::CatalogSpec;
use crate::cli::catalog::CatalogArgs;
use crate::cli::output::{self, say};
use crate::pins::{self, Report};
use std::path::PathBuf;
use std::str::FromStr;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Judge the core-build references in Dockerfiles, Containerfiles, Kubernetes and
    /// Compose YAML and plain lists: exit 1 when one is revoked, past its end of support
    /// or built on a revoked base.
    Check(CheckArgs),
}

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Files or directories (directories: Dockerfile*, Containerfile*, *.yaml, *.yml,
    /// *.pins, *.list, *.txt; hidden directories skipped).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub catalog: CatalogArgs,
    /// Suggest the release on this channel.
    #[arg(long, default_value = "stable")]
    pub channel: String,
    #[arg(long)]
    pub json: bool,
    /// Rewrite the files to the suggested references (tag-only pins gain their digest).
    #[arg(long)]
    pub fix: bool,
}

pub fn run(c: Command) -> anyhow::Result<i32> {
    match c {
        Command::Check(a) => check(a),
    }
}

fn check(a: CheckArgs) -> anyhow::Result<i32> {
    crate::catalog::check_channel(&a.channel)?;
    pins::require_catalog(&CatalogSpec::from_str(&a.catalog.catalog)?)?;
    let cat = a.catalog.open()?;
    let report = pins::check(cat.as_ref(), &a.paths, &a.channel, a.fix)?;
    if a.json {
        output::json(&report)?;
    } else {
        print(&report);
    }
    Ok(report.exit_code)
}

fn print(r: &Report) {
    for f in &r.fixed {
        say!("fixed {}:{}: {} -> {}", f.file, f.line, f.from, f.to);
    }
    // Pins and unchecked build arguments, file by file in line order.
    let mut lines: Vec<(&str, usize, String)> = r
        .pins
        .iter()
        .map(|p| (p.file.as_str(), p.line, pin_line(p)))
        .collect();
    lines.extend(
        r.skipped
            .iter()
            .filter(|s| s.why.contains("build argument"))
            .map(|s| {
                let text = format!(
                    "{}:{}: {}  not checked (build argument)",
                    s.file, s.line, s.reference
                );
                (s.file.as_str(), s.line, text)
            }),
    );
    let mut files: Vec<&str> = Vec::new();
    for (f, _, _) in &lines {
        if !files.contains(f) {
            files.push(f);
        }
    }
    lines.sort_by_key(|(f, l, _)| (files.iter().position(|x| x == f), *l));
    for (_, _, text) in &lines {
        say!("{text}");
    }
    let counts: Vec<String> = r
        .summary
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(v, n)| format!("{n} {}", v.label()))
        .collect();
    say!(
        "{} pins checked against {}{}{}; {} other references not checked",
        r.pins.len(),
        r.catalog,
        if counts.is_empty() { "" } else { ": " },
        counts.join(", "),
        r.skipped.len()
    );
    if r.exit_code != 0 {
        say!("FAILED: a pinned release is revoked, past its end of support or built on a revoked base");
    }
}

fn pin_line(p: &pins::judge::Pin) -> String {
    let mut line = format!(
        "{}:{}: {}  {}",
        p.file,
        p.line,
        p.reference,
        p.verdict.label()
    );
    if let Some(why) = &p.reason {
        line += &format!("  ({why})");
    }
    if let Some(s) = &p.suggestion {
        line += &format!(" -> {s}");
    }
    line
}
