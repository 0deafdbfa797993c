//! `qemu-img`: raw → qcow2, fixed VHD and streamOptimized VMDK conversion with every
//! option that shapes the bytes spelled out, and the safety checks on what comes out
//! (`info` and `check`, parsed as JSON; `compare` against the raw disk).

use crate::tool;
use anyhow::{bail, Context, Result};
use serde::Deserialize;
use std::path::Path;
use std::process::Command;

/// How qcow2 clusters are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// Uncompressed (the default): the fastest to make and to boot.
    #[default]
    None,
    /// zstd-compressed clusters (qemu 5.1 and later read them).
    Zstd,
    /// zlib-compressed clusters: the most widely readable.
    Zlib,
}

impl Compression {
    pub fn as_str(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Zstd => "zstd",
            Compression::Zlib => "zlib",
        }
    }
}

/// The conversion command: qcow2 v3 (`compat=1.1`), 64 KiB clusters, no preallocation,
/// no lazy refcounts, and writes in order (no `-W`), so the cluster allocation, and with
/// it the file, is the same every run.
pub fn convert_command(raw: &Path, out: &Path, compression: Compression) -> Command {
    let mut c = Command::new("qemu-img");
    let mut opts = String::from(
        "compat=1.1,cluster_size=65536,lazy_refcounts=off,preallocation=off,refcount_bits=16",
    );
    c.args(["convert", "-q", "-f", "raw", "-O", "qcow2"]);
    if compression != Compression::None {
        opts.push_str(",compression_type=");
        opts.push_str(compression.as_str());
        c.arg("-c");
    }
    c.arg("-o").arg(opts).arg(raw).arg(out);
    c
}

pub fn convert(raw: &Path, out: &Path, compression: Compression) -> Result<()> {
    tool::run(&mut convert_command(raw, out, compression))
        .context("converting the raw disk to qcow2 with qemu-img")?;
    Ok(())
}

/// qemu's name for a disk format (`-f`/`-O`, and `format` in `info`): VHD is `vpc`.
pub fn format_name(format: super::Format) -> &'static str {
    match format {
        super::Format::Vhd => "vpc",
        other => other.as_str(),
    }
}

/// Raw → fixed VHD: the virtual size is the raw size exactly (`force_size`; without it
/// qemu rounds to a CHS geometry, which Azure refuses), the data written in order.
pub fn vhd_command(raw: &Path, out: &Path) -> Command {
    let mut c = Command::new("qemu-img");
    c.args(["convert", "-q", "-f", "raw", "-O", "vpc"])
        .args(["-o", "subformat=fixed,force_size=on,preallocation=off"])
        .arg(raw)
        .arg(out);
    c
}

/// Raw → streamOptimized VMDK (deflated grains, the variant OVA/OVF packages carry),
/// with qemu's defaults for the descriptor's hardware version, adapter and tools version
/// spelled out, and no `-W` (the stream must be written in order).
pub fn vmdk_command(raw: &Path, out: &Path) -> Command {
    let mut c = Command::new("qemu-img");
    c.args(["convert", "-q", "-f", "raw", "-O", "vmdk"])
        .args([
            "-o",
            "subformat=streamOptimized,adapter_type=ide,hwversion=4,\
             toolsversion=2147483647,compat6=off,zeroed_grain=off",
        ])
        .arg(raw)
        .arg(out);
    c
}

/// Whether `image` (in qemu format `format`) reads back exactly as the raw disk `raw`:
/// `qemu-img compare` exits 0 for the same content, 1 for a difference, 2 and up when
/// it cannot tell.
pub fn same_content(raw: &Path, image: &Path, format: &str) -> Result<bool> {
    let mut c = Command::new("qemu-img");
    c.args(["compare", "-q", "-f", "raw", "-F", format])
        .arg(raw)
        .arg(image);
    let out = tool::output(&mut c)?;
    match out.status.code() {
        Some(0) => Ok(true),
        Some(1) => Ok(false),
        _ => {
            tool::run(&mut c)?;
            bail!("qemu-img compare ended with {}", out.status)
        }
    }
}

/// The parts of `qemu-img info --output=json` we look at.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub struct Info {
    pub format: String,
    pub virtual_size: u64,
    #[serde(default)]
    pub backing_filename: Option<String>,
    #[serde(default)]
    pub full_backing_filename: Option<String>,
    #[serde(default)]
    pub format_specific: Option<FormatSpecific>,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct FormatSpecific {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub data: Option<FormatData>,
}

/// `format-specific.data`: the qcow2 fields (`compat`, `data-file`, `corrupt`) and the
/// vmdk ones (`cid`, `create-type`) we look at; each absent in the other format.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub struct FormatData {
    #[serde(default)]
    pub compat: Option<String>,
    #[serde(default)]
    pub data_file: Option<String>,
    #[serde(default)]
    pub corrupt: Option<bool>,
    #[serde(default)]
    pub cid: Option<u32>,
    #[serde(default)]
    pub create_type: Option<String>,
}

impl Info {
    /// Why this image must not be shipped, if it must not: a backing file or an external
    /// data file (it would read the host's files), a corrupt flag, or another format or size.
    pub fn problems(&self, format: &str, size: u64) -> Vec<String> {
        let mut p = Vec::new();
        if self.format != format {
            p.push(format!("format is {}, not {format}", self.format));
        }
        if self.virtual_size != size {
            p.push(format!("virtual size is {}, not {size}", self.virtual_size));
        }
        if let Some(b) = self
            .backing_filename
            .as_ref()
            .or(self.full_backing_filename.as_ref())
        {
            p.push(format!("it has a backing file ({b})"));
        }
        if let Some(d) = self.format_specific.as_ref().and_then(|f| f.data.as_ref()) {
            if let Some(df) = &d.data_file {
                p.push(format!("it has an external data file ({df})"));
            }
            if d.corrupt == Some(true) {
                p.push("it is marked corrupt".to_string());
            }
        }
        p
    }
}

/// `qemu-img check --output=json`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub struct Check {
    #[serde(default)]
    pub check_errors: u64,
    #[serde(default)]
    pub corruptions: u64,
    #[serde(default)]
    pub leaks: u64,
    #[serde(default)]
    pub corruptions_fixed: u64,
    #[serde(default)]
    pub leaks_fixed: u64,
}

impl Check {
    pub fn clean(&self) -> bool {
        self.check_errors == 0 && self.corruptions == 0 && self.leaks == 0
    }
}

pub fn info(path: &Path, format: &str) -> Result<Info> {
    let mut c = Command::new("qemu-img");
    c.args(["info", "--output=json", "-f", format]).arg(path);
    tool::run_and_parse_json(&mut c)
}

/// Runs `qemu-img check` on a qcow2; see [`check_as`].
pub fn check(path: &Path) -> Result<Check> {
    check_as(path, "qcow2")
}

/// Runs `qemu-img check` on an image of qemu format `format` (qcow2 and vmdk have a
/// checker; vpc and raw do not). Its exit status is 2 for corruptions and 3 for leaks,
/// which the JSON reports too, so only a run that printed nothing is a tool failure.
pub fn check_as(path: &Path, format: &str) -> Result<Check> {
    let mut c = Command::new("qemu-img");
    c.args(["check", "--output=json", "-f", format]).arg(path);
    let out = tool::output(&mut c)?;
    let text = String::from_utf8_lossy(&out.stdout);
    if text.trim().is_empty() {
        tool::run(&mut c)?;
        bail!("qemu-img check printed nothing");
    }
    serde_json::from_str(&text).context("parsing the JSON of qemu-img check")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_info(s: &str) -> Info {
        serde_json::from_str(s).unwrap()
    }

    #[test]
    fn info_fixtures_find_backing_and_data_files() {
        let plain = parse_info(include_str!("fixtures/info-plain.json"));
        assert!(plain.problems("qcow2", 64 << 20).is_empty(), "{plain:?}");
        assert_eq!(plain.problems("qcow2", 1).len(), 1);
        let b = parse_info(include_str!("fixtures/info-backing.json"));
        assert!(b.problems("qcow2", 64 << 20)[0].contains("backing file (base.qcow2)"));
        let d = parse_info(include_str!("fixtures/info-data-file.json"));
        assert!(d.problems("qcow2", 64 << 20)[0].contains("external data file (data.raw)"));
    }

    #[test]
    fn vhd_and_vmdk_info_fixtures_parse() {
        let vhd = parse_info(include_str!("fixtures/info-vhd.json"));
        assert!(vhd.problems("vpc", 64 << 20).is_empty(), "{vhd:?}");
        assert!(vhd.format_specific.is_none());
        let vmdk = parse_info(include_str!("fixtures/info-vmdk.json"));
        assert!(vmdk.problems("vmdk", 64 << 20).is_empty(), "{vmdk:?}");
        let data = vmdk.format_specific.unwrap().data.unwrap();
        assert_eq!(data.cid, Some(0x37aa_f074));
        assert_eq!(data.create_type.as_deref(), Some("streamOptimized"));
        let ok: Check = serde_json::from_str(include_str!("fixtures/check-vmdk.json")).unwrap();
        assert!(ok.clean());
    }

    #[test]
    fn vhd_and_vmdk_commands_pin_their_subformats() {
        let args = |c: Command| -> Vec<String> {
            c.get_args()
                .map(|a| a.to_string_lossy().into_owned())
                .collect()
        };
        let v = args(vhd_command(Path::new("a.raw"), Path::new("b.vhd")));
        assert!(v.windows(2).any(|w| w == ["-O", "vpc"]), "{v:?}");
        let o = &v[v.iter().position(|a| a == "-o").unwrap() + 1];
        assert!(
            o.contains("subformat=fixed") && o.contains("force_size=on"),
            "{o}"
        );
        let k = args(vmdk_command(Path::new("a.raw"), Path::new("b.vmdk")));
        let o = &k[k.iter().position(|a| a == "-o").unwrap() + 1];
        assert!(
            o.starts_with("subformat=streamOptimized,adapter_type=ide,hwversion=4,t"),
            "{o}"
        );
        assert!(!k.iter().chain(&v).any(|a| a == "-W"));
        assert_eq!(format_name(super::super::Format::Vhd), "vpc");
        assert_eq!(format_name(super::super::Format::Vmdk), "vmdk");
    }

    #[test]
    fn check_fixtures_tell_clean_from_corrupt() {
        let ok: Check = serde_json::from_str(include_str!("fixtures/check-clean.json")).unwrap();
        assert!(ok.clean());
        let bad: Check = serde_json::from_str(include_str!("fixtures/check-corrupt.json")).unwrap();
        assert_eq!(bad.corruptions, 12);
        assert!(!bad.clean());
    }

    #[test]
    fn convert_pins_the_format_options() {
        let c = convert_command(Path::new("a.raw"), Path::new("b.qcow2"), Compression::Zstd);
        let args: Vec<_> = c
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert!(args.contains(&"-c".to_string()));
        let o = &args[args.iter().position(|a| a == "-o").unwrap() + 1];
        assert!(
            o.contains("compat=1.1") && o.contains("compression_type=zstd"),
            "{o}"
        );
        assert!(!args.iter().any(|a| a == "-W"));
    }
}
