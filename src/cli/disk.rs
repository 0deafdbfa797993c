//! `corebuild disk REF [--format qcow2|raw|vhd|vmdk] [--size SIZE] [--boot MODE]
//! [--kernel-cmdline P]... [--out FILE]`: export an image in the store as a GPT disk (ext4
//! root; with a kernel, GRUB for BIOS and UEFI from the image), keep it in the store as an
//! artifact beside the image, and optionally copy it out.

use crate::cli::output;
use crate::cli::output::say;
use crate::disk::{self, Compression, DiskSize, ExportOptions, Format};
use crate::oci::{ImageRef, OciDir};
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The image: name:version, sha256:…, name@sha256:… or oci-layout:PATH[:TAG].
    pub reference: String,
    /// The disk's file format: qcow2, raw, vhd (fixed, for Azure) or vmdk (streamOptimized).
    #[arg(long, value_enum, default_value_t = Format::Qcow2)]
    pub format: Format,
    /// The disk's size: `auto` (what the image needs, plus a quarter) or e.g. `2GiB`.
    #[arg(long, default_value = "auto", value_parser = parse_size)]
    pub size: DiskSize,
    /// The firmware it boots under: bios+uefi (the default when the image has a kernel
    /// under /boot), uefi, bios, or none (no boot loader; direct kernel boot only).
    #[arg(long, value_parser = parse_boot)]
    pub boot: Option<disk::BootMode>,
    /// A kernel parameter for the boot loader's command line (repeatable).
    #[arg(long = "kernel-cmdline", value_name = "PARAM")]
    pub kernel_cmdline: Vec<String>,
    /// The OCI runtime that runs the image's grub-mkimage.
    #[arg(long, default_value = "runc")]
    pub runtime: String,
    /// qcow2 cluster compression.
    #[arg(long, value_enum, default_value_t = Compression::None)]
    pub compression: Compression,
    /// Also copy the disk to this file.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Make the disk again even if the store already has it.
    #[arg(long)]
    pub rebuild: bool,
    #[arg(long)]
    pub json: bool,
}

fn parse_size(s: &str) -> Result<DiskSize, String> {
    DiskSize::parse(s).ok_or_else(|| {
        format!("invalid size {s:?}: write `auto` or a whole number with KiB, MiB, GiB or TiB, e.g. 2GiB")
    })
}

fn parse_boot(s: &str) -> Result<disk::BootMode, String> {
    disk::BootMode::parse(s)
        .ok_or_else(|| format!("unknown boot mode {s:?}: use bios+uefi, uefi, bios or none"))
}

pub fn run(store: &Path, a: Args) -> anyhow::Result<i32> {
    if let Some(p) = a
        .kernel_cmdline
        .iter()
        .find(|p| !crate::disk::boot::config::is_plain_param(p))
    {
        return Err(crate::error::input(format!(
            "--kernel-cmdline {p:?} is not one plain kernel parameter (letters, digits and \
             ._,:=/+@%-~[] only); pass one per flag"
        )));
    }
    if a.format != Format::Qcow2 && a.compression != Compression::None {
        return Err(crate::error::input(format!(
            "--compression applies to qcow2 only; a {} disk is never compressed by it \
             (a vmdk is streamOptimized: its grains are always deflated)",
            a.format.as_str()
        )));
    }
    let r = ImageRef::parse(&a.reference)?;
    let store = OciDir::open_or_create(store)?;
    let img = store.resolve(&r)?;
    if let ImageRef::Layout { path, .. } = &r {
        store.import_image(&OciDir::open(path)?, &img)?;
    }
    let report = disk::export(
        &store,
        &img,
        &ExportOptions {
            format: a.format,
            size: a.size,
            compression: a.compression,
            rebuild: a.rebuild,
            boot: a.boot,
            kernel_cmdline: a.kernel_cmdline.clone(),
            runtime: Some(a.runtime.clone()),
            ..ExportOptions::default()
        },
    )?;
    if let Some(out) = &a.out {
        disk::copy_out(&report.path, out)?;
    }
    if a.json {
        let mut v = serde_json::to_value(&report)?;
        v["out"] = serde_json::json!(a.out);
        output::json(&v)?;
    } else {
        say!(
            "{} {} disk of {}: {} ({}){}",
            if report.reused { "stored" } else { "made" },
            report.format.as_str(),
            report.image,
            report.digest,
            output::size(report.file_size),
            a.out
                .as_ref()
                .map(|o| format!(", written to {}", o.display()))
                .unwrap_or_default()
        );
        say!(
            "  virtual size {}, artifact {} tagged {}",
            output::size(report.size),
            report.artifact,
            report.tag
        );
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use crate::cli::{Cli, Command};
    use clap::Parser;

    #[test]
    fn parses_disk_flags() {
        let c = Cli::try_parse_from([
            "corebuild",
            "disk",
            "core-vm:1.0.0",
            "--format",
            "raw",
            "--size",
            "2GiB",
            "--out",
            "d.raw",
        ])
        .unwrap();
        let Command::Disk(a) = c.command else {
            panic!("{:?}", c.command)
        };
        assert_eq!(a.format, crate::disk::Format::Raw);
        assert_eq!(a.size, crate::disk::DiskSize::Bytes(2 << 30));
        assert!(Cli::try_parse_from(["corebuild", "disk", "x", "--size", "2GB"]).is_err());
        let c = Cli::try_parse_from(["corebuild", "disk", "x"]).unwrap();
        let Command::Disk(a) = c.command else {
            panic!()
        };
        assert_eq!(a.size, crate::disk::DiskSize::Auto);
        assert_eq!(a.format, crate::disk::Format::Qcow2);
    }
}
