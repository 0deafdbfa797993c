//! The few fields of an image or artifact manifest the site reads (config, layers with
//! their media type, digest, size and title), parsed with plain serde: the catalog already
//! verified the bytes, and the full oci-spec parse costs more than the rest of a page.

use crate::digest::Digest;
use serde::Deserialize;
use std::collections::BTreeMap;

/// A descriptor: what a manifest says about one blob.
#[derive(Debug, Clone, Deserialize)]
pub struct Blob {
    #[serde(rename = "mediaType", default)]
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

impl Blob {
    /// Its `org.opencontainers.image.title` annotation.
    pub fn title(&self) -> Option<&str> {
        self.annotations
            .get("org.opencontainers.image.title")
            .map(String::as_str)
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Manifest {
    pub config: Option<Blob>,
    #[serde(default)]
    pub layers: Vec<Blob>,
}

/// Parses manifest bytes; `None` when they are not a manifest.
pub fn parse(bytes: &[u8]) -> Option<Manifest> {
    serde_json::from_slice(bytes).ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_layers_and_titles() {
        let d = format!("sha256:{}", "ab".repeat(32));
        let m = super::parse(
            format!(
                r#"{{"schemaVersion":2,"config":{{"mediaType":"x","digest":"{d}","size":2}},
                "layers":[{{"mediaType":"text/markdown","digest":"{d}","size":3,
                "annotations":{{"org.opencontainers.image.title":"1.0.0.md"}}}}]}}"#
            )
            .as_bytes(),
        )
        .unwrap();
        assert_eq!(m.layers[0].title(), Some("1.0.0.md"));
        assert_eq!(m.config.unwrap().size, 2);
        assert!(super::parse(b"{\"layers\":[{\"digest\":\"md5:x\",\"size\":1}]}").is_none());
    }
}
