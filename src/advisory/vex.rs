//! OpenVEX documents (https://github.com/openvex/spec, v0.2.0): what a release says
//! about vulnerabilities, one `fixed` statement per advisory and package. Published as
//! an artifact attached to the release; `corebuild query --cve` reads them back.

use serde::{Deserialize, Serialize};

/// The artifact type and layer media type of an attached OpenVEX document.
pub const MEDIA_TYPE: &str = "application/vnd.openvex+json";

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
