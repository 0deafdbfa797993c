//! `run` and `packages` layers: execute a command in the OCI runtime over an overlay of
//! the flattened layers below, and turn the overlay's upper directory into the layer.

use crate::blueprint::Layer;
use crate::build::layers::LayerContext;
use crate::build::{apt, rootfs};
use crate::layer::{self, DiffOptions, LayerInfo, LayerOptions};
use crate::runtime::{self, Network, OciRuntime, RunSpec, ScratchOverlay};
use anyhow::{Context, Result};
use oci_spec::image::Descriptor;
use std::time::Duration;

/// How long one build step may run before it is killed.
const STEP_TIMEOUT: Duration = Duration::from_secs(3600);

/// Paths never taken into a layer from a build step: kernel and runtime mounts, scratch
/// space, and the resolver file a network step gets bind-mounted.
const EXCLUDE: &[&str] = &[
    "proc",
    "sys",
    "dev",
    "run",
    "tmp",
    "var/tmp",
    "etc/resolv.conf",
    "etc/hostname",
    "etc/hosts",
];

/// Runs layer `i` and writes its blob; returns the layer and the package pins it used.
pub fn build_step(
    ctx: &LayerContext,
    i: usize,
    l: &Layer,
    pins: Option<&[(String, String)]>,
    parents: &[Descriptor],
    chain: &[String],
    opts: &LayerOptions,
) -> Result<(LayerInfo, Vec<(String, String)>)> {
    let lower = rootfs::flattened(ctx.store, parents, chain)?;
    let mut spec = RunSpec::build_step(Vec::new());
    spec.env = ctx.env.clone();
    spec.timeout = STEP_TIMEOUT;
    match l {
        Layer::Packages(requested) => {
            let script = apt::script(requested, pins.unwrap_or(&[]), opts.epoch);
            spec.args = vec!["/bin/sh".into(), "-c".into(), script];
            spec.network = Network::User;
        }
        Layer::Run(r) => {
            spec.args = r.argv.clone();
            crate::build::image::set_env(&mut spec.env, &r.env);
            spec.user = r.user.clone();
            if let Some(w) = &r.workdir {
                spec.cwd = w.clone();
            }
            spec.network = if r.network {
                Network::User
            } else {
                Network::Isolated
            };
        }
        Layer::Files(_) => unreachable!("files layers are not build steps"),
    }
    spec.stream_prefix = Some(format!("[layer {}] ", i + 1));
    let rt = runtime::from_name(ctx.runtime)?;
    let scratch = ScratchOverlay::mount(
        &[lower.as_path()],
        &ctx.store.root().join("cache/work"),
        "step-",
    )?;
    let outcome = rt.run(scratch.merged(), &spec);
    let work = scratch.close().context("unmounting the build overlay")?;
    let outcome = outcome?;

    let stdout = String::from_utf8_lossy(&outcome.stdout);
    let (resolved, missing) = apt::parse_output(&stdout);
    if !missing.is_empty() {
        let list: Vec<String> = missing.iter().map(|(n, v)| format!("{n}={v}")).collect();
        return Err(crate::error::input(format!(
            "locked package versions are no longer available from the mirror: {}; run `corebuild lock --update` to move to current versions",
            list.join(", ")
        )));
    }
    if outcome.timed_out || outcome.exit_code != Some(0) {
        let how = outcome.describe();
        return Err(crate::error::failed(format!(
            "layer {} ({}) {how}; last output:\n{}",
            i + 1,
            describe(l),
            outcome
                .tail
                .iter()
                .map(|t| format!("  | {t}"))
                .collect::<Vec<_>>()
                .join("\n")
        )));
    }

    let entries = layer::upper_to_entries(
        &work.path().join("upper"),
        &DiffOptions {
            epoch: opts.epoch,
            exclude: EXCLUDE.iter().map(|s| s.to_string()).collect(),
        },
    )
    .context("reading the layer's changes")?;
    let w = ctx.store.create_blob()?;
    let (w, info) = layer::write_layer(entries, opts, w)?;
    w.complete()?;
    let packages = match l {
        Layer::Packages(_) => resolved,
        _ => Vec::new(),
    };
    Ok((info, packages))
}

fn describe(l: &Layer) -> String {
    match l {
        Layer::Packages(p) => format!(
            "packages {}",
            p.iter()
                .map(|p| p.name.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        ),
        Layer::Run(r) => format!("run {:?}", r.argv),
        Layer::Files(_) => "files".to_string(),
    }
}
