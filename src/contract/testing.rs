//! `corebuild test` as a library call: unpack the candidate once, run the suites on the
//! OCI runtime, store the report beside the candidate, and return it.

use crate::contract::{
    load_suite, run_suites, store_report, Candidate, ContractReport, RunOptions, RuntimeExecutor,
    Suite,
};
use crate::digest::Digest;
use crate::disk::qemu::VmTarget;
use crate::oci::OciDir;
use anyhow::{Context, Result};
use std::path::Path;

pub struct TestOptions {
    pub runtime: String,
    pub jobs: usize,
    /// How `boot` tests run qemu.
    pub boot: crate::disk::qemu::BootOptions,
    /// The disk made for `boot` tests when the store has none yet (the blueprint's
    /// `[outputs] qcow2`, or `auto` with the default boot mode).
    pub disk: crate::blueprint::DiskOutput,
}

/// Loads suites named on the command line from `dir` (`<dir>/<name>.toml`).
pub fn named_suites(dir: &Path, names: &[String]) -> Result<Vec<Suite>> {
    names
        .iter()
        .map(|n| {
            let path = dir.join(format!("{n}.toml"));
            if !path.is_file() {
                return Err(crate::error::input(format!(
                    "no contract suite {n:?}: {} does not exist",
                    path.display()
                )));
            }
            Ok(load_suite(&path)?)
        })
        .collect()
}

/// The candidate's flattened tree: the store's tree for its chain of layers (shared
/// with the build and the disk export), made from the nearest tree below it when there
/// is none. Read-only to tests: each command test gets its own overlay over it.
pub fn unpacked(store: &OciDir, digest: &Digest) -> Result<Candidate> {
    let image = store
        .find_image(None, Some(digest))?
        .ok_or_else(|| crate::error::input(format!("candidate {digest} is not in the store")))?;
    let rootfs = crate::build::rootfs::flattened(
        store,
        image.manifest.layers(),
        image.config.rootfs().diff_ids(),
    )
    .with_context(|| format!("unpacking candidate {digest}"))?;
    Ok(Candidate {
        digest: digest.clone(),
        rootfs,
        config: image.config,
        vm: None,
    })
}

/// Whether any test of `suites` boots the candidate: a boot test, or (for a VM core
/// build) a command test of a suite with the `vm` target.
fn boots(suites: &[Suite], candidate: &Candidate) -> bool {
    use crate::contract::Check;
    let has = |f: &dyn Fn(&Suite, &Check) -> bool| {
        suites
            .iter()
            .any(|s| s.tests.iter().any(|t| f(s, &t.check)))
    };
    has(&|_, c| matches!(c, Check::Boot(_)))
        || (has(&|s, c| {
            matches!(c, Check::Command(_)) && s.targets.contains(&crate::contract::Target::Vm)
        }) && candidate.is_vm())
}

/// The candidate's qcow2 disk for `boot` tests and the `vm` target: the stored one, or
/// one made now (from the unpacked candidate) and stored beside it. Its boot mode says
/// which firmware it boots under.
fn vm_target(store: &OciDir, candidate: &Candidate, opts: &TestOptions) -> Result<VmTarget> {
    let image = store
        .find_image(None, Some(&candidate.digest))?
        .ok_or_else(|| {
            crate::error::input(format!(
                "candidate {} is not in the store",
                candidate.digest
            ))
        })?;
    let disk = crate::disk::export(
        store,
        &image,
        &crate::disk::ExportOptions {
            rootfs: Some(candidate.rootfs.clone()),
            ..crate::disk::ExportOptions::for_output(crate::disk::Format::Qcow2, &opts.disk)
        },
    )
    .context("making the VM disk for the boot tests")?;
    Ok(VmTarget {
        disk: disk.path,
        format: disk.format,
        rootfs: candidate.rootfs.clone(),
        boot: disk.boot,
        root_partuuid: disk.ids.map(|i| i.partition_guid),
        work: store.root().join("cache/work"),
        options: opts.boot.clone(),
    })
}

/// Runs `suites` against the stored image `digest` and stores the report.
pub fn test_candidate(
    store: &OciDir,
    digest: &Digest,
    suites: &[Suite],
    opts: &TestOptions,
) -> Result<ContractReport> {
    crate::runtime::sweep_stale().context("cleaning up after earlier runs")?;
    let t = crate::profile::span(|| "test: the candidate's tree".into());
    let mut candidate = unpacked(store, digest)?;
    drop(t);
    if boots(suites, &candidate) {
        candidate.vm = Some(vm_target(store, &candidate, opts)?);
    }
    let env = candidate
        .config
        .config()
        .as_ref()
        .and_then(|c| c.env().clone())
        .unwrap_or_default();
    let exec = RuntimeExecutor::new(&opts.runtime, &store.root().join("cache/work"), env)?;
    let _t = crate::profile::span(|| "test: run the suites".into());
    let report = run_suites(&candidate, suites, &exec, &RunOptions { jobs: opts.jobs });
    store_report(store, &report)?;
    Ok(report)
}
