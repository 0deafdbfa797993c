//! The SBOM of an image: an SPDX 2.3 JSON document listing the packages of its dpkg
//! database (with purls), the image itself and its base (by digest), and its regular
//! files (`fileName` `/usr/bin/x`, SHA-1 as SPDX requires and SHA-256), each contained by
//! the package whose `/var/lib/dpkg/info/<pkg>[:<arch>].list` names it, else by the image.
//! `corebuild query --file` answers from that list.
//!
//! Deterministic: the same image gives the same bytes (packages and files sorted).
//! `documentNamespace` is derived from the image digest and `created` is the image's build
//! epoch (its config `created`), never the clock. The file list needs every layer read
//! once (streamed through the bounded tar reader, nothing written); an image with more
//! than [`flatten::MAX_FILES`] files gets no file list and a document `comment` saying so,
//! to keep the SBOM a document a query can read. (`status.d/`, the one-file-per-package
//! database of distroless images, is not read.) [`dpkg_status`] alone, for callers that
//! need only the database, reads from the top layer down and stops at the first that
//! decides.

mod flatten;

use crate::debian::dpkg;
use crate::digest::Digest;
use crate::layer::{self, ApplyOptions, Compression, TarReader};
use crate::oci::{OciDir, StoredImage};
/// A purl component, percent-encoded (`+` and `:` too).
use crate::percent::encode as purl;
use anyhow::{Context, Result};
use serde_json::{json, Value};
use std::collections::BTreeMap;
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

/// A layer of the store as a tar stream. Untrusted (a pulled or imported base): the
/// bounded reader, with an apply's caps.
fn layer_tar(store: &OciDir, l: &oci_spec::image::Descriptor) -> Result<TarReader<impl Read>> {
    let digest = Digest::try_from(l.digest())?;
    let mt = l.media_type().to_string();
    let c = Compression::from_media_type(&mt).ok_or_else(|| {
        crate::error::input(format!("layer {digest}: unsupported media type {mt}"))
    })?;
    let blob = store.open_blob(&digest, Some(l.size()))?;
    Ok(TarReader::bounded(
        layer::decompress(c, blob),
        &ApplyOptions::default(),
    ))
}

fn scan_layer(store: &OciDir, l: &oci_spec::image::Descriptor) -> Result<InLayer> {
    let digest = Digest::try_from(l.digest())?;
    let mut tar = layer_tar(store, l)?;
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
    let _t = crate::profile::span(|| "publish: the SBOM".into());
    let flat = flatten::flatten(store, image)?;
    let mut records: Vec<dpkg::Record> = flat
        .texts
        .get(STATUS_PATH)
        .map(|b| dpkg::parse(&String::from_utf8_lossy(b)))
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.installed())
        .collect();
    records.sort_by(|a, b| {
        (&a.package, &a.architecture, &a.version).cmp(&(&b.package, &b.architecture, &b.version))
    });
    records.dedup();
    let mut doc = document(image, name, version, &records);
    add_files(&mut doc, &flat, &records);
    let mut out = serde_json::to_vec_pretty(&doc).expect("JSON values serialize");
    out.push(b'\n');
    Ok(out)
}

/// The SPDX id of a package record.
fn package_id(r: &dpkg::Record) -> String {
    let arch = r.architecture.clone().unwrap_or_else(|| "all".into());
    format!(
        "SPDXRef-Package-deb-{}-{}",
        spdx_id(&r.package),
        spdx_id(&arch)
    )
}

/// Per file path (relative), the SPDX ids of the packages whose dpkg list names it.
fn owners(flat: &flatten::Flat, records: &[dpkg::Record]) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (path, text) in &flat.texts {
        let Some(spec) = path
            .strip_prefix("var/lib/dpkg/info/")
            .and_then(|f| f.strip_suffix(".list"))
        else {
            continue;
        };
        let Some(r) = records.iter().find(|r| r.is(spec)) else {
            continue;
        };
        let id = package_id(r);
        for line in String::from_utf8_lossy(text).lines() {
            let p = line.trim_start_matches('/');
            let p = if flat.files.contains_key(p) {
                p.to_string()
            } else {
                flat.resolve_dirs(p)
            };
            if flat.files.contains_key(&p) {
                out.entry(p).or_default().push(id.clone());
            }
        }
    }
    for ids in out.values_mut() {
        ids.sort();
        ids.dedup();
    }
    out
}

/// Adds `files` and their `CONTAINS` relationships (sorted by path) to `doc`.
fn add_files(doc: &mut Value, flat: &flatten::Flat, records: &[dpkg::Record]) {
    if flat.files.len() > flatten::MAX_FILES {
        doc["comment"] = json!(format!(
            "files not listed: the image has {} regular files, more than {}",
            flat.files.len(),
            flatten::MAX_FILES
        ));
        return;
    }
    let owners = owners(flat, records);
    let mut files = Vec::with_capacity(flat.files.len());
    let mut rels = Vec::new();
    for (i, (path, sum)) in flat.files.iter().enumerate() {
        let id = format!("SPDXRef-File-{i}");
        files.push(json!({
            "SPDXID": id,
            "fileName": format!("/{path}"),
            "checksums": [
                {"algorithm": "SHA1", "checksumValue": hex::encode(sum.sha1)},
                {"algorithm": "SHA256", "checksumValue": sum.sha256.hex()},
            ],
        }));
        let by = owners
            .get(path)
            .cloned()
            .unwrap_or_else(|| vec!["SPDXRef-Image".to_string()]);
        for o in by {
            rels.push(json!({
                "spdxElementId": o,
                "relationshipType": "CONTAINS",
                "relatedSpdxElement": id,
            }));
        }
    }
    doc["files"] = Value::Array(files);
    if let Some(r) = doc["relationships"].as_array_mut() {
        r.extend(rels);
    }
}

fn document(image: &StoredImage, name: &str, version: &str, records: &[dpkg::Record]) -> Value {
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
        let id = package_id(r);
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
    json!({
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
    })
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
