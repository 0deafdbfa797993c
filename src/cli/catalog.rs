//! `corebuild catalog list [NAME]`, `catalog resolve REF`, `catalog artifacts REF`,
//! `catalog site --out DIR` (the static web catalog, `crate::site`), and
//! the `--catalog`/`--insecure` options every catalog command shares.

use crate::catalog::view::ListedState;
use crate::catalog::{self, Catalog, CatalogRef, OpenOptions, DEFAULT_CATALOG};
use crate::cli::output;
use crate::cli::output::say;
use crate::digest::Digest;
use std::io::Write;

/// Where the catalog is.
#[derive(Debug, Clone, clap::Args)]
pub struct CatalogArgs {
    /// oci-layout:PATH or registry:HOST[:PORT]/NAMESPACE.
    #[arg(long, env = "COREBUILD_CATALOG", default_value = DEFAULT_CATALOG)]
    pub catalog: String,
    /// Plain HTTP to the registry (loopback hosts only).
    #[arg(long, env = "COREBUILD_INSECURE", value_parser = clap::builder::BoolishValueParser::new())]
    pub insecure: bool,
}

impl CatalogArgs {
    pub fn open(&self) -> anyhow::Result<Box<dyn Catalog>> {
        catalog::open_str(
            &self.catalog,
            &OpenOptions {
                insecure: self.insecure,
                retry: None,
            },
        )
    }
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Versions, digests, status, channels and support dates.
    List(ListArgs),
    /// Print the pinned NAME@sha256:… of NAME:VERSION, NAME@CHANNEL or NAME@sha256:….
    Resolve(ResolveArgs),
    /// The artifacts attached to a release (contract reports, SBOM, provenance, OpenVEX, notes, disks).
    Artifacts(ArtifactsArgs),
    /// The releases built on a release, transitively (nearest first).
    Dependents(DependentsArgs),
    /// Write the static web catalog (HTML pages and files) into a directory.
    Site(SiteArgs),
}

#[derive(Debug, clap::Args)]
pub struct SiteArgs {
    /// The directory to write (replaced when it is empty or a site made by this command).
    #[arg(long)]
    pub out: std::path::PathBuf,
    #[command(flatten)]
    pub catalog: CatalogArgs,
    /// Render status, end of life and days left as of this date (YYYY-MM-DD; default: today, UTC).
    #[arg(long)]
    pub today: Option<String>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    pub name: Option<String>,
    #[command(flatten)]
    pub catalog: CatalogArgs,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct ResolveArgs {
    /// NAME:VERSION, NAME@CHANNEL or NAME@sha256:….
    pub reference: String,
    #[command(flatten)]
    pub catalog: CatalogArgs,
    /// Resolve a revoked release anyway (with a warning), e.g. to inspect it.
    #[arg(long)]
    pub allow_revoked: bool,
    /// Fail (exit 1) when the release is built on a revoked base, instead of warning.
    #[arg(long)]
    pub strict: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct ArtifactsArgs {
    /// NAME:VERSION, NAME@CHANNEL or NAME@sha256:….
    pub reference: String,
    #[command(flatten)]
    pub catalog: CatalogArgs,
    /// Only artifacts of this type (e.g. application/spdx+json).
    #[arg(long = "type")]
    pub artifact_type: Option<String>,
    /// Print the content (first layer) of the one matching artifact instead of a list.
    #[arg(long, requires = "artifact_type")]
    pub content: bool,
    #[arg(long)]
    pub json: bool,
}

pub fn run(c: Command) -> anyhow::Result<i32> {
    match c {
        Command::List(a) => list(a),
        Command::Resolve(a) => resolve(a),
        Command::Artifacts(a) => artifacts(a),
        Command::Dependents(a) => dependents(a),
        Command::Site(a) => site(a),
    }
}

fn list(a: ListArgs) -> anyhow::Result<i32> {
    let cat = a.catalog.open()?;
    let view = catalog::view::View::load(cat.as_ref(), a.name.as_deref())?;
    let listing = view.listing();
    if a.json {
        output::json(&listing)?;
        return Ok(0);
    }
    if listing.is_empty() {
        say!("no releases in {}", cat.location());
    }
    for s in &listing {
        print_state(s);
    }
    Ok(0)
}

fn print_state(s: &ListedState) {
    say!("{}", s.name);
    if s.releases.is_empty() {
        say!("  (no releases)");
    }
    for l in &s.releases {
        let r = l.release;
        say!(
            "  {:<12} {:<12} released {}  support until {}  {}{}",
            r.version,
            r.status.to_string(),
            r.released.get(..10).unwrap_or(&r.released),
            r.end_of_support.as_deref().unwrap_or("-"),
            r.digest,
            if r.channels.is_empty() {
                String::new()
            } else {
                format!("  [{}]", r.channels.join(", "))
            }
        );
        if let Some(why) = &l.base_revoked {
            say!("  {:<12} {why}", "");
        }
    }
    for ch in s.channels {
        match (&ch.version, &ch.digest) {
            (Some(v), Some(d)) => say!("  @{:<11} -> {v} ({d})", ch.name),
            _ => say!("  @{:<11} -> (empty)", ch.name),
        }
    }
}

fn resolve(a: ResolveArgs) -> anyhow::Result<i32> {
    let cat = a.catalog.open()?;
    let mut r = catalog::resolve(
        cat.as_ref(),
        &CatalogRef::parse(&a.reference)?,
        a.allow_revoked,
    )?;
    r.require_signed(cat.as_ref())?;
    if let (true, Some(why)) = (a.strict, &r.base_revoked) {
        return Err(crate::error::failed(format!(
            "{}: {why} (--strict)",
            r.pinned
        )));
    }
    for w in &r.warnings {
        eprintln!("warning: {w}");
    }
    if a.json {
        output::json(&r)?;
    } else {
        say!("{}", r.pinned);
    }
    Ok(0)
}

#[derive(Debug, clap::Args)]
pub struct DependentsArgs {
    /// NAME:VERSION, NAME@CHANNEL or NAME@sha256:… (revoked releases included).
    pub reference: String,
    #[command(flatten)]
    pub catalog: CatalogArgs,
    #[arg(long)]
    pub json: bool,
}

fn dependents(a: DependentsArgs) -> anyhow::Result<i32> {
    let cat = a.catalog.open()?;
    let r = catalog::resolve(cat.as_ref(), &CatalogRef::parse(&a.reference)?, true)?;
    let found = catalog::view::View::load(cat.as_ref(), None)?.dependents(&r.digest);
    if a.json {
        output::json(&serde_json::json!({ "release": r.pinned, "dependents": found }))?;
    } else if found.is_empty() {
        say!("no release is built on {}", r.pinned);
    } else {
        for d in &found {
            say!(
                "{}{}:{} {} (on {})",
                "  ".repeat(d.depth - 1),
                d.name,
                d.version,
                d.digest,
                d.base
            );
        }
    }
    Ok(0)
}

fn artifacts(a: ArtifactsArgs) -> anyhow::Result<i32> {
    let cat = a.catalog.open()?;
    let r = catalog::resolve(cat.as_ref(), &CatalogRef::parse(&a.reference)?, true)?;
    let found = cat.referrers(&r.name, &r.digest, a.artifact_type.as_deref())?;
    if a.content {
        let [one] = found.as_slice() else {
            return Err(crate::error::input(format!(
                "{} has {} artifacts of type {}; --content needs exactly one",
                r.pinned,
                found.len(),
                a.artifact_type.as_deref().unwrap_or("?")
            )));
        };
        let (_, bytes) =
            catalog::read_artifact_layer(cat.as_ref(), &r.name, &Digest::try_from(one.digest())?)?;
        std::io::stdout().write_all(&bytes)?;
        return Ok(0);
    }
    if a.json {
        output::json(&found)?;
        return Ok(0);
    }
    for d in &found {
        say!(
            "{}  {}",
            d.digest(),
            d.artifact_type()
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default()
        );
    }
    Ok(0)
}

fn site(a: SiteArgs) -> anyhow::Result<i32> {
    let cat = a.catalog.open()?;
    let today = a.today.unwrap_or_else(catalog::today);
    let s = crate::site::generate(cat.as_ref(), &a.out, &today)?;
    if a.json {
        output::json(&s)?;
    } else {
        say!(
            "wrote the web catalog of {} core builds, {} versions to {} ({} pages, {} files, {} bytes, as of {})",
            s.core_builds,
            s.versions,
            s.out.display(),
            s.pages,
            s.files,
            s.bytes,
            s.today
        );
    }
    Ok(0)
}
