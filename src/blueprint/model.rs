//! The resolved blueprint: validated, includes merged, paths absolute. The rest of the
//! code trusts these types; only `super::load` builds them from files.

use super::lock::LockFile;
use crate::digest::Digest;
use crate::layer::Compression;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

/// A loaded blueprint. `path` and `dir` are absolute; `sources` lists every file read
/// to produce it (the blueprint first, then fragments in include order), so a caller can
/// hash them into a blueprint digest. Suite files and `src` inputs are not in `sources`:
/// suites are named in `suites`, and `src` content is hashed by the layer builder.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Blueprint {
    pub path: PathBuf,
    pub dir: PathBuf,
    pub name: String,
    pub version: semver::Version,
    pub description: String,
    pub epoch: Option<u64>,
    pub base: BaseSpec,
    pub layers: Vec<Layer>,
    pub config: ConfigSpec,
    pub suites: Vec<SuiteRef>,
    pub lifecycle: Lifecycle,
    pub changes: Vec<Change>,
    pub outputs: Outputs,
    /// `[product]`: owner, contact, bug tracker, documentation, upstream references.
    pub product: super::product::Product,
    /// `[[known_issue]]` entries, in declaration order.
    pub known_issues: Vec<super::product::KnownIssue>,
    /// `[[apt.source]]` entries, fragments' first, in declaration order.
    pub apt_sources: Vec<AptSource>,
    pub sources: Vec<PathBuf>,
    pub lock: Option<LockFile>,
}

/// The known-good base: a store reference (`name:version`), `oci-layout:PATH[:TAG]`,
/// `catalog:NAME:VERSION` or `docker://HOST/REPO[:TAG][@DIGEST]`,
/// with its digest pin when the blueprint carries one. `declared_in`, `line` and
/// `column` locate the `ref` value, for errors about the pin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BaseSpec {
    pub reference: String,
    pub digest: Option<Digest>,
    pub declared_in: PathBuf,
    pub line: usize,
    pub column: usize,
}

/// A base reference, split into its parts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum BaseRef {
    /// A base imported into the build store, by name and version (`debian-minbase:12`).
    Store { name: String, version: String },
    /// An OCI image layout directory; `path` is absolute (relative paths resolve against
    /// the blueprint's directory); without a tag the layout must hold exactly one image.
    OciLayout { path: PathBuf, tag: Option<String> },
    /// A release in the catalog (`catalog:NAME:VERSION`), resolved (and checked not to
    /// be revoked) on every build.
    Catalog { name: String, version: String },
    /// An image in any OCI registry (`docker://HOST[:PORT]/REPO[:TAG][@sha256:HEX]`),
    /// fetched into the store by digest: the tag is resolved only by `corebuild lock` or
    /// an unlocked build; a digest in the reference pins it by itself.
    Docker {
        host: String,
        repository: String,
        tag: Option<String>,
        digest: Option<Digest>,
    },
}

/// One OCI layer, in order. Each `[[layer]]` table is exactly one of these.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Layer {
    /// Files and directories copied from the build context.
    Files(Vec<FileSpec>),
    /// Packages installed by the base's package manager (`name` or `name=version`).
    Packages(PackagesSpec),
    /// A command run in the image being built.
    Run(RunSpec),
}

/// A file or directory copied into the image. A directory `src` copies recursively and
/// keeps symlinks. `mode` of `None` keeps the source's permission bits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileSpec {
    /// Absolute path on the build machine. Directories are canonical; the last component
    /// is as written, so a `src` that is itself a symlink is still that symlink.
    pub src: PathBuf,
    /// Absolute path in the image, normalized (no `.`, `..`, `//` or trailing `/`).
    pub dest: String,
    pub mode: Option<u32>,
    pub uid: u32,
    pub gid: u32,
}

/// A `packages` layer: what to install, and whether to upgrade what is already there
/// (`upgrade = true`: every package the layers below have and the sources have a newer
/// version of).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PackagesSpec {
    pub packages: Vec<PackageSpec>,
    pub upgrade: bool,
}

/// An `[[apt.source]]`. `signed_by` is the key file's absolute path and `key_sha256` the
/// hash of its bytes (the lock and the layer cache key record the hash, not the path).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AptSource {
    pub uri: String,
    pub suite: String,
    pub components: Vec<String>,
    #[serde(skip)]
    pub signed_by: Option<PathBuf>,
    pub key_sha256: Option<String>,
    #[serde(skip)]
    pub declared_in: PathBuf,
    #[serde(skip)]
    pub line: usize,
    #[serde(skip)]
    pub column: usize,
}

/// A package to install; `version` of `None` takes whatever the lock (or the archive) gives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PackageSpec {
    pub name: String,
    pub version: Option<String>,
}

/// A build step: `argv` run with `env`, as `user`, in `workdir`; without network unless
/// `network` is true.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunSpec {
    pub argv: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub user: Option<String>,
    pub workdir: Option<String>,
    pub network: bool,
}

/// The image config the blueprint asks for, merged over its fragments.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ConfigSpec {
    pub env: BTreeMap<String, String>,
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    pub user: Option<String>,
    pub workdir: Option<String>,
    pub labels: BTreeMap<String, String>,
    /// `PORT/PROTO` strings (`8080/tcp`), in first-declared order, without duplicates.
    pub exposed_ports: Vec<String>,
    pub stop_signal: Option<String>,
}

/// A contract suite the image must pass, found as `contract-tests/<name>.toml`.
/// Only the header is read here; `raw` keeps the whole table for the contract module.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SuiteRef {
    pub name: String,
    pub path: PathBuf,
    pub version: semver::Version,
    pub description: String,
    #[serde(skip)]
    pub raw: toml::Table,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Lifecycle {
    /// `YYYY-MM-DD`, checked to be a real calendar date.
    pub end_of_support: Option<String>,
}

/// One entry of release-notes input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub kind: ChangeKind,
    pub id: Option<String>,
    pub summary: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    Security,
    Bugfix,
    Enhancement,
    Workaround,
}

impl fmt::Display for ChangeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ChangeKind::Security => "security",
            ChangeKind::Bugfix => "bugfix",
            ChangeKind::Enhancement => "enhancement",
            ChangeKind::Workaround => "workaround",
        })
    }
}

/// What to produce besides the OCI image.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Outputs {
    /// Layer compression: gzip (the default) or zstd. `None` is never chosen by a blueprint.
    pub compression: Compression,
    pub qcow2: Option<DiskOutput>,
    pub raw: Option<DiskOutput>,
    pub vhd: Option<DiskOutput>,
    pub vmdk: Option<DiskOutput>,
}

/// One disk `[outputs]` asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DiskOutput {
    /// `None`: `auto` (what the image needs plus a quarter).
    pub size_bytes: Option<u64>,
    /// `None`: BIOS and UEFI when the image has a kernel under /boot, else none.
    pub boot: Option<crate::disk::BootMode>,
    /// `[outputs] kernel_cmdline` followed by the disk's own.
    pub kernel_cmdline: Vec<String>,
}

impl Outputs {
    /// The disks asked for, in a fixed order (qcow2, raw, vhd, vmdk).
    pub fn disks(&self) -> Vec<(crate::disk::Format, &DiskOutput)> {
        use crate::disk::Format;
        [
            (Format::Qcow2, &self.qcow2),
            (Format::Raw, &self.raw),
            (Format::Vhd, &self.vhd),
            (Format::Vmdk, &self.vmdk),
        ]
        .into_iter()
        .filter_map(|(f, d)| d.as_ref().map(|d| (f, d)))
        .collect()
    }

    /// The boot modes asked for explicitly (not `none`, not left to the default).
    pub fn explicit_boot_modes(&self) -> Vec<crate::disk::BootMode> {
        let mut v: Vec<_> = self
            .disks()
            .into_iter()
            .filter_map(|(_, d)| d.boot)
            .filter(|m| *m != crate::disk::BootMode::None)
            .collect();
        v.dedup();
        v
    }
}
