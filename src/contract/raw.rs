//! Serde mirror of a suite file. Refuses unknown keys and keeps every value's span, so
//! `parse` can point at the line and column of whatever it rejects.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::ops::Range;
use toml::Spanned;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSuite {
    pub name: Spanned<String>,
    pub version: Spanned<String>,
    pub description: String,
    pub targets: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    pub test: Vec<RawTest>,
}

/// One `[[test]]`: the common keys, one kind key, and the options of that kind. Every
/// kind's options are listed here so a misplaced one gets a message naming its kind.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTest {
    pub name: Spanned<String>,
    pub regression_for: Option<Spanned<String>>,
    pub description: Option<String>,

    pub command: Option<Spanned<Vec<String>>>,
    pub file: Option<Spanned<String>>,
    pub metadata: Option<Spanned<RawMetadata>>,
    pub package: Option<Spanned<String>>,
    pub library: Option<Spanned<String>>,
    pub service: Option<Spanned<Vec<String>>>,
    pub boot: Option<Spanned<RawBoot>>,

    // command
    pub exit: Option<Spanned<i64>>,
    pub stdout: Option<Spanned<String>>,
    pub stderr: Option<Spanned<String>>,
    pub stdout_excludes: Option<Spanned<String>>,
    pub env: Option<Spanned<BTreeMap<String, String>>>,
    pub user: Option<Spanned<String>>,
    pub timeout: Option<Spanned<String>>,

    // file
    pub exists: Option<Spanned<bool>>,
    #[serde(rename = "type")]
    pub file_type: Option<Spanned<String>>,
    /// A string; kept as any value so an integer gets a message saying to quote it.
    pub mode: Option<Spanned<toml::Value>>,
    pub uid: Option<Spanned<u32>>,
    pub gid: Option<Spanned<u32>>,
    pub contains: Option<Spanned<String>>,
    pub excludes: Option<Spanned<String>>,
    pub sha256: Option<Spanned<String>>,
    pub target: Option<Spanned<String>>,

    // package
    pub version: Option<Spanned<String>>,
    pub absent: Option<Spanned<bool>>,

    // library
    pub provides: Option<Spanned<Vec<String>>>,

    // service
    pub port: Option<Spanned<u16>>,
    pub http: Option<Spanned<String>>,
    pub status: Option<Spanned<u16>>,
    pub ready_timeout: Option<Spanned<String>>,
}

impl RawTest {
    /// The kind keys present, in the order the kinds are documented.
    pub fn kinds(&self) -> Vec<(&'static str, Range<usize>)> {
        let mut v = Vec::new();
        let mut add = |k: &'static str, s: Option<Range<usize>>| {
            if let Some(s) = s {
                v.push((k, s));
            }
        };
        add("command", self.command.as_ref().map(Spanned::span));
        add("file", self.file.as_ref().map(Spanned::span));
        add("metadata", self.metadata.as_ref().map(Spanned::span));
        add("package", self.package.as_ref().map(Spanned::span));
        add("library", self.library.as_ref().map(Spanned::span));
        add("service", self.service.as_ref().map(Spanned::span));
        add("boot", self.boot.as_ref().map(Spanned::span));
        v
    }

    /// The option keys present (everything but the common and kind keys).
    pub fn options(&self) -> Vec<(&'static str, Range<usize>)> {
        let mut v = Vec::new();
        macro_rules! add {
            ($($field:ident => $key:literal),* $(,)?) => {
                $(if let Some(x) = &self.$field { v.push(($key, x.span())); })*
            };
        }
        add!(
            exit => "exit", stdout => "stdout", stderr => "stderr",
            stdout_excludes => "stdout_excludes", env => "env", user => "user",
            timeout => "timeout",
            exists => "exists", file_type => "type", mode => "mode", uid => "uid", gid => "gid",
            contains => "contains", excludes => "excludes", sha256 => "sha256",
            target => "target",
            version => "version", absent => "absent",
            provides => "provides",
            port => "port", http => "http", status => "status", ready_timeout => "ready_timeout",
        );
        v
    }
}

/// The options each kind takes.
pub fn options_of(kind: &str) -> &'static [&'static str] {
    match kind {
        "command" => &[
            "exit",
            "stdout",
            "stderr",
            "stdout_excludes",
            "env",
            "user",
            "timeout",
        ],
        "file" => &[
            "exists", "type", "mode", "uid", "gid", "contains", "excludes", "sha256", "target",
        ],
        "package" => &["version", "absent"],
        "library" => &["provides"],
        "service" => &["port", "http", "status", "ready_timeout"],
        _ => &[],
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawMetadata {
    pub env: Option<BTreeMap<String, Spanned<String>>>,
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    pub user: Option<String>,
    pub workdir: Option<String>,
    pub labels: Option<BTreeMap<String, Spanned<String>>>,
    pub exposed_ports: Option<Vec<Spanned<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBoot {
    pub expect: Spanned<String>,
    pub timeout: Option<Spanned<String>>,
    pub append: Option<Spanned<String>>,
    pub firmware: Option<Spanned<Vec<Spanned<String>>>>,
    pub direct: Option<Spanned<bool>>,
    pub cloud_init: Option<Spanned<RawCloudInit>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCloudInit {
    pub user_data: Spanned<String>,
}
