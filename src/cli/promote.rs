//! `corebuild promote NAME:VERSION CHANNEL`, `rollback NAME CHANNEL`,
//! `deprecate NAME:VERSION --reason R`, `revoke NAME:VERSION --reason R`.

use crate::catalog::{self, CatalogRef, LifecycleOutcome};
use crate::cli::catalog::CatalogArgs;
use crate::cli::output;
use crate::cli::output::say;

#[derive(Debug, clap::Args)]
pub struct PromoteArgs {
    /// NAME:VERSION.
    pub release: String,
    /// The channel, e.g. candidate or stable.
    pub channel: String,
    #[command(flatten)]
    pub catalog: CatalogArgs,
    /// Why (recorded with the time).
    #[arg(long, default_value = "")]
    pub reason: String,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct RollbackArgs {
    pub name: String,
    pub channel: String,
    #[command(flatten)]
    pub catalog: CatalogArgs,
    #[arg(long, default_value = "")]
    pub reason: String,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// NAME:VERSION.
    pub release: String,
    #[command(flatten)]
    pub catalog: CatalogArgs,
    /// Why (shown to everyone who resolves it).
    #[arg(long)]
    pub reason: String,
    #[arg(long)]
    pub json: bool,
}

fn name_version(s: &str) -> anyhow::Result<(String, String)> {
    match CatalogRef::parse(s)? {
        CatalogRef::Version { name, version } => Ok((name, version)),
        other => Err(crate::error::input(format!(
            "{other}: name a release as NAME:VERSION"
        ))),
    }
}

fn report(o: &LifecycleOutcome, json: bool, done: String) -> anyhow::Result<i32> {
    if json {
        output::json(o)?;
    } else if o.event.is_none() {
        say!("{done} already (nothing to do)");
    } else {
        say!("{done}");
    }
    Ok(0)
}

pub fn promote(a: PromoteArgs) -> anyhow::Result<i32> {
    let (name, version) = name_version(&a.release)?;
    let cat = a.catalog.open()?;
    let o = catalog::promote(cat.as_ref(), &name, &version, &a.channel, &a.reason)?;
    let r = o.state.release(&version);
    if let Some(r) = r.filter(|r| r.status != catalog::Status::Released) {
        eprintln!("warning: {name}:{version} is {}", r.status);
    }
    let d = r.map(|r| r.digest.to_string()).unwrap_or_default();
    report(
        &o,
        a.json,
        format!("{name}@{} -> {version} ({d})", a.channel),
    )
}

pub fn rollback(a: RollbackArgs) -> anyhow::Result<i32> {
    let cat = a.catalog.open()?;
    let o = catalog::rollback(cat.as_ref(), &a.name, &a.channel, &a.reason)?;
    let now = o
        .state
        .channel(&a.channel)
        .and_then(|c| c.version.clone())
        .unwrap_or_else(|| "(empty)".into());
    report(&o, a.json, format!("{}@{} -> {now}", a.name, a.channel))
}

pub fn deprecate(a: StatusArgs) -> anyhow::Result<i32> {
    let (name, version) = name_version(&a.release)?;
    let cat = a.catalog.open()?;
    let o = catalog::deprecate(cat.as_ref(), &name, &version, &a.reason)?;
    report(&o, a.json, format!("{name}:{version} deprecated"))
}

pub fn revoke(a: StatusArgs) -> anyhow::Result<i32> {
    let (name, version) = name_version(&a.release)?;
    let cat = a.catalog.open()?;
    let o = catalog::revoke(cat.as_ref(), &name, &version, &a.reason)?;
    report(&o, a.json, format!("{name}:{version} revoked"))
}
