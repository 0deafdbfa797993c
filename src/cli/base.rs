//! `corebuild base import (--rootfs DIR|TAR | --oci-layout DIR[:TAG] | --registry REF)
//! --name N --version V`.

use crate::build::import::{self, ImportOptions};
use crate::build::registry_base;
use crate::cli::output;
use crate::cli::output::say;
use crate::layer::Compression;
use crate::oci::OciDir;
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Put a known-good base into the store and print its digest.
    Import(ImportArgs),
}

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["rootfs", "oci_layout", "registry"])))]
pub struct ImportArgs {
    /// A root filesystem: a directory, or a tarball (plain, gzip or zstd).
    #[arg(long)]
    pub rootfs: Option<PathBuf>,
    /// An image in an OCI layout: DIR or DIR:TAG.
    #[arg(long)]
    pub oci_layout: Option<String>,
    /// An image in a registry: docker://HOST[:PORT]/REPO:TAG (or @sha256:HEX), or the same
    /// without docker://; a multi-platform index gives this machine's linux image.
    #[arg(long)]
    pub registry: Option<String>,
    #[arg(long)]
    pub name: String,
    #[arg(long)]
    pub version: String,
    /// Layer compression for --rootfs.
    #[arg(long, value_enum, default_value = "gzip")]
    pub compression: CompressionArg,
    /// Timestamp for mtimes and `created` (default: SOURCE_DATE_EPOCH, else mtimes kept and created = 0).
    #[arg(long)]
    pub epoch: Option<u64>,
    /// Image architecture (default: this machine's).
    #[arg(long)]
    pub arch: Option<String>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum CompressionArg {
    Gzip,
    Zstd,
}

pub fn run(store: &Path, c: Command) -> anyhow::Result<i32> {
    let Command::Import(a) = c;
    check_name(&a.name, &a.version)?;
    let store = OciDir::open_or_create(store)?;
    if let Some(r) = &a.registry {
        return import_registry(&store, r, &a);
    }
    let epoch = match (a.epoch, std::env::var("SOURCE_DATE_EPOCH").ok()) {
        (Some(e), _) => Some(e),
        (None, Some(s)) => Some(s.trim().parse::<u64>().map_err(|_| {
            crate::error::input(format!(
                "SOURCE_DATE_EPOCH={s:?} is not a whole number of seconds"
            ))
        })?),
        (None, None) => None,
    };
    let opts = ImportOptions {
        name: a.name.clone(),
        version: a.version.clone(),
        compression: match a.compression {
            CompressionArg::Gzip => Compression::Gzip,
            CompressionArg::Zstd => Compression::Zstd,
        },
        epoch,
        arch: a
            .arch
            .clone()
            .unwrap_or_else(|| import::host_arch().to_string()),
    };
    let imported = match (&a.rootfs, &a.oci_layout) {
        (Some(p), None) if p.is_dir() => import::import_rootfs_dir(&store, p, &opts)?,
        (Some(p), None) if p.is_file() => import::import_rootfs_tar(&store, p, &opts)?,
        (Some(p), None) => {
            return Err(crate::error::input(format!(
                "--rootfs {}: no such directory or tarball",
                p.display()
            )))
        }
        (None, Some(l)) => import::import_layout(&store, l, &a.name, &a.version)?,
        _ => unreachable!("clap requires exactly one source"),
    };
    if a.json {
        output::json(&imported)?;
    } else {
        if !imported.skipped.is_empty() {
            eprintln!(
                "note: left out {} entries a base layer may not carry (device nodes, sockets), e.g. {}",
                imported.skipped.len(),
                imported.skipped[0]
            );
        }
        eprintln!("imported {}:{}", imported.name, imported.version);
        say!("{}", imported.digest);
    }
    Ok(0)
}

fn import_registry(store: &OciDir, reference: &str, a: &ImportArgs) -> anyhow::Result<i32> {
    let imported = registry_base::import(store, reference, &a.name, &a.version)?;
    if a.json {
        output::json(&imported)?;
    } else {
        eprintln!(
            "imported {}:{} from {}",
            imported.name, imported.version, imported.source
        );
        say!("{}", imported.digest);
    }
    Ok(0)
}

fn check_name(name: &str, version: &str) -> anyhow::Result<()> {
    let ok = |s: &str, extra: &[char]| {
        !s.is_empty()
            && s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || extra.contains(&c))
    };
    if !ok(name, &['-', '.', '_']) {
        return Err(crate::error::input(format!(
            "--name {name:?}: use lowercase letters, digits, '-', '.', '_'"
        )));
    }
    if !ok(version, &['-', '.', '_', '+']) {
        return Err(crate::error::input(format!(
            "--version {version:?}: use lowercase letters, digits, '-', '.', '_', '+'"
        )));
    }
    Ok(())
}
