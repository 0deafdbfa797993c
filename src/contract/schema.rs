//! The parsed, validated contract suite: what the runners trust. Only `parse` builds
//! these from files; every regex is compiled, every mode and duration checked.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// One `contract-tests/<name>.toml` file.
#[derive(Debug, Clone)]
pub struct Suite {
    pub name: String,
    /// The contract's version: a consumer may rely on a suite for the life of its major version.
    pub version: semver::Version,
    pub description: String,
    pub path: PathBuf,
    /// Where the suite's `command` tests run: the container always, the booted VM too
    /// when `targets` has `vm` (default: the container only).
    pub targets: Vec<Target>,
    /// In file order; names are unique within the suite.
    pub tests: Vec<TestCase>,
}

/// One `[[test]]` entry.
#[derive(Debug, Clone)]
pub struct TestCase {
    pub name: String,
    /// The bug this test guards against coming back (`BUG-123`), if it is a regression test.
    pub regression_for: Option<String>,
    pub description: Option<String>,
    /// 1-based line of the test's `name`, for messages that point back into the suite.
    pub line: usize,
    pub check: Check,
}

/// What a test checks: exactly one kind per test.
#[derive(Debug, Clone)]
pub enum Check {
    Command(CommandTest),
    File(FileTest),
    Metadata(MetadataTest),
    Package(PackageTest),
    Library(LibraryTest),
    Service(ServiceTest),
    Boot(BootTest),
}

impl Check {
    pub fn kind(&self) -> TestKind {
        match self {
            Check::Command(_) => TestKind::Command,
            Check::File(_) => TestKind::File,
            Check::Metadata(_) => TestKind::Metadata,
            Check::Package(_) => TestKind::Package,
            Check::Library(_) => TestKind::Library,
            Check::Service(_) => TestKind::Service,
            Check::Boot(_) => TestKind::Boot,
        }
    }
}

/// The kind of a test, as reports name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TestKind {
    Command,
    File,
    Metadata,
    Package,
    Library,
    Service,
    Boot,
}

impl TestKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TestKind::Command => "command",
            TestKind::File => "file",
            TestKind::Metadata => "metadata",
            TestKind::Package => "package",
            TestKind::Library => "library",
            TestKind::Service => "service",
            TestKind::Boot => "boot",
        }
    }
}

impl fmt::Display for TestKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A regular expression with the text it was written as. Searches (not whole-value
/// matches); output and file-content patterns are compiled in multi-line mode so `^`/`$`
/// match at line boundaries. Works on bytes, so non-UTF-8 output is still searchable.
#[derive(Clone)]
pub struct Pattern {
    pub source: String,
    pub regex: regex::bytes::Regex,
}

impl Pattern {
    pub fn is_match(&self, haystack: &[u8]) -> bool {
        self.regex.is_match(haystack)
    }
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "/{}/", self.source)
    }
}

/// A command run inside the candidate, as the executor receives it. The executor runs it
/// with a read-only rootfs, a tmpfs `/tmp`, no network, no capabilities,
/// no-new-privileges and rlimits, and kills it at `timeout`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandSpec {
    pub argv: Vec<String>,
    /// Added to (and overriding) the image config's environment.
    pub env: BTreeMap<String, String>,
    /// `name`, `uid` or `uid:gid`; `None` runs as the image config's user.
    pub user: Option<String>,
    pub timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct CommandTest {
    pub spec: CommandSpec,
    /// The expected exit status (default 0).
    pub exit: i32,
    pub stdout: Option<Pattern>,
    pub stderr: Option<Pattern>,
    pub stdout_excludes: Option<Pattern>,
}

/// A daemon started inside the candidate in a network namespace of its own, and probed
/// from inside that namespace until it is ready or `ready_timeout` passes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceSpec {
    pub argv: Vec<String>,
    /// The TCP port to probe on 127.0.0.1. When only `http` is given this is 80.
    pub port: u16,
    /// When set, the probe is an HTTP GET of this path, and the answer's status is reported.
    pub http: Option<String>,
    pub ready_timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct ServiceTest {
    pub spec: ServiceSpec,
    /// The HTTP status expected when `spec.http` is set (default 200).
    pub status: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileType {
    File,
    Dir,
    Symlink,
}

impl FileType {
    pub fn as_str(self) -> &'static str {
        match self {
            FileType::File => "file",
            FileType::Dir => "dir",
            FileType::Symlink => "symlink",
        }
    }
}

/// A check of one path in the flattened rootfs. A test with `file_type = Symlink` or a
/// `target` looks at the link itself; any other test looks at what the path resolves to
/// (inside the rootfs).
#[derive(Debug, Clone)]
pub struct FileTest {
    /// Absolute path inside the image.
    pub path: String,
    pub exists: bool,
    pub file_type: Option<FileType>,
    /// Permission bits including setuid/setgid/sticky (`0o7777` at most).
    pub mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub contains: Option<Pattern>,
    pub excludes: Option<Pattern>,
    /// Lowercase hex of the content's sha256.
    pub sha256: Option<String>,
    /// The symlink's target, exactly as stored in the link.
    pub target: Option<String>,
}

impl FileTest {
    /// Whether the check is about a symlink itself rather than what it points to.
    pub fn is_about_link(&self) -> bool {
        self.file_type == Some(FileType::Symlink) || self.target.is_some()
    }
}

/// Checks on the image configuration. Every field given must hold.
#[derive(Debug, Clone, Default)]
pub struct MetadataTest {
    /// Variable name → pattern its value must match (the variable must be set).
    pub env: BTreeMap<String, Pattern>,
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    pub user: Option<String>,
    pub workdir: Option<String>,
    pub labels: BTreeMap<String, Pattern>,
    /// Normalized `PORT/PROTO` (`80` is written back as `80/tcp`); all must be exposed.
    pub exposed_ports: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct PackageTest {
    /// A Debian package name, optionally `name:arch`.
    pub name: String,
    pub expect: PackageExpect,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PackageExpect {
    /// Installed, and when a constraint is given, at a version that satisfies it.
    Installed(Option<crate::debian::version::Constraint>),
    Absent,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LibraryTest {
    /// A file name such as `libc.so.6`, searched for in the usual library directories.
    pub name: String,
    /// Version definitions (`.gnu.version_d`) the library must define.
    pub provides: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct BootTest {
    /// What the console must print before `timeout`, after the kernel starts (firmware
    /// and boot loader output and the kernel's echo of its command line never count).
    pub expect: Pattern,
    pub timeout: Duration,
    /// Added to the end of the kernel command line (later parameters win). Only a direct
    /// boot takes it, so a test with `append` and no `firmware` boots directly.
    pub append: Option<String>,
    /// The firmware to boot under, each a run and a result of its own; `None`: every
    /// firmware the candidate's disk supports (a direct boot when it supports none).
    pub firmware: Option<Vec<crate::disk::Firmware>>,
    /// Boot the image's kernel with `-kernel`/`-initrd` instead of through firmware.
    pub direct: bool,
    /// A NoCloud seed volume for cloud-init, attached as a second drive.
    pub cloud_init: Option<CloudInit>,
}

/// What a boot test hands cloud-init.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudInit {
    /// The `user-data` document (`#cloud-config` or a `#!` script).
    pub user_data: String,
}

/// Where a suite's `command` tests run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// runc over an overlay of the unpacked candidate.
    Container,
    /// Inside the candidate's VM disk, booted in qemu.
    Vm,
}

impl Target {
    pub fn as_str(self) -> &'static str {
        match self {
            Target::Container => "container",
            Target::Vm => "vm",
        }
    }

    pub fn parse(s: &str) -> Option<Target> {
        [Target::Container, Target::Vm]
            .into_iter()
            .find(|t| t.as_str() == s)
    }
}
