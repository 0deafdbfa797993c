//! `corebuild plan DIR --emit json|github-actions|gitlab-ci|k8s-job [--catalog C]
//! [--cache registry:HOST/REPO] [--image REF@sha256:…] [--insecure] [--out FILE]`: the
//! fan-out plan of a directory of blueprints for an engine teams already run.

use crate::plan::{self, Emit, PlanOptions};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The directory holding the blueprints (each subdirectory with a blueprint.toml).
    pub dir: PathBuf,
    /// The format: our JSON contract, or a file for GitHub Actions, GitLab CI or Kubernetes.
    #[arg(long, value_enum)]
    pub emit: Emit,
    /// The shared catalog the jobs publish to and resolve catalog: bases from.
    #[arg(long, env = "COREBUILD_CATALOG")]
    pub catalog: Option<String>,
    /// The jobs reach the registry over plain HTTP (loopback registries only).
    #[arg(long, env = "COREBUILD_INSECURE", value_parser = clap::builder::BoolishValueParser::new())]
    pub insecure: bool,
    /// The shared layer cache the jobs use (registry:HOST[:PORT]/REPO).
    #[arg(long, env = "COREBUILD_CACHE")]
    pub cache: Option<String>,
    /// The corebuild container image the jobs run, pinned: REF@sha256:<64 hex>.
    #[arg(long, env = "COREBUILD_IMAGE")]
    pub image: Option<String>,
    /// Write the plan here (atomically) instead of to stdout.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub fn run(a: Args) -> anyhow::Result<i32> {
    let catalog = a.catalog.ok_or_else(|| {
        crate::error::input(
            "plan needs the catalog the jobs share: pass --catalog registry:HOST[:PORT]/NAMESPACE \
             (or set COREBUILD_CATALOG)",
        )
    })?;
    let image = a.image.ok_or_else(|| {
        crate::error::input(
            "plan needs the corebuild image the jobs run: pass --image REF@sha256:<64 hex> \
             (or set COREBUILD_IMAGE)",
        )
    })?;
    let opts = PlanOptions {
        image,
        catalog,
        insecure: a.insecure,
        cache: a.cache,
    };
    let cwd = std::env::current_dir()?;
    let p = plan::plan(&a.dir, &cwd, &opts)?;
    for w in &p.warnings {
        eprintln!("warning: {w}");
    }
    let text = plan::render(&p, a.emit)?;
    match &a.out {
        Some(path) => {
            let path = if path.parent().is_some_and(|d| d.as_os_str().is_empty()) {
                std::path::Path::new(".").join(path)
            } else {
                path.clone()
            };
            crate::oci::write_atomic(&path, text.as_bytes())?;
        }
        None => crate::cli::output::text(&text),
    }
    Ok(0)
}
