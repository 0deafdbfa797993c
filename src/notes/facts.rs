//! Everything a release's notes say, gathered as data first: the notes are a pure
//! rendering of these facts, so the same release gives the same notes byte for byte.

use crate::blueprint::{Change, ChangeKind};
use crate::contract::{ContractReport, Suite};
use crate::digest::Digest;
use crate::notes::diff::ImageDiff;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct LayerFact {
    pub digest: Digest,
    pub size: u64,
    pub diff_id: String,
    pub created_by: String,
}

/// A VM disk the release has: its format, the firmware it boots with, its file name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskFact {
    pub format: crate::disk::Format,
    pub boot: crate::disk::BootMode,
    /// `<name>-<version>.<format>`, the name the import instructions use.
    pub file: String,
}

#[derive(Debug, Clone)]
pub struct ReleaseFacts {
    pub name: String,
    /// `[product]`: owner, contact, bug tracker, documentation, upstream references.
    pub product: crate::blueprint::product::Product,
    /// `[[known_issue]]` entries.
    pub known_issues: Vec<crate::blueprint::product::KnownIssue>,
    pub version: String,
    pub description: String,
    pub digest: Digest,
    /// `YYYY-MM-DD` from the build epoch (the image's `created`), never the clock.
    pub released: String,
    /// Where the release is published, e.g. `oci-layout:catalog` or `registry:host/ns`.
    pub catalog: String,
    /// The pull-by-digest reference, e.g. `host/ns/core-minimal@sha256:…`.
    pub pull_ref: String,
    pub end_of_support: Option<String>,
    /// `released`, `deprecated`, `revoked` or `end-of-life` at the time of writing.
    pub status: String,
    pub changes: Vec<Change>,
    pub base_ref: String,
    pub base_digest: Option<String>,
    pub previous: Option<(String, Digest)>,
    pub diff: Option<ImageDiff>,
    pub report: ContractReport,
    pub suites: Vec<Suite>,
    /// Suite name → major version of the previous release's contract, when known.
    pub previous_suite_versions: Vec<(String, String)>,
    pub packages: Vec<(String, String)>,
    /// Binary package → its source package, where the names differ (for tracker links).
    pub sources: std::collections::BTreeMap<String, String>,
    pub layers: Vec<LayerFact>,
    pub glibc: Option<String>,
    pub kernel: Option<String>,
    pub sonames: Vec<String>,
    pub blueprint_digest: Option<String>,
    pub lock_digest: Option<String>,
    pub builder: String,
    /// Tags or references where the SBOM and provenance can be fetched.
    pub sbom_ref: Option<String>,
    pub provenance_ref: Option<String>,
    /// Where the OpenVEX document (what the release fixed) can be fetched.
    pub vex_ref: Option<String>,
    /// The fingerprint of the build platform's key that signed the release.
    pub signed_by: Option<String>,
    /// The disks `[outputs]` declares, in qcow2, raw, vhd, vmdk order.
    pub disks: Vec<DiskFact>,
}

/// The release-notes heading of a change kind.
pub fn kind_heading(k: ChangeKind) -> &'static str {
    match k {
        ChangeKind::Security => "Security advisories",
        ChangeKind::Bugfix => "Bug fixes",
        ChangeKind::Enhancement => "Enhancements",
        ChangeKind::Workaround => "Workarounds",
    }
}

pub const KINDS: [ChangeKind; 4] = [
    ChangeKind::Security,
    ChangeKind::Bugfix,
    ChangeKind::Enhancement,
    ChangeKind::Workaround,
];

/// Suites whose major version differs from the previous release's: (name, from, to).
pub fn contract_major_changes(f: &ReleaseFacts) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for s in &f.report.suites {
        if let Some((_, prev)) = f.previous_suite_versions.iter().find(|(n, _)| *n == s.name) {
            let prev_major = prev.split('.').next().unwrap_or("");
            if prev_major != s.version.major.to_string() {
                out.push((s.name.clone(), prev.clone(), s.version.to_string()));
            }
        }
    }
    out
}
