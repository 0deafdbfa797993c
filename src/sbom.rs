//! The SBOM of an image: an SPDX 2.3 JSON document listing the packages of its dpkg
//! database (with purls), the image itself and its base (by digest).
//!
//! Deterministic: the same image gives the same bytes. `documentNamespace` is derived from
//! the image digest and `created` is the image's build epoch (its config `created`),
//! never the clock. The database is found without flattening the image: layers are read
//! from the top down, and the first layer that holds `/var/lib/dpkg/status` (or deletes
//! it with a whiteout) decides, so usually only the small top layers are decompressed.
//! (`status.d/`, the one-file-per-package database of distroless images, is not read.)

use crate::debian::dpkg;
use crate::digest::Digest;
use crate::layer::{self, ApplyOptions, Compression, TarReader};
use crate::oci::{OciDir, StoredImage};
/// A purl component, percent-encoded (`+` and `:` too).
use crate::percent::encode as purl;
use anyhow::{Context, Result};
use serde_json::{json, Value};
use std::io::Read;

/// The SPDX media type (the artifact type and layer media type of an attached SBOM).
pub const MEDIA_TYPE: &str = "application/spdx+json";

const STATUS_PATH: &str = "var/lib/dpkg/status";
const LIMIT: u64 = 256 << 20;

/// What one layer says about the status file.
enum InLayer {
    Unmentioned,
    File(Vec<u8>),
    Deleted,
}

/// `path` without `./` or `/` at the front and without a trailing `/`.
fn norm(p: &str) -> &str {
    let p = p.trim_start_matches("./").trim_start_matches('/');
    p.trim_end_matches('/')
}

/// Whether a whiteout entry at `path` hides the status file of lower layers.
fn hides_status(path: &str) -> bool {
    let (dir, base) = path.rsplit_once('/').unwrap_or(("", path));
    let Some(hidden) = base.strip_prefix(".wh.") else {
        return false;
    };
    if hidden == ".wh..opq" {
        // An opaque directory hides everything below it in lower layers.
        return dir.is_empty() || STATUS_PATH.starts_with(&format!("{dir}/"));
    }
    let target = if dir.is_empty() {
        hidden.to_string()
    } else {
        format!("{dir}/{hidden}")
    };
    STATUS_PATH == target || STATUS_PATH.starts_with(&format!("{target}/"))
}

fn scan_layer(store: &OciDir, l: &oci_spec::image::Descriptor) -> Result<InLayer> {
    let digest = Digest::try_from(l.digest())?;
    let mt = l.media_type().to_string();
    let c = Compression::from_media_type(&mt).ok_or_else(|| {
        crate::error::input(format!("layer {digest}: unsupported media type {mt}"))
    })?;
    let blob = store.open_blob(&digest, Some(l.size()))?;
    // Untrusted (a pulled or imported base): the bounded reader, with an apply's caps.
    let mut tar = TarReader::bounded(layer::decompress(c, blob), &ApplyOptions::default());
    let mut out = InLayer::Unmentioned;
    let mut hidden = false;
    while let Some(e) = tar.next_entry()? {
        let raw = String::from_utf8_lossy(&e.name).into_owned();
        let path = norm(&raw);
        if hides_status(path) {
            hidden = true;
        } else if path == STATUS_PATH && e.is_file() {
            let mut bytes = Vec::new();
            tar.data().take(LIMIT + 1).read_to_end(&mut bytes)?;
            if bytes.len() as u64 > LIMIT {
                return Err(crate::error::input(format!(
                    "/{STATUS_PATH} in layer {digest} is larger than {} MiB",
                    LIMIT >> 20
                )));
            }
            out = InLayer::File(bytes);
        }
    }
    Ok(match out {
        InLayer::Unmentioned if hidden => InLayer::Deleted,
        other => other,
    })
}

/// The image's `/var/lib/dpkg/status`, or `None` when it has none.
pub fn dpkg_status(store: &OciDir, image: &StoredImage) -> Result<Option<Vec<u8>>> {
    for l in image.manifest.layers().iter().rev() {
        match scan_layer(store, l).with_context(|| format!("reading layer {}", l.digest()))? {
            InLayer::Unmentioned => continue,
            InLayer::File(b) => return Ok(Some(b)),
            InLayer::Deleted => return Ok(None),
        }
    }
    Ok(None)
}

/// An SPDX identifier from free text (letters, digits, `.` and `-` only).
fn spdx_id(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// The SBOM of `image` (published as `name` `version`), as SPDX 2.3 JSON bytes.
pub fn generate(store: &OciDir, image: &StoredImage, name: &str, version: &str) -> Result<Vec<u8>> {
    let status = dpkg_status(store, image)?;
    let mut records: Vec<dpkg::Record> = status
        .map(|b| dpkg::parse(&String::from_utf8_lossy(&b)))
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.installed())
        .collect();
    records.sort_by(|a, b| {
        (&a.package, &a.architecture, &a.version).cmp(&(&b.package, &b.architecture, &b.version))
    });
    records.dedup();
    Ok(document(image, name, version, &records))
}

fn document(image: &StoredImage, name: &str, version: &str, records: &[dpkg::Record]) -> Vec<u8> {
    let digest = &image.digest;
    let created = image
        .config
        .created()
        .clone()
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".to_string());
    let ann = image.manifest.annotations().clone().unwrap_or_default();
    let base_digest = ann
        .get("org.opencontainers.image.base.digest")
        .and_then(|d| d.parse::<Digest>().ok());
    let base_name = ann
        .get("org.opencontainers.image.base.name")
        .cloned()
        .unwrap_or_else(|| "base".to_string());

    let mut packages = vec![json!({
        "SPDXID": "SPDXRef-Image",
        "name": name,
        "versionInfo": version,
        "downloadLocation": "NOASSERTION",
        "filesAnalyzed": false,
        "primaryPackagePurpose": "CONTAINER",
        "checksums": [{"algorithm": "SHA256", "checksumValue": digest.hex()}],
        "externalRefs": [{
            "referenceCategory": "PACKAGE-MANAGER",
            "referenceType": "purl",
            "referenceLocator": format!("pkg:oci/{}@{}", purl(name), purl(&digest.to_string())),
        }],
    })];
    let mut relationships = vec![json!({
        "spdxElementId": "SPDXRef-DOCUMENT",
        "relationshipType": "DESCRIBES",
        "relatedSpdxElement": "SPDXRef-Image",
    })];
    if let Some(b) = &base_digest {
        let base_short = base_name.rsplit('/').next().unwrap_or(&base_name);
        let base_short = base_short.split(':').next().unwrap_or(base_short);
        packages.push(json!({
            "SPDXID": "SPDXRef-Base",
            "name": base_name,
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": false,
            "primaryPackagePurpose": "CONTAINER",
            "checksums": [{"algorithm": "SHA256", "checksumValue": b.hex()}],
            "externalRefs": [{
                "referenceCategory": "PACKAGE-MANAGER",
                "referenceType": "purl",
                "referenceLocator": format!("pkg:oci/{}@{}", purl(base_short), purl(&b.to_string())),
            }],
        }));
        relationships.push(json!({
            "spdxElementId": "SPDXRef-Image",
            "relationshipType": "DESCENDANT_OF",
            "relatedSpdxElement": "SPDXRef-Base",
        }));
    }
    for r in records {
        let ver = r.version.clone().unwrap_or_default();
        let arch = r.architecture.clone().unwrap_or_else(|| "all".into());
        let id = format!(
            "SPDXRef-Package-deb-{}-{}",
            spdx_id(&r.package),
            spdx_id(&arch)
        );
        packages.push(json!({
            "SPDXID": id,
            "name": r.package,
            "versionInfo": ver,
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": false,
            "licenseConcluded": "NOASSERTION",
            "licenseDeclared": "NOASSERTION",
            "copyrightText": "NOASSERTION",
            "supplier": "NOASSERTION",
            "externalRefs": [{
                "referenceCategory": "PACKAGE-MANAGER",
                "referenceType": "purl",
                "referenceLocator": format!(
                    "pkg:deb/debian/{}@{}?arch={}",
                    purl(&r.package), purl(&ver), purl(&arch)
                ),
            }],
        }));
        relationships.push(json!({
            "spdxElementId": "SPDXRef-Image",
            "relationshipType": "CONTAINS",
            "relatedSpdxElement": id,
        }));
    }
    let doc: Value = json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": format!("{name}-{version}"),
        "documentNamespace": format!("https://corebuild.dev/spdx/{}/{}/sha256-{}", purl(name), purl(version), digest.hex()),
        "creationInfo": {
            "created": created,
            "creators": [concat!("Tool: corebuild-", env!("CARGO_PKG_VERSION"))],
        },
        "documentDescribes": ["SPDXRef-Image"],
        "packages": packages,
        "relationships": relationships,
    });
    let mut out = serde_json::to_vec_pretty(&doc).expect("JSON values serialize");
    out.push(b'\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whiteouts_that_hide_the_status_file() {
        for p in [
            "var/lib/dpkg/.wh.status",
            "var/lib/.wh.dpkg",
            "var/.wh.lib",
            ".wh.var",
            "var/lib/dpkg/.wh..wh..opq",
            "var/.wh..wh..opq",
            ".wh..wh..opq",
        ] {
            assert!(hides_status(p), "{p}");
        }
        for p in [
            "var/lib/dpkg/.wh.status-old",
            "var/lib/apt/.wh..wh..opq",
            "var/lib/dpkg/status",
            "usr/.wh.lib",
        ] {
            assert!(!hides_status(p), "{p}");
        }
        assert_eq!(norm("./var/lib/dpkg/"), "var/lib/dpkg");
    }

    #[test]
    fn purls_escape_epochs_and_plus() {
        assert_eq!(purl("1:2.36-9+deb12u4"), "1%3A2.36-9%2Bdeb12u4");
        assert_eq!(spdx_id("libc6:amd64"), "libc6-amd64");
    }
}
