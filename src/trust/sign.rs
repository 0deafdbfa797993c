//! Signing an image where it is published: a cosign signature of its manifest digest
//! and a DSSE envelope per in-toto statement about it, both appended to what is there.

use super::cosign::{self, Kind, NewLayer};
use super::dsse;
use super::keys::SigningKey;
use super::payload;
use super::repo::Repository;
use crate::digest::Digest;
use anyhow::{Context, Result};
use base64::Engine as _;
use serde::Serialize;
use std::collections::HashMap;

/// An in-toto statement about the image, ready to sign.
pub struct Statement {
    pub predicate_type: String,
    pub bytes: Vec<u8>,
}

/// What signing did.
#[derive(Debug, Clone, Serialize)]
pub struct Signed {
    /// `sha256:<hex>` of the signing key's public key.
    pub key: String,
    pub identity: String,
    pub signature_tag: String,
    pub signatures_added: usize,
    pub attestation_tag: String,
    pub attestations_added: usize,
}

/// Signs `digest` in `repo` with `key` and attests `statements`.
pub fn sign(
    repo: &dyn Repository,
    digest: &Digest,
    key: &SigningKey,
    statements: &[Statement],
) -> Result<Signed> {
    let identity = repo.identity();
    let b64 = base64::engine::general_purpose::STANDARD;
    let body = payload::build(&identity, digest);
    let sig = NewLayer {
        media_type: cosign::SIMPLESIGNING_MEDIA_TYPE.to_string(),
        annotations: HashMap::from([(
            cosign::SIGNATURE_ANNOTATION.to_string(),
            b64.encode(key.sign(&body)),
        )]),
        bytes: body,
    };
    let envelopes: Vec<NewLayer> = statements
        .iter()
        .map(|s| NewLayer {
            media_type: dsse::ENVELOPE_MEDIA_TYPE.to_string(),
            annotations: HashMap::from([
                (
                    cosign::PREDICATE_TYPE_ANNOTATION.to_string(),
                    s.predicate_type.clone(),
                ),
                // cosign writes an empty one on attestation layers; the signature is inside.
                (cosign::SIGNATURE_ANNOTATION.to_string(), String::new()),
            ]),
            bytes: dsse::sign(key, &s.bytes),
        })
        .collect();
    // The two tags at once; a release becomes visible only when its version is tagged,
    // after both.
    let (attestations_added, signatures_added) = std::thread::scope(|s| {
        let att = s.spawn(|| {
            if envelopes.is_empty() {
                return Ok(0);
            }
            cosign::append(repo, digest, Kind::Attestations, &envelopes)
                .with_context(|| format!("attesting {digest} in {identity}"))
        });
        let sig = cosign::append(repo, digest, Kind::Signatures, &[sig])
            .with_context(|| format!("signing {digest} in {identity}"));
        let att = att.join().expect("attesting thread panicked");
        (att, sig)
    });
    let (attestations_added, signatures_added) = (attestations_added?, signatures_added?);
    Ok(Signed {
        key: key.public().fingerprint(),
        signature_tag: cosign::tag(digest, Kind::Signatures),
        attestation_tag: cosign::tag(digest, Kind::Attestations),
        identity,
        signatures_added,
        attestations_added,
    })
}
