//! Gathering a release's facts from the store: the image, its tree (packages, ABI), the
//! contract report, the suites, and the diff against the previous release.

use crate::blueprint::Blueprint;
use crate::contract::{ContractReport, Suite};
use crate::digest::Digest;
use crate::disk::BootMode;
use crate::notes::diff::{diff_images, packages, ImageDiff};
use crate::notes::facts::{DiskFact, LayerFact, ReleaseFacts};
use crate::notes::tree::{read_tree, Tree};
use crate::oci::{OciDir, StoredImage};
use anyhow::Result;
use std::collections::BTreeMap;

/// Libraries whose sonames the technical notes list when the image has them.
const KEY_LIBRARIES: &[&str] = &[
    "libc.so.6",
    "libm.so.6",
    "libstdc++.so.6",
    "libgcc_s.so.1",
    "libssl.so.3",
    "libcrypto.so.3",
    "libcurl.so.4",
    "libz.so.1",
    "libsystemd.so.0",
    "libpam.so.0",
    "libselinux.so.1",
];

const LIB_DIRS: &[&str] = &[
    "lib",
    "usr/lib",
    "lib64",
    "usr/lib64",
    "lib/x86_64-linux-gnu",
    "usr/lib/x86_64-linux-gnu",
];

/// Where the release lives and how to pull it, decided by the caller (the catalog).
pub struct Placement {
    pub catalog: String,
    pub pull_ref: String,
    pub status: String,
    pub sbom_ref: Option<String>,
    pub provenance_ref: Option<String>,
    pub vex_ref: Option<String>,
    /// The fingerprint of the key that signed the release, when one did.
    pub signed_by: Option<String>,
    pub blueprint_digest: Option<String>,
    pub lock_digest: Option<String>,
}

/// The previous release of the same name, when there is one.
pub struct Previous<'a> {
    pub version: String,
    pub image: &'a StoredImage,
    pub suites: BTreeMap<String, String>,
    /// The diff against it, when the caller already made it (the release pipeline does,
    /// before publishing).
    pub diff: Option<ImageDiff>,
}

/// The suites (name → version) a contract report ran, all passed once it is gated.
pub fn passed(report: &ContractReport) -> BTreeMap<String, String> {
    report
        .suites
        .iter()
        .map(|s| (s.name.clone(), s.version.to_string()))
        .collect()
}

pub fn sonames(tree: &Tree) -> Vec<String> {
    KEY_LIBRARIES
        .iter()
        .filter(|lib| {
            LIB_DIRS
                .iter()
                .any(|d| tree.nodes.contains_key(&format!("{d}/{lib}")))
        })
        .map(|s| s.to_string())
        .collect()
}

#[allow(clippy::too_many_arguments)]
pub fn gather(
    store: &OciDir,
    bp: &Blueprint,
    image: &StoredImage,
    report: &ContractReport,
    suites: &[Suite],
    previous: Option<Previous<'_>>,
    place: Placement,
) -> Result<ReleaseFacts> {
    let tree = read_tree(store, image)?;
    let pkgs = packages(&tree);
    let sources = crate::debian::dpkg::sources(&String::from_utf8_lossy(
        tree.dpkg_status().unwrap_or_default(),
    ));
    let diff = match &previous {
        Some(Previous { diff: Some(d), .. }) => Some(d.clone()),
        Some(p) => Some(diff_images(
            store,
            p.image,
            image,
            &p.suites,
            &passed(report),
        )?),
        None => None,
    };
    let created_by: Vec<String> = image
        .config
        .history()
        .iter()
        .flatten()
        .filter(|h| !h.empty_layer().unwrap_or(false))
        .map(|h| h.created_by().clone().unwrap_or_default())
        .collect();
    let diff_ids = image.config.rootfs().diff_ids();
    let layers = image
        .manifest
        .layers()
        .iter()
        .enumerate()
        .map(|(i, l)| -> Result<LayerFact> {
            Ok(LayerFact {
                digest: Digest::try_from(l.digest())?,
                size: l.size(),
                diff_id: diff_ids.get(i).cloned().unwrap_or_default(),
                created_by: created_by.get(i).cloned().unwrap_or_default(),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let released = image
        .config
        .created()
        .as_deref()
        .map(|c| c.get(..10).unwrap_or(c).to_string())
        .unwrap_or_else(|| "unknown".to_string());
    let glibc = pkgs.get("libc6").map(|v| {
        let upstream = v.split(':').next_back().unwrap_or(v);
        format!(
            "{} (libc6 {v})",
            upstream.split('-').next().unwrap_or(upstream)
        )
    });
    let kernel = pkgs
        .iter()
        .find(|(n, _)| n.starts_with("linux-image-") && n.as_str() != "linux-image-amd64")
        .map(|(n, v)| format!("{} ({v})", n.trim_start_matches("linux-image-")));
    Ok(ReleaseFacts {
        name: bp.name.clone(),
        product: bp.product.clone(),
        known_issues: bp.known_issues.clone(),
        version: bp.version.to_string(),
        description: bp.description.clone(),
        digest: image.digest.clone(),
        released,
        catalog: place.catalog,
        pull_ref: place.pull_ref,
        end_of_support: bp.lifecycle.end_of_support.clone(),
        status: place.status,
        changes: bp.changes.clone(),
        base_ref: bp.base.reference.clone(),
        base_digest: image
            .manifest
            .annotations()
            .as_ref()
            .and_then(|a| a.get("org.opencontainers.image.base.digest").cloned()),
        previous: previous
            .as_ref()
            .map(|p| (p.version.clone(), p.image.digest.clone())),
        previous_suite_versions: previous
            .as_ref()
            .map(|p| {
                p.suites
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            })
            .unwrap_or_default(),
        diff,
        report: report.clone(),
        suites: suites.to_vec(),
        packages: pkgs.into_iter().collect(),
        sources,
        layers,
        glibc,
        kernel,
        sonames: sonames(&tree),
        blueprint_digest: place.blueprint_digest,
        lock_digest: place.lock_digest,
        builder: format!("corebuild {}", env!("CARGO_PKG_VERSION")),
        sbom_ref: place.sbom_ref,
        provenance_ref: place.provenance_ref,
        vex_ref: place.vex_ref,
        signed_by: place.signed_by,
        disks: disks(bp, &tree),
    })
}

/// The disks the blueprint declares, with the boot mode each gets: the one asked for, or
/// BIOS and UEFI when the image has a kernel under /boot (the export's default).
pub fn disks(bp: &Blueprint, tree: &Tree) -> Vec<DiskFact> {
    let has_kernel = tree.nodes.keys().any(|p| p.starts_with("boot/vmlinuz-"));
    let default = if has_kernel {
        BootMode::BiosUefi
    } else {
        BootMode::None
    };
    bp.outputs
        .disks()
        .into_iter()
        .map(|(format, d)| DiskFact {
            format,
            boot: d.boot.unwrap_or(default),
            file: format!("{}-{}.{}", bp.name, bp.version, format.as_str()),
        })
        .collect()
}
