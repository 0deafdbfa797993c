//! Raw serde structs that mirror `blueprint.toml` and fragment files key for key.
//!
//! They refuse unknown keys and keep the position (`Spanned`) of every value whose later
//! validation can fail, so the resolve step can point at the exact line and column.
//! Nothing here is trusted; `super::resolve` turns these into the model types.

use super::model::ChangeKind;
use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

/// `blueprints/<name>/blueprint.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBlueprint {
    pub name: Spanned<String>,
    pub version: Spanned<String>,
    pub description: String,
    pub epoch: Option<u64>,
    #[serde(default)]
    pub include: Vec<Spanned<String>>,
    pub base: RawBase,
    #[serde(default)]
    pub layer: Vec<Spanned<RawLayer>>,
    pub config: Option<RawConfig>,
    pub contract: Option<RawContract>,
    pub lifecycle: Option<RawLifecycle>,
    #[serde(default)]
    pub change: Vec<RawChange>,
    pub outputs: Option<RawOutputs>,
    pub apt: Option<RawApt>,
    pub product: Option<super::product::RawProduct>,
    #[serde(default)]
    pub known_issue: Vec<super::product::RawKnownIssue>,
}

/// A team-owned fragment: the blueprint schema minus what only a blueprint may say
/// (name, version, description, base, epoch, outputs, lifecycle).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFragment {
    #[serde(default)]
    pub include: Vec<Spanned<String>>,
    #[serde(default)]
    pub layer: Vec<Spanned<RawLayer>>,
    pub config: Option<RawConfig>,
    pub contract: Option<RawContract>,
    #[serde(default)]
    pub change: Vec<RawChange>,
    pub apt: Option<RawApt>,
}

/// The keys a blueprint may set and a fragment may not (for the fragment error's hint).
pub const BLUEPRINT_ONLY_KEYS: &[&str] = &[
    "name",
    "version",
    "description",
    "base",
    "epoch",
    "outputs",
    "lifecycle",
    "product",
    "known_issue",
];

/// The parts that blueprints and fragments share, taken out of either.
#[derive(Debug)]
pub struct RawParts {
    pub layer: Vec<Spanned<RawLayer>>,
    pub config: Option<RawConfig>,
    pub contract: Option<RawContract>,
    pub change: Vec<RawChange>,
    pub apt: Option<RawApt>,
}

impl RawBlueprint {
    pub fn take_parts(&mut self) -> RawParts {
        RawParts {
            layer: std::mem::take(&mut self.layer),
            config: self.config.take(),
            contract: self.contract.take(),
            change: std::mem::take(&mut self.change),
            apt: self.apt.take(),
        }
    }
}

impl RawFragment {
    pub fn into_parts(self) -> RawParts {
        RawParts {
            layer: self.layer,
            config: self.config,
            contract: self.contract,
            change: self.change,
            apt: self.apt,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBase {
    #[serde(rename = "ref")]
    pub reference: Spanned<String>,
    pub digest: Option<Spanned<String>>,
}

/// One `[[layer]]`. Exactly one of `files`, `packages`, `run` must be present; `env`,
/// `user`, `workdir` and `network` belong to `run`. That rule is checked after parsing,
/// not by serde, so the error can name the lines of both kinds.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLayer {
    pub files: Option<Spanned<Vec<Spanned<RawFile>>>>,
    pub packages: Option<Spanned<Vec<Spanned<String>>>>,
    pub run: Option<Spanned<Vec<String>>>,
    pub env: Option<Spanned<BTreeMap<String, String>>>,
    pub user: Option<Spanned<String>>,
    pub workdir: Option<Spanned<String>>,
    pub network: Option<Spanned<bool>>,
    /// Only with `packages`: upgrade what the layers below already have.
    pub upgrade: Option<Spanned<bool>>,
}

/// `[apt]`: what `packages` layers install from besides the base's own sources.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawApt {
    #[serde(default)]
    pub source: Vec<Spanned<RawAptSource>>,
}

/// One `[[apt.source]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAptSource {
    pub uri: Spanned<String>,
    pub suite: Spanned<String>,
    pub components: Option<Spanned<Vec<Spanned<String>>>>,
    /// A key file relative to the declaring file; absent: the base's keyring.
    pub signed_by: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFile {
    pub src: Spanned<String>,
    pub dest: Spanned<String>,
    /// A `Value`, not a `String`, so an integer mode gets a pointed hint instead of a
    /// bare type error (`mode = 644` in TOML is decimal 644, not octal).
    pub mode: Option<Spanned<toml::Value>>,
    #[serde(default)]
    pub uid: u32,
    #[serde(default)]
    pub gid: u32,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    pub env: BTreeMap<String, Spanned<String>>,
    pub entrypoint: Option<Spanned<Vec<String>>>,
    pub cmd: Option<Spanned<Vec<String>>>,
    pub user: Option<Spanned<String>>,
    pub workdir: Option<Spanned<String>>,
    #[serde(default)]
    pub labels: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    pub exposed_ports: Vec<Spanned<String>>,
    pub stop_signal: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawContract {
    #[serde(default)]
    pub suites: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLifecycle {
    /// A `Value` so both `"2027-12-31"` and a bare TOML date `2027-12-31` are accepted.
    pub end_of_support: Option<Spanned<toml::Value>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawChange {
    pub kind: ChangeKind,
    pub id: Option<String>,
    pub summary: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOutputs {
    pub compression: Option<Spanned<String>>,
    pub qcow2: Option<RawDisk>,
    /// `raw = true` (the qcow2's size and boot mode) or a table like `qcow2`'s; read as a
    /// value first (an untagged enum would lose the positions of its fields).
    pub raw: Option<Spanned<toml::Value>>,
    pub vhd: Option<RawDisk>,
    pub vmdk: Option<RawDisk>,
    /// Kernel parameters for every bootable disk.
    pub kernel_cmdline: Option<Spanned<Vec<Spanned<String>>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDisk {
    /// `"2GiB"` or `"auto"`; absent means `auto`.
    pub size: Option<Spanned<String>>,
    pub boot: Option<Spanned<String>>,
    /// Kernel parameters for this disk only, after `[outputs] kernel_cmdline`.
    pub kernel_cmdline: Option<Spanned<Vec<Spanned<String>>>>,
}
