//! `qemu-img`: raw → qcow2 conversion with every option that shapes the bytes spelled
//! out, and the safety checks on what comes out (`info` and `check`, parsed as JSON).

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
    pub data: Option<Qcow2Data>,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub struct Qcow2Data {
    #[serde(default)]
    pub compat: Option<String>,
    #[serde(default)]
    pub data_file: Option<String>,
    #[serde(default)]
    pub corrupt: Option<bool>,
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

/// Runs `qemu-img check`; its exit status is 2 for corruptions and 3 for leaks, which
/// the JSON reports too, so only a run that printed nothing is a tool failure.
pub fn check(path: &Path) -> Result<Check> {
    let mut c = Command::new("qemu-img");
    c.args(["check", "--output=json", "-f", "qcow2"]).arg(path);
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
