//! Blueprints: the TOML schema, includes/fragments and their conflicts, validation with
//! file:line:column errors, and the lock file.
//!
//! [`load`] reads `blueprints/<name>/blueprint.toml` (raw structs in `raw`, which refuse
//! unknown keys), follows its includes, checks every value, merges fragments under the
//! blueprint, finds the contract suites it names and reads `blueprint.lock` if present.
//! What it returns is the resolved [`Blueprint`] the rest of the pipeline trusts. The only
//! I/O here is reading those files (and writing the lock, in [`write_lock`]).

mod apt;
mod check;
mod docker_ref;
mod error;
mod include;
mod lock;
mod merge;
mod model;
mod pin;
pub mod product;
mod raw;
mod suite;
mod unit;

#[cfg(test)]
mod tests;

pub use docker_ref::{parse_docker_ref, DOCKER_PREFIX};
pub use error::{display_path, BlueprintError};
pub use lock::{
    format_lock, lock_path, read_lock, write_lock, LockFile, LockedBase, LockedPackage,
    LockedSource, LockedUpgrade, LOCK_FILE_NAME, LOCK_VERSION,
};
pub use model::{
    AptSource, BaseRef, BaseSpec, Blueprint, Change, ChangeKind, ConfigSpec, DiskOutput, FileSpec,
    Layer, Lifecycle, Outputs, PackageSpec, PackagesSpec, RunSpec, SuiteRef,
};
pub use suite::{find_suites_dir, SUITES_DIR_NAME};

use crate::layer::Compression;
/// The contract module parses suite files with the same positioned errors.
pub(crate) use error::Source;
use std::path::{Path, PathBuf};

/// The file name of a blueprint inside its directory.
pub const BLUEPRINT_FILE_NAME: &str = "blueprint.toml";

/// How to load a blueprint.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// The directory holding `<suite>.toml` files. `None`: the nearest `contract-tests/`
    /// at or above the blueprint's directory.
    pub suites_dir: Option<PathBuf>,
}

/// Loads, validates and resolves a blueprint. `path` is the `blueprint.toml` or its
/// directory. The lock file is read but not compared with the blueprint here, so
/// `corebuild lock` can load a blueprint whose lock is stale; use
/// [`Blueprint::pinned_base`] and [`Blueprint::check_locked`] for that.
pub fn load(path: &Path, opts: &LoadOptions) -> Result<Blueprint, BlueprintError> {
    let file = if path.is_dir() || path.extension().is_none_or(|e| e != "toml") {
        path.join(BLUEPRINT_FILE_NAME)
    } else {
        path.to_path_buf()
    };
    let file = file.canonicalize().map_err(|e| {
        BlueprintError::file(&file, format!("cannot open blueprint: {e}")).with_hint(format!(
            "pass a {BLUEPRINT_FILE_NAME} or the directory that holds one"
        ))
    })?;
    let dir = file
        .parent()
        .expect("a canonical file path has a parent")
        .to_path_buf();
    let src = Source::read(&file)?;
    let mut raw: raw::RawBlueprint = src.parse()?;

    let name = check::name(&src, &raw.name)?;
    let version = check::version(&src, &raw.version)?;
    let base = base(&src, &raw.base, &dir)?;
    let lifecycle = model::Lifecycle {
        end_of_support: raw
            .lifecycle
            .as_ref()
            .and_then(|l| l.end_of_support.as_ref())
            .map(|d| check::date(&src, d))
            .transpose()?,
    };
    let outputs = outputs(&src, raw.outputs.as_ref())?;
    let product = product::product(&src, raw.product.as_ref())?;
    let known_issues = product::known_issues(&src, &raw.known_issue)?;

    let fragments = include::collect(&src, &raw.include)?;
    let mut sources = vec![file.clone()];
    let mut units = Vec::with_capacity(fragments.len() + 1);
    for (fsrc, fraw) in fragments {
        units.push(unit::resolve(&fsrc, fraw.into_parts(), false)?);
        sources.push(fsrc.path);
    }
    units.push(unit::resolve(&src, raw.take_parts(), true)?);
    let merged = merge::merge(units, &file)?;
    let suites = suite::resolve(&merged.suites, &dir, opts.suites_dir.as_deref())?;
    let lock = read_lock(&lock_path(&dir))?;

    Ok(Blueprint {
        path: file,
        dir,
        name,
        version,
        description: raw.description,
        epoch: raw.epoch,
        base,
        layers: merged.layers,
        config: merged.config,
        suites,
        lifecycle,
        changes: merged.changes,
        outputs,
        product,
        known_issues,
        apt_sources: merged.apt_sources,
        sources,
        lock,
    })
}

fn base(src: &Source, b: &raw::RawBase, dir: &Path) -> Result<BaseSpec, BlueprintError> {
    check::base_ref(src, &b.reference, dir)?;
    let digest = b
        .digest
        .as_ref()
        .map(|d| check::digest(src, d))
        .transpose()?;
    let (line, column) = src.line_col(b.reference.span().start);
    Ok(BaseSpec {
        reference: b.reference.get_ref().clone(),
        digest,
        declared_in: src.path.clone(),
        line,
        column,
    })
}

fn outputs(src: &Source, raw: Option<&raw::RawOutputs>) -> Result<Outputs, BlueprintError> {
    let Some(o) = raw else {
        return Ok(Outputs::default());
    };
    let compression = match &o.compression {
        None => Compression::Gzip,
        Some(c) => match c.get_ref().as_str() {
            "gzip" => Compression::Gzip,
            "zstd" => Compression::Zstd,
            other => {
                return Err(src
                    .error(c.span(), format!("unknown compression {other:?}"))
                    .with_hint("use compression = \"gzip\" (the default) or \"zstd\""))
            }
        },
    };
    let common = o
        .kernel_cmdline
        .as_ref()
        .map(|c| check::kernel_cmdline(src, c))
        .transpose()?
        .unwrap_or_default();
    let disk = |d: &raw::RawDisk| disk_output(src, d, &common);
    let qcow2 = o.qcow2.as_ref().map(disk).transpose()?;
    let raw = match o.raw.as_ref().map(|r| (r.get_ref(), r.span())) {
        None | Some((toml::Value::Boolean(false), _)) => None,
        // `raw = true`: the qcow2's size and boot mode, or `auto`.
        Some((toml::Value::Boolean(true), _)) => Some(qcow2.clone().unwrap_or(DiskOutput {
            size_bytes: None,
            boot: None,
            kernel_cmdline: common.clone(),
        })),
        Some((toml::Value::Table(t), span)) => {
            let d = raw_table(src, t, span)?;
            Some(disk(&d)?)
        }
        Some((_, span)) => {
            return Err(src
                .error(span, "raw must be true, false or a table")
                .with_hint("write raw = true (the qcow2's size and boot) or raw = { size = \"2GiB\", boot = \"bios+uefi\" }"))
        }
    };
    Ok(Outputs {
        compression,
        qcow2,
        raw,
        vhd: o.vhd.as_ref().map(disk).transpose()?,
        vmdk: o.vmdk.as_ref().map(disk).transpose()?,
    })
}

/// The `raw = { … }` table as a [`raw::RawDisk`] whose positions are the table's own.
fn raw_table(
    src: &Source,
    t: &toml::Table,
    span: std::ops::Range<usize>,
) -> Result<raw::RawDisk, BlueprintError> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Plain {
        size: Option<String>,
        boot: Option<String>,
        kernel_cmdline: Option<Vec<String>>,
    }
    let p: Plain = toml::Value::Table(t.clone())
        .try_into()
        .map_err(|e: toml::de::Error| src.error(span.clone(), format!("raw: {}", e.message())))?;
    let at = |v| toml::Spanned::new(span.clone(), v);
    Ok(raw::RawDisk {
        size: p.size.map(at),
        boot: p.boot.map(at),
        kernel_cmdline: p
            .kernel_cmdline
            .map(|c| toml::Spanned::new(span.clone(), c.into_iter().map(at).collect())),
    })
}

fn disk_output(
    src: &Source,
    d: &raw::RawDisk,
    common: &[String],
) -> Result<DiskOutput, BlueprintError> {
    let size_bytes = match &d.size {
        Some(s) if s.get_ref() != "auto" => Some(check::size(src, s)?),
        _ => None,
    };
    let boot = d
        .boot
        .as_ref()
        .map(|b| check::boot_mode(src, b))
        .transpose()?;
    let mut kernel_cmdline = common.to_vec();
    if let Some(c) = &d.kernel_cmdline {
        kernel_cmdline.extend(check::kernel_cmdline(src, c)?);
    }
    Ok(DiskOutput {
        size_bytes,
        boot,
        kernel_cmdline,
    })
}

impl BaseSpec {
    /// The reference split into its parts; relative layout paths resolve against the
    /// directory of the file that declared the base.
    pub fn parsed(&self) -> Result<BaseRef, BlueprintError> {
        let dir = self.declared_in.parent().unwrap_or(Path::new("/"));
        check::parse_base_ref(&self.reference, dir).map_err(|why| {
            BlueprintError::at(
                &self.declared_in,
                self.line,
                self.column,
                format!("invalid base ref {:?}: {why}", self.reference),
            )
        })
    }
}
