//! Reading back the SPDX 2.3 SBOM a release carries: the Debian packages it lists (name,
//! version, architecture, from their purls) and its files (path and owning packages, from
//! the `CONTAINS` relationships), as the compact facts a query matches against.
//!
//! The document is untrusted (it comes from the catalog): only the fields read here must
//! have the right shape; anything else is ignored, and a package without a Debian purl is
//! skipped.

use crate::percent;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One Debian package of a release.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Package {
    pub name: String,
    pub version: String,
    pub arch: String,
}

/// One file of a release, with the packages that own it (by dpkg's file lists).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct File {
    pub path: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub packages: Vec<String>,
}

/// What an SBOM says a release holds, sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Facts {
    pub packages: Vec<Package>,
    pub files: Vec<File>,
}

#[derive(Deserialize)]
struct Doc {
    #[serde(rename = "spdxVersion")]
    spdx_version: String,
    #[serde(default)]
    packages: Vec<DocPackage>,
    #[serde(default)]
    files: Vec<DocFile>,
    #[serde(default)]
    relationships: Vec<Relationship>,
}

#[derive(Deserialize)]
struct DocPackage {
    #[serde(rename = "SPDXID")]
    id: String,
    #[serde(rename = "externalRefs", default)]
    refs: Vec<ExternalRef>,
}

#[derive(Deserialize)]
struct ExternalRef {
    #[serde(rename = "referenceType")]
    kind: String,
    #[serde(rename = "referenceLocator")]
    locator: String,
}

#[derive(Deserialize)]
struct DocFile {
    #[serde(rename = "SPDXID")]
    id: String,
    #[serde(rename = "fileName")]
    name: String,
}

#[derive(Deserialize)]
struct Relationship {
    #[serde(rename = "spdxElementId")]
    from: String,
    #[serde(rename = "relationshipType")]
    kind: String,
    #[serde(rename = "relatedSpdxElement")]
    to: String,
}

/// `pkg:deb/debian/NAME@VERSION?arch=ARCH` (percent-encoded components) as a package.
pub fn parse_deb_purl(purl: &str) -> Option<Package> {
    let rest = purl.strip_prefix("pkg:deb/")?;
    let (_namespace, rest) = rest.split_once('/')?;
    let (rest, _subpath) = rest.split_once('#').unwrap_or((rest, ""));
    let (nv, qualifiers) = rest.split_once('?').unwrap_or((rest, ""));
    let (name, version) = nv.split_once('@')?;
    let arch = qualifiers
        .split('&')
        .find_map(|q| q.strip_prefix("arch="))
        .unwrap_or("");
    Some(Package {
        name: percent::decode(name)?,
        version: percent::decode(version)?,
        arch: percent::decode(arch)?,
    })
}

impl DocPackage {
    /// The Debian package its purl names, if it is one.
    fn deb(&self) -> Option<Package> {
        self.refs
            .iter()
            .filter(|r| r.kind == "purl")
            .find_map(|r| parse_deb_purl(&r.locator))
    }
}

/// An SPDX 2 document as [`packages`] reads it: serde skips the file list and the
/// relationships without building them, so a 4 MB SBOM is read quickly.
#[derive(Deserialize)]
struct PackagesDoc {
    #[serde(rename = "spdxVersion")]
    spdx_version: String,
    #[serde(default)]
    packages: Vec<DocPackage>,
}

/// Parses an SPDX JSON document and checks that it is SPDX 2.
fn read_doc<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    version: impl Fn(&T) -> &str,
) -> Result<T, String> {
    let doc: T = serde_json::from_slice(bytes).map_err(|e| format!("not SPDX JSON: {e}"))?;
    let v = version(&doc);
    if !v.starts_with("SPDX-2.") {
        return Err(format!("spdxVersion {v:?} is not SPDX 2"));
    }
    Ok(doc)
}

/// The Debian packages an SPDX 2.x JSON document lists, sorted, without its files.
pub fn packages(bytes: &[u8]) -> Result<Vec<Package>, String> {
    let doc: PackagesDoc = read_doc(bytes, |d: &PackagesDoc| &d.spdx_version)?;
    let mut out: Vec<Package> = doc.packages.iter().filter_map(DocPackage::deb).collect();
    out.sort();
    out.dedup();
    Ok(out)
}

/// The facts of an SPDX 2.x JSON document; an error says what is wrong with it.
pub fn parse(bytes: &[u8]) -> Result<Facts, String> {
    let doc: Doc = read_doc(bytes, |d: &Doc| &d.spdx_version)?;
    let mut by_id: BTreeMap<&str, &str> = BTreeMap::new();
    let mut packages = Vec::new();
    for p in &doc.packages {
        if let Some(pkg) = p.deb() {
            packages.push((p.id.as_str(), pkg));
        }
    }
    for (id, pkg) in &packages {
        by_id.insert(id, pkg.name.as_str());
    }
    let mut owners: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for r in doc.relationships.iter().filter(|r| r.kind == "CONTAINS") {
        if let Some(name) = by_id.get(r.from.as_str()) {
            owners.entry(&r.to).or_default().push(name.to_string());
        }
    }
    let mut files: Vec<File> = doc
        .files
        .iter()
        .map(|f| {
            let mut packages = owners.remove(f.id.as_str()).unwrap_or_default();
            packages.sort();
            packages.dedup();
            File {
                path: normalize_path(&f.name),
                packages,
            }
        })
        .collect();
    files.sort();
    let mut packages: Vec<Package> = packages.into_iter().map(|(_, p)| p).collect();
    packages.sort();
    packages.dedup();
    Ok(Facts { packages, files })
}

/// A file path as queries compare it: absolute, without `./`, `//` or a trailing `/`.
pub fn normalize_path(p: &str) -> String {
    let parts: Vec<&str> = p
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    format!("/{}", parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purls_decode() {
        let p = parse_deb_purl("pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64").unwrap();
        assert_eq!(
            (p.name.as_str(), p.version.as_str(), p.arch.as_str()),
            ("libc6", "2.36-9+deb12u4", "amd64")
        );
        let p = parse_deb_purl("pkg:deb/debian/x@1%3A2.0").unwrap();
        assert_eq!((p.version.as_str(), p.arch.as_str()), ("1:2.0", ""));
        assert!(parse_deb_purl("pkg:oci/core@sha256%3Aab").is_none());
        assert!(parse_deb_purl("pkg:deb/debian/noversion").is_none());
        assert!(parse_deb_purl("pkg:deb/debian/bad@%zz").is_none());
    }

    #[test]
    fn packages_files_and_owners() {
        let doc = br#"{"spdxVersion":"SPDX-2.3","unknown":1,
          "packages":[
            {"SPDXID":"SPDXRef-Image","externalRefs":[{"referenceType":"purl","referenceLocator":"pkg:oci/a@sha256%3A00"}]},
            {"SPDXID":"SPDXRef-P1","name":"corelib","externalRefs":[{"referenceType":"purl","referenceLocator":"pkg:deb/debian/corelib@1.0-1?arch=amd64"}]}],
          "files":[{"SPDXID":"SPDXRef-F2","fileName":"./etc/x"},{"SPDXID":"SPDXRef-F1","fileName":"/usr/lib/libcore.so.1"}],
          "relationships":[{"spdxElementId":"SPDXRef-P1","relationshipType":"CONTAINS","relatedSpdxElement":"SPDXRef-F1"},
                           {"spdxElementId":"SPDXRef-Image","relationshipType":"CONTAINS","relatedSpdxElement":"SPDXRef-F2"}]}"#;
        let f = parse(doc).unwrap();
        assert_eq!(f.packages.len(), 1);
        assert_eq!(f.packages[0].name, "corelib");
        assert_eq!(f.files[0].path, "/etc/x");
        assert!(f.files[0].packages.is_empty());
        assert_eq!(f.files[1].packages, ["corelib"]);
        assert!(parse(b"{}").unwrap_err().contains("not SPDX JSON"));
        assert!(parse(br#"{"spdxVersion":"SPDX-3.0"}"#)
            .unwrap_err()
            .contains("SPDX-3.0"));
        assert!(parse(br#"{"spdxVersion":"SPDX-2.3","packages":{}}"#).is_err());
    }

    #[test]
    fn paths_normalize() {
        assert_eq!(normalize_path("./usr//bin/x/"), "/usr/bin/x");
        assert_eq!(normalize_path("/"), "/");
    }
}
