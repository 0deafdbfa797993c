//! Signature payloads and DSSE envelopes as a hostile repository could serve them,
//! mutated: parsing and checking end in a result, never a panic, and a mutated payload
//! never verifies under the key that signed the original.

use super::mutate::{apply, edits};
use crate::digest::Digest;
use crate::trust::{dsse, payload, SigningKey};
use proptest::prelude::*;

fn digest() -> Digest {
    Digest::of_bytes(b"image")
}

thread_local!(static KEY: SigningKey = SigningKey::generate());

proptest! {
    #![proptest_config(crate::fuzz::config())]

    #[test]
    fn mutated_payloads_parse_or_fail_and_never_verify(e in edits()) {
        let original = payload::build("reg.example/ns/core", &digest());
        let mutated = apply(&original, &e);
        KEY.with(|k| {
            let sig = k.sign(&original);
            let verifies = k.public().verify(&mutated, &sig);
            prop_assert_eq!(verifies, mutated == original);
            if let Ok(p) = payload::parse(&mutated) {
                let _ = payload::mismatch(&p, "reg.example/ns/core", &digest());
            }
            Ok(())
        })?;
    }

    #[test]
    fn mutated_envelopes_open_or_fail_cleanly(e in edits()) {
        let statement = dsse::statement("core", &digest(), "https://spdx.dev/Document", b"{}");
        KEY.with(|k| {
            let env = dsse::sign(k, &statement);
            let mutated = apply(&env, &e);
            if let Ok(o) = dsse::open(&mutated) {
                let signed = o.signed_by(&[k.public()]).is_some();
                if signed {
                    // Only an envelope still carrying the original statement verifies.
                    prop_assert_eq!(&o.statement, &statement);
                }
                if let Ok(h) = dsse::head(&o.statement) {
                    let _ = h.names(&digest());
                }
            }
            Ok(())
        })?;
    }
}
