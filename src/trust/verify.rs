//! Verifying what a repository holds about an image against public keys: every
//! signature layer over its payload, and the payload's claims (the digest, the
//! repository); every attestation envelope over its statement, and the statement's
//! subject. A finding names the layer and what is wrong with it.

use super::cosign::{self, Kind};
use super::dsse;
use super::keys::PublicKey;
use super::payload;
use super::repo::Repository;
use crate::digest::Digest;
use anyhow::Result;
use base64::Engine as _;
use oci_spec::image::Descriptor;
use serde::Serialize;

/// The largest signature payload read (cosign's are a few hundred bytes).
const PAYLOAD_LIMIT: u64 = 64 << 10;
/// The largest envelope read (an SPDX SBOM with files is a few MiB).
const ENVELOPE_LIMIT: u64 = 64 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Signed by one of the keys, and it says what it should.
    Verified,
    /// Signed by none of the keys (another signer's; not an error by itself for
    /// signatures, since one image may carry signatures by several keys).
    UnknownKey,
    /// Broken, or signed by a trusted key but about something else.
    Invalid,
}

/// The check of one layer.
#[derive(Debug, Clone, Serialize)]
pub struct LayerCheck {
    pub layer: Digest,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub predicate_type: Option<String>,
    pub verdict: Verdict,
    /// The fingerprint of the key that signed it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Everything verified about one image.
#[derive(Debug, Clone, Serialize)]
pub struct Verification {
    pub identity: String,
    pub digest: Digest,
    /// The keys tried: fingerprint and file.
    pub keys: Vec<String>,
    pub signatures: Vec<LayerCheck>,
    pub attestations: Vec<LayerCheck>,
    /// What failed; empty when the image verifies.
    pub problems: Vec<String>,
}

impl Verification {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// The keys as messages name them.
pub fn describe_keys(keys: &[PublicKey]) -> String {
    keys.iter()
        .map(PublicKey::describe)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Checks the signatures of `digest` only (what a policy needs).
pub fn signatures(repo: &dyn Repository, digest: &Digest, keys: &[PublicKey]) -> Verification {
    let mut v = Verification {
        identity: repo.identity(),
        digest: digest.clone(),
        keys: keys.iter().map(PublicKey::describe).collect(),
        signatures: Vec::new(),
        attestations: Vec::new(),
        problems: Vec::new(),
    };
    let tag = cosign::tag(digest, Kind::Signatures);
    let layers = match cosign::layers(repo, digest, Kind::Signatures) {
        Ok(l) => l,
        Err(e) => {
            v.problems.push(format!("{e:#}"));
            return v;
        }
    };
    if layers.is_empty() {
        v.problems.push(format!(
            "{digest} is not signed: {} has no {tag}",
            v.identity
        ));
        return v;
    }
    for l in &layers {
        v.signatures.push(check_signature(repo, l, digest, keys));
    }
    for c in v
        .signatures
        .iter()
        .filter(|c| c.verdict == Verdict::Invalid)
    {
        v.problems.push(format!(
            "signature layer {} of {digest}: {}",
            c.layer,
            c.detail.as_deref().unwrap_or("invalid")
        ));
    }
    if !v.signatures.iter().any(|c| c.verdict == Verdict::Verified) {
        v.problems.push(format!(
            "no signature of {digest} in {} verifies with the keys tried: {}",
            v.identity,
            describe_keys(keys)
        ));
    }
    v
}

/// Checks signatures and attestations of `digest` (a release: it must have both).
pub fn all(repo: &dyn Repository, digest: &Digest, keys: &[PublicKey]) -> Verification {
    let mut v = signatures(repo, digest, keys);
    attestations(repo, digest, keys, true, &mut v);
    v
}

/// Adds the checks of `digest`'s attestations to `v`; their absence is a problem only
/// when `required` (a vendor image may carry signatures alone).
pub fn attestations(
    repo: &dyn Repository,
    digest: &Digest,
    keys: &[PublicKey],
    required: bool,
    v: &mut Verification,
) {
    match cosign::layers(repo, digest, Kind::Attestations) {
        Err(e) => v.problems.push(format!("{e:#}")),
        Ok(l) if l.is_empty() => {
            if required {
                v.problems.push(format!(
                    "{digest} has no attestations: {} has no {}",
                    v.identity,
                    cosign::tag(digest, Kind::Attestations)
                ))
            }
        }
        Ok(layers) => {
            let checks = check_attestations(repo, &layers, digest, keys);
            for c in checks.iter().filter(|c| c.verdict != Verdict::Verified) {
                v.problems.push(format!(
                    "attestation layer {} ({}) of {digest}: {}",
                    c.layer,
                    c.predicate_type.as_deref().unwrap_or("no predicateType"),
                    c.detail.as_deref().unwrap_or("invalid")
                ));
            }
            v.attestations.extend(checks);
        }
    }
}

fn check(layer: &Descriptor, verdict: Verdict, detail: Option<String>) -> LayerCheck {
    LayerCheck {
        layer: Digest::try_from(layer.digest()).unwrap_or_else(|_| Digest::of_bytes(b"")),
        predicate_type: None,
        verdict,
        key: None,
        detail,
    }
}

fn annotation<'a>(layer: &'a Descriptor, key: &str) -> Option<&'a str> {
    layer
        .annotations()
        .as_ref()
        .and_then(|a| a.get(key))
        .map(String::as_str)
}

/// Reads a layer's blob, bounded and verified.
fn read_layer(repo: &dyn Repository, layer: &Descriptor, limit: u64) -> Result<Vec<u8>, String> {
    if layer.size() > limit {
        return Err(format!("is {} bytes, more than {limit}", layer.size()));
    }
    let d = Digest::try_from(layer.digest()).map_err(|e| format!("{e:#}"))?;
    repo.read_blob(&d, layer.size())
        .map_err(|e| format!("cannot be read: {e:#}"))
}

fn check_signature(
    repo: &dyn Repository,
    layer: &Descriptor,
    digest: &Digest,
    keys: &[PublicKey],
) -> LayerCheck {
    let invalid = |why: String| check(layer, Verdict::Invalid, Some(why));
    if layer.media_type().to_string() != cosign::SIMPLESIGNING_MEDIA_TYPE {
        return invalid(format!(
            "media type {} is not a signature",
            layer.media_type()
        ));
    }
    let Some(sig) = annotation(layer, cosign::SIGNATURE_ANNOTATION) else {
        return invalid(format!(
            "has no {} annotation",
            cosign::SIGNATURE_ANNOTATION
        ));
    };
    let Ok(sig) = base64::engine::general_purpose::STANDARD.decode(sig) else {
        return invalid("its signature is not base64".into());
    };
    let body = match read_layer(repo, layer, PAYLOAD_LIMIT) {
        Ok(b) => b,
        Err(why) => return invalid(format!("its payload {why}")),
    };
    let Some(key) = keys.iter().find(|k| k.verify(&body, &sig)) else {
        return check(
            layer,
            Verdict::UnknownKey,
            Some("signed by none of the keys tried".into()),
        );
    };
    let mut c = match payload::parse(&body) {
        Err(e) => invalid(format!("{e:#}")),
        Ok(p) => match payload::mismatch(&p, &repo.identity(), digest) {
            Some(why) => invalid(format!("signed by {}, but {why}", key.fingerprint())),
            None => check(layer, Verdict::Verified, None),
        },
    };
    c.key = Some(key.fingerprint());
    c
}

/// Checks every envelope; one signed by no trusted key passes only when a trusted key
/// signed the very same statement (a signature kept from a retired key).
fn check_attestations(
    repo: &dyn Repository,
    layers: &[Descriptor],
    digest: &Digest,
    keys: &[PublicKey],
) -> Vec<LayerCheck> {
    let mut out = Vec::new();
    let mut vouched: Vec<Vec<u8>> = Vec::new();
    let mut unknown: Vec<(usize, Vec<u8>)> = Vec::new();
    for l in layers {
        let (c, statement) = check_envelope(repo, l, digest, keys);
        if let Some(st) = statement {
            match c.verdict {
                Verdict::Verified => vouched.push(st),
                Verdict::UnknownKey => unknown.push((out.len(), st)),
                Verdict::Invalid => {}
            }
        }
        out.push(c);
    }
    for (i, st) in unknown {
        if vouched.contains(&st) {
            out[i].verdict = Verdict::Verified;
            out[i].detail = Some("the same statement is signed by a trusted key".into());
        } else {
            out[i].verdict = Verdict::Invalid;
            out[i].detail = Some(format!(
                "not signed by any of the keys tried: {}",
                describe_keys(keys)
            ));
        }
    }
    out
}

fn check_envelope(
    repo: &dyn Repository,
    layer: &Descriptor,
    digest: &Digest,
    keys: &[PublicKey],
) -> (LayerCheck, Option<Vec<u8>>) {
    let annotated = annotation(layer, cosign::PREDICATE_TYPE_ANNOTATION).map(str::to_string);
    let with_type = |mut c: LayerCheck| {
        c.predicate_type = annotated.clone();
        c
    };
    let invalid = |why: String| with_type(check(layer, Verdict::Invalid, Some(why)));
    if layer.media_type().to_string() != dsse::ENVELOPE_MEDIA_TYPE {
        return (
            invalid(format!(
                "media type {} is not a DSSE envelope",
                layer.media_type()
            )),
            None,
        );
    }
    let opened = match read_layer(repo, layer, ENVELOPE_LIMIT)
        .and_then(|b| dsse::open(&b).map_err(|e| format!("{e:#}")))
    {
        Ok(o) => o,
        Err(why) => return (invalid(why), None),
    };
    let head = match dsse::head(&opened.statement) {
        Ok(h) => h,
        Err(e) => return (invalid(format!("{e:#}")), None),
    };
    let problem = if head.kind != dsse::STATEMENT_TYPE {
        Some(format!("its statement type is {:?}", head.kind))
    } else if !head.names(digest) {
        let names: Vec<String> = head
            .subject
            .iter()
            .filter_map(|s| s.digest.get("sha256").map(|h| format!("sha256:{h}")))
            .collect();
        Some(format!("it is about {}, not {digest}", names.join(", ")))
    } else if annotated.as_deref() != Some(head.predicate_type.as_str()) {
        Some(format!(
            "its annotation says predicateType {:?}, its statement {:?}",
            annotated.as_deref().unwrap_or(""),
            head.predicate_type
        ))
    } else {
        None
    };
    let key = opened.signed_by(keys);
    let mut c = match (key, problem) {
        (Some(k), Some(why)) => invalid(format!("signed by {}, but {why}", k.fingerprint())),
        (None, Some(why)) => invalid(format!("not signed by any of the keys tried, and {why}")),
        (Some(_), None) => with_type(check(layer, Verdict::Verified, None)),
        (None, None) => with_type(check(layer, Verdict::UnknownKey, None)),
    };
    c.key = key.map(PublicKey::fingerprint);
    (c, Some(opened.statement))
}
