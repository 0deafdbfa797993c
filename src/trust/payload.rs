//! The simple-signing payload cosign signs for a container image
//! (sigstore/cosign `specs/SIGNATURE_SPEC.md`): the repository it is signed for, the
//! manifest digest, and the type `cosign container image signature`.

use crate::digest::Digest;
use anyhow::Result;
use serde::{Deserialize, Serialize};

/// The `critical.type` of an image signature.
pub const SIGNATURE_TYPE: &str = "cosign container image signature";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payload {
    pub critical: Critical,
    /// Free-form claims; cosign writes `null` when there are none.
    #[serde(default)]
    pub optional: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Critical {
    pub identity: Identity,
    pub image: Image,
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    #[serde(rename = "docker-reference")]
    pub docker_reference: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Image {
    #[serde(rename = "docker-manifest-digest")]
    pub docker_manifest_digest: String,
}

/// The payload bytes for `digest` in repository `identity`, as cosign writes them (one
/// line of JSON, fields in its order).
pub fn build(identity: &str, digest: &Digest) -> Vec<u8> {
    let p = Payload {
        critical: Critical {
            identity: Identity {
                docker_reference: identity.to_string(),
            },
            image: Image {
                docker_manifest_digest: digest.to_string(),
            },
            kind: SIGNATURE_TYPE.to_string(),
        },
        optional: None,
    };
    serde_json::to_vec(&p).expect("a payload is plain strings")
}

/// Parses payload bytes (read from an untrusted signature layer).
pub fn parse(bytes: &[u8]) -> Result<Payload> {
    serde_json::from_slice(bytes)
        .map_err(|e| crate::error::failed(format!("the signed payload does not parse: {e}")))
}

/// What is wrong with a payload that was signed for `digest` in `identity`, if anything.
pub fn mismatch(p: &Payload, identity: &str, digest: &Digest) -> Option<String> {
    if p.critical.kind != SIGNATURE_TYPE {
        return Some(format!(
            "its type is {:?}, not {SIGNATURE_TYPE:?}",
            p.critical.kind
        ));
    }
    if p.critical.image.docker_manifest_digest != digest.to_string() {
        return Some(format!(
            "it signs {}, not {digest}",
            p.critical.image.docker_manifest_digest
        ));
    }
    if p.critical.identity.docker_reference != identity {
        return Some(format!(
            "it is for {}, not {identity}",
            p.critical.identity.docker_reference
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_payload_is_cosigns_bytes_and_checks_its_claims() {
        let d: Digest = format!("sha256:{}", "ab".repeat(32)).parse().unwrap();
        let b = build("reg.example/ns/core", &d);
        assert_eq!(
            String::from_utf8(b.clone()).unwrap(),
            format!(
                r#"{{"critical":{{"identity":{{"docker-reference":"reg.example/ns/core"}},"image":{{"docker-manifest-digest":"{d}"}},"type":"cosign container image signature"}},"optional":null}}"#
            )
        );
        let p = parse(&b).unwrap();
        assert_eq!(mismatch(&p, "reg.example/ns/core", &d), None);
        let other: Digest = format!("sha256:{}", "cd".repeat(32)).parse().unwrap();
        assert!(mismatch(&p, "reg.example/ns/core", &other)
            .unwrap()
            .contains("not sha256:cdcd"));
        assert!(mismatch(&p, "reg.example/ns/other", &d)
            .unwrap()
            .contains("not reg.example/ns/other"));
        assert!(parse(b"{}").is_err());
    }
}
