//! `corebuild inspect REF` and `corebuild images`: what is in the store.

use crate::cli::output;
use crate::cli::output::say;
use crate::digest::Digest;
use crate::oci::{ImageRef, OciDir};
use std::path::Path;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// name:version, sha256:…, name@sha256:… or oci-layout:PATH[:TAG].
    pub reference: String,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct ImagesArgs {
    #[arg(long)]
    pub json: bool,
    /// Also list attached artifacts (contract reports, `sha256-<hex>.*` tags).
    #[arg(long)]
    pub all: bool,
}

pub fn run(store: &Path, a: Args) -> anyhow::Result<i32> {
    let r = ImageRef::parse(&a.reference)?;
    let dir = match &r {
        ImageRef::Layout { .. } => OciDir::open_or_create(store)?,
        _ => OciDir::open(store)?,
    };
    let img = dir.resolve(&r)?;
    if a.json {
        output::json(&serde_json::json!({
            "reference": a.reference,
            "digest": img.digest,
            "manifest": img.manifest,
            "config": img.config,
        }))?;
        return Ok(0);
    }
    say!("{}  {}", a.reference, img.digest);
    say!(
        "  platform: {}/{}   created: {}",
        img.config.os(),
        img.config.architecture(),
        img.config.created().as_deref().unwrap_or("-")
    );
    if let Some(c) = img.config.config() {
        if let Some(e) = c.entrypoint() {
            say!("  entrypoint: {e:?}");
        }
        if let Some(cmd) = c.cmd() {
            say!("  cmd: {cmd:?}");
        }
        if let Some(u) = c.user() {
            say!("  user: {u}");
        }
        for e in c.env().iter().flatten() {
            say!("  env: {e}");
        }
        let mut labels: Vec<_> = c.labels().iter().flatten().collect();
        labels.sort();
        for (k, v) in labels {
            say!("  label: {k}={v}");
        }
    }
    let diff_ids = img.config.rootfs().diff_ids();
    let history = img.config.history().clone().unwrap_or_default();
    let history: Vec<_> = history
        .iter()
        .filter(|h| !h.empty_layer().unwrap_or(false))
        .collect();
    say!("  layers:");
    for (i, l) in img.manifest.layers().iter().enumerate() {
        let by = history
            .get(i)
            .and_then(|h| h.created_by().clone())
            .unwrap_or_default();
        say!(
            "    {i}: {} {:>10}  diff_id {}  {}",
            l.digest(),
            output::size(l.size()),
            diff_ids.get(i).map(String::as_str).unwrap_or("?"),
            by
        );
    }
    Ok(0)
}

pub fn images(store: &Path, a: ImagesArgs) -> anyhow::Result<i32> {
    let dir = OciDir::open_or_create(store)?;
    let tags = dir.tags()?;
    let rows: Vec<_> = tags
        .iter()
        .filter(|(t, _)| a.all || !t.starts_with("sha256-"))
        .map(|(t, d)| (t.clone(), Digest::try_from(d.digest()), d.size()))
        .collect();
    if a.json {
        let v: Vec<_> = rows
            .iter()
            .map(|(t, d, s)| serde_json::json!({"tag": t, "digest": d.as_ref().ok(), "size": s}))
            .collect();
        output::json(&v)?;
    } else {
        for (t, d, _) in rows {
            say!(
                "{t}\t{}",
                d.map(|d| d.to_string()).unwrap_or_else(|e| e.to_string())
            );
        }
    }
    Ok(0)
}
