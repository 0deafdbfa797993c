//! in-toto statements in DSSE envelopes (secure-systems-lab/dsse `envelope.md`,
//! `protocol.md`): the signature is over PAE(payloadType, payload), never the bare
//! payload, so a signed statement cannot be replayed as another type.

use super::keys::{PublicKey, SigningKey};
use crate::digest::Digest;
use anyhow::Result;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

/// The payload type of an in-toto statement.
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
/// The media type of a layer holding one envelope (cosign's).
pub const ENVELOPE_MEDIA_TYPE: &str = "application/vnd.dsse.envelope.v1+json";
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    #[serde(rename = "payloadType")]
    pub payload_type: String,
    /// Base64 of the statement.
    pub payload: String,
    pub signatures: Vec<EnvelopeSignature>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvelopeSignature {
    /// An unauthenticated hint: the key's fingerprint.
    #[serde(default)]
    pub keyid: String,
    /// Base64 of the DER signature.
    pub sig: String,
}

/// The DSSE pre-authentication encoding: `DSSEv1 <len> <type> <len> <body>`.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {payload_type} {} ",
        payload_type.len(),
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

/// An in-toto statement about `digest` (named `name`) with `predicate`, which must be
/// JSON (our own SBOM, report or VEX bytes): spliced in as it is, not re-encoded.
pub fn statement(name: &str, digest: &Digest, predicate_type: &str, predicate: &[u8]) -> Vec<u8> {
    let head = serde_json::json!({
        "_type": STATEMENT_TYPE,
        "subject": [{ "name": name, "digest": { "sha256": digest.hex() } }],
        "predicateType": predicate_type,
    });
    let mut out = serde_json::to_vec(&head).expect("plain JSON");
    out.pop(); // the closing brace
    out.extend_from_slice(b",\"predicate\":");
    out.extend_from_slice(predicate.trim_ascii());
    out.push(b'}');
    out
}

/// The envelope of `statement` signed with `key`, as the bytes of its layer.
pub fn sign(key: &SigningKey, statement: &[u8]) -> Vec<u8> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let env = Envelope {
        payload_type: PAYLOAD_TYPE.to_string(),
        payload: b64.encode(statement),
        signatures: vec![EnvelopeSignature {
            keyid: key.public().fingerprint(),
            sig: b64.encode(key.sign(&pae(PAYLOAD_TYPE, statement))),
        }],
    };
    serde_json::to_vec(&env).expect("plain JSON")
}

/// An envelope read from an untrusted layer: the decoded statement and its signatures.
pub struct Opened {
    pub statement: Vec<u8>,
    pub signatures: Vec<Vec<u8>>,
}

/// Parses an envelope and decodes its payload and signatures.
pub fn open(bytes: &[u8]) -> Result<Opened> {
    let bad = |why: String| crate::error::failed(format!("the DSSE envelope {why}"));
    let env: Envelope =
        serde_json::from_slice(bytes).map_err(|e| bad(format!("does not parse: {e}")))?;
    if env.payload_type != PAYLOAD_TYPE {
        return Err(bad(format!(
            "has payloadType {:?}, not {PAYLOAD_TYPE:?}",
            env.payload_type
        )));
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    let statement = b64
        .decode(&env.payload)
        .map_err(|e| bad(format!("payload is not base64: {e}")))?;
    let signatures = env
        .signatures
        .iter()
        .map(|s| b64.decode(&s.sig))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(format!("has a signature that is not base64: {e}")))?;
    Ok(Opened {
        statement,
        signatures,
    })
}

impl Opened {
    /// The first of `keys` that signed the envelope.
    pub fn signed_by<'k>(&self, keys: &'k [PublicKey]) -> Option<&'k PublicKey> {
        let pae = pae(PAYLOAD_TYPE, &self.statement);
        keys.iter()
            .find(|k| self.signatures.iter().any(|s| k.verify(&pae, s)))
    }
}

/// The parts of a statement a verifier checks.
#[derive(Debug, Deserialize)]
pub struct StatementHead {
    #[serde(rename = "_type")]
    pub kind: String,
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    pub subject: Vec<Subject>,
}

#[derive(Debug, Deserialize)]
pub struct Subject {
    #[serde(default)]
    pub name: String,
    pub digest: std::collections::BTreeMap<String, String>,
}

/// Parses the head of a statement (the predicate is not needed to check it).
pub fn head(statement: &[u8]) -> Result<StatementHead> {
    serde_json::from_slice(statement)
        .map_err(|e| crate::error::failed(format!("the attested statement does not parse: {e}")))
}

impl StatementHead {
    /// Whether the statement is about `digest`.
    pub fn names(&self, digest: &Digest) -> bool {
        self.subject
            .iter()
            .any(|s| s.digest.get("sha256").is_some_and(|h| h == digest.hex()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pae_is_the_spec_example() {
        // From the DSSE protocol document.
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
    }

    #[test]
    fn an_envelope_round_trips_and_names_its_subject() {
        let key = SigningKey::generate();
        let d: Digest = format!("sha256:{}", "ab".repeat(32)).parse().unwrap();
        let st = statement(
            "core",
            &d,
            "https://spdx.dev/Document",
            b"{\"spdxVersion\":\"SPDX-2.3\"}\n",
        );
        let h = head(&st).unwrap();
        assert_eq!(h.kind, STATEMENT_TYPE);
        assert_eq!(h.predicate_type, "https://spdx.dev/Document");
        assert!(h.names(&d));
        let env = sign(&key, &st);
        let opened = open(&env).unwrap();
        assert_eq!(opened.statement, st);
        let keys = [SigningKey::generate().public(), key.public()];
        assert_eq!(
            opened.signed_by(&keys).unwrap().fingerprint(),
            key.public().fingerprint()
        );
        assert!(opened.signed_by(&keys[..1]).is_none());
        let v: serde_json::Value = serde_json::from_slice(&st).unwrap();
        assert_eq!(v["predicate"]["spdxVersion"], "SPDX-2.3");
    }
}
