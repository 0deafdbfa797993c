//! OpenVEX documents (https://github.com/openvex/spec, v0.2.0): what a release says
//! about vulnerabilities, one `fixed` statement per advisory and package. Published as
//! an artifact attached to the release; `corebuild query --cve` reads them back.

use crate::advisory::fixed::Fix;
use crate::digest::Digest;
use crate::percent::encode as purl;
use anyhow::Result;
use serde::{Deserialize, Serialize};

/// The artifact type and layer media type of an attached OpenVEX document. vexctl's own
/// `attach` wraps the document in a signed in-toto attestation (a DSSE envelope, as
/// cosign attestations are); an unsigned document attached as an OCI 1.1 referrer is
/// conventionally typed like this (oras, regctl and scanners that read referrers).
pub const MEDIA_TYPE: &str = "application/vnd.openvex+json";

/// The author of every document this code writes.
pub const AUTHOR: &str = "corebuild";

/// The largest document [`parse`] reads.
pub const PARSE_LIMIT: usize = 16 << 20;

/// The OpenVEX context this code writes.
pub const CONTEXT: &str = "https://openvex.dev/ns/v0.2.0";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Document {
    #[serde(rename = "@context")]
    pub context: String,
    #[serde(rename = "@id")]
    pub id: String,
    pub author: String,
    /// RFC 3339, from the release's build epoch (never the clock).
    pub timestamp: String,
    pub version: u32,
    #[serde(default)]
    pub statements: Vec<Statement>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Statement {
    pub vulnerability: Vulnerability,
    #[serde(default)]
    pub products: Vec<Product>,
    /// `fixed` for what a release fixed; readers accept the other OpenVEX statuses.
    pub status: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vulnerability {
    /// `CVE-2026-0001`, `DSA-5900-1`, `DLA-4000-1`.
    pub name: String,
}

/// The image (`pkg:oci/NAME@sha256:…`) and the packages in it the statement is about
/// (`pkg:deb/debian/NAME@VERSION?arch=ARCH`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    #[serde(rename = "@id")]
    pub id: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subcomponents: Vec<Subcomponent>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subcomponent {
    #[serde(rename = "@id")]
    pub id: String,
}

/// The document of release `name` with manifest digest `digest`, created at `created`
/// (the image's RFC 3339 time, from the build epoch): one `fixed` statement per advisory
/// and package, ordered by advisory then package. The same inputs give the same bytes;
/// a release that fixed nothing gets a document with no statements.
pub fn document(name: &str, digest: &Digest, created: &str, fixes: &[Fix]) -> Document {
    let image = format!("pkg:oci/{}@{}", purl(name), purl(&digest.to_string()));
    let mut statements: Vec<Statement> = fixes
        .iter()
        .flat_map(|f| {
            let image = image.clone();
            f.advisories.iter().map(move |a| Statement {
                vulnerability: Vulnerability { name: a.clone() },
                products: vec![Product {
                    id: image.clone(),
                    subcomponents: vec![Subcomponent {
                        id: format!(
                            "pkg:deb/debian/{}@{}?arch={}",
                            purl(&f.package),
                            purl(&f.new_version),
                            purl(&f.architecture)
                        ),
                    }],
                }],
                status: "fixed".into(),
            })
        })
        .collect();
    // By advisory (in changelog order), then by package purl.
    statements.sort_by_cached_key(|s| {
        let parts: Vec<String> = s
            .products
            .iter()
            .flat_map(|p| p.subcomponents.iter().map(|c| c.id.clone()))
            .collect();
        let id = &s.vulnerability.name;
        (crate::debian::changelog::order(id), id.clone(), parts)
    });
    Document {
        context: CONTEXT.into(),
        id: format!(
            "https://corebuild.dev/vex/{}/sha256-{}",
            purl(name),
            digest.hex()
        ),
        author: AUTHOR.into(),
        timestamp: rfc3339_utc(created),
        version: 1,
        statements,
    }
}

/// The document's bytes as published: pretty JSON, fields in the order the types declare.
pub fn to_bytes(doc: &Document) -> Result<Vec<u8>> {
    let mut b = serde_json::to_vec_pretty(doc)?;
    b.push(b'\n');
    Ok(b)
}

/// Reads a document (from a catalog, so untrusted): at most [`PARSE_LIMIT`] bytes, and
/// the context must be OpenVEX's.
pub fn parse(bytes: &[u8]) -> Result<Document> {
    if bytes.len() > PARSE_LIMIT {
        return Err(crate::error::input(format!(
            "the OpenVEX document is {} bytes, more than the {} MiB read",
            bytes.len(),
            PARSE_LIMIT >> 20
        )));
    }
    let doc: Document = serde_json::from_slice(bytes)
        .map_err(|e| crate::error::input(format!("the OpenVEX document does not parse: {e}")))?;
    if !doc.context.starts_with("https://openvex.dev/ns") {
        return Err(crate::error::input(format!(
            "the OpenVEX document has @context {:?}, not https://openvex.dev/ns/…",
            doc.context
        )));
    }
    Ok(doc)
}

/// `created` as RFC 3339 in UTC with a `Z` (an image config may carry an offset or a
/// fraction); what is not a time at all becomes the epoch's start, never the clock.
fn rfc3339_utc(created: &str) -> String {
    crate::build::epoch::rfc3339(crate::build::epoch::parse_rfc3339(created).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fix(p: &str, v: &str, ids: &[&str]) -> Fix {
        Fix {
            package: p.into(),
            architecture: "amd64".into(),
            old_version: "0".into(),
            new_version: v.into(),
            advisories: ids.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn one_fixed_statement_per_advisory_and_package_deterministic() {
        let d: Digest = format!("sha256:{}", "ab".repeat(32)).parse().unwrap();
        let fixes = [
            fix(
                "openssl",
                "3.0.15-1~deb12u1",
                &["DSA-5764-1", "CVE-2024-6119"],
            ),
            fix("libssl3", "3.0.15-1~deb12u1", &["CVE-2024-6119"]),
        ];
        let doc = document("core-minimal", &d, "2025-01-01T01:00:00+01:00", &fixes);
        assert_eq!(doc.timestamp, "2025-01-01T00:00:00Z");
        assert_eq!(
            doc.id,
            format!("https://corebuild.dev/vex/core-minimal/sha256-{}", d.hex())
        );
        assert_eq!((doc.author.as_str(), doc.version), ("corebuild", 1));
        let got: Vec<(&str, &str)> = doc
            .statements
            .iter()
            .map(|s| {
                (
                    s.vulnerability.name.as_str(),
                    s.products[0].subcomponents[0].id.as_str(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (
                    "CVE-2024-6119",
                    "pkg:deb/debian/libssl3@3.0.15-1~deb12u1?arch=amd64"
                ),
                (
                    "CVE-2024-6119",
                    "pkg:deb/debian/openssl@3.0.15-1~deb12u1?arch=amd64"
                ),
                (
                    "DSA-5764-1",
                    "pkg:deb/debian/openssl@3.0.15-1~deb12u1?arch=amd64"
                ),
            ]
        );
        assert!(doc.statements.iter().all(|s| s.status == "fixed"
            && s.products[0].id == format!("pkg:oci/core-minimal@sha256%3A{}", d.hex())));
        // Same input, same bytes; and the bytes read back.
        let b = to_bytes(&doc).unwrap();
        let again = document(
            "core-minimal",
            &d,
            "2025-01-01T00:00:00Z",
            &[fixes[1].clone(), fixes[0].clone()],
        );
        assert_eq!(b, to_bytes(&again).unwrap());
        assert_eq!(parse(&b).unwrap(), doc);
        let text = String::from_utf8(b).unwrap();
        assert!(
            text.contains("\"@context\": \"https://openvex.dev/ns/v0.2.0\""),
            "{text}"
        );
        // Nothing fixed: a document without statements.
        assert!(document("x", &d, "", &[]).statements.is_empty());
    }

    #[test]
    fn parse_is_bounded_and_checks_the_context() {
        assert!(parse(&vec![b' '; PARSE_LIMIT + 1])
            .unwrap_err()
            .to_string()
            .contains("MiB"));
        assert!(parse(b"{").is_err());
        let other = br#"{"@context":"https://example.org","@id":"x","author":"a","timestamp":"t","version":1}"#;
        assert!(parse(other).unwrap_err().to_string().contains("@context"));
        let ok = br#"{"@context":"https://openvex.dev/ns/v0.2.0","@id":"x","author":"a","timestamp":"t","version":1}"#;
        assert!(parse(ok).unwrap().statements.is_empty());
    }
}
