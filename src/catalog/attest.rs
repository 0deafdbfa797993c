//! What a signed release attests: the in-toto statements about its image (SLSA
//! provenance, the SPDX SBOM, each contract report, the OpenVEX document), made from
//! the same bytes that are attached as artifacts.

use super::{read_artifact_layer, Catalog};
use crate::contract;
use crate::digest::Digest;
use crate::oci::OciDir;
use crate::trust::dsse;
use crate::trust::sign::Statement;
use anyhow::Result;

pub const SBOM_PREDICATE: &str = "https://spdx.dev/Document";
pub const REPORT_PREDICATE: &str = "https://corebuild.dev/attestations/contract-report/v1";
pub const VEX_PREDICATE: &str = crate::advisory::vex::CONTEXT;

/// The attached documents a release's attestations are made from.
#[derive(Clone)]
pub struct Documents {
    /// The provenance: already an in-toto statement.
    pub provenance: Vec<u8>,
    pub sbom: Vec<u8>,
    pub vex: Vec<u8>,
    /// The contract reports (JSON), in the order stored.
    pub reports: Vec<Vec<u8>>,
}

/// The statements about `digest` (published as `name`), in a fixed order.
pub fn statements(name: &str, digest: &Digest, docs: &Documents) -> Vec<Statement> {
    let about = |predicate_type: &str, predicate: &[u8]| Statement {
        predicate_type: predicate_type.to_string(),
        bytes: dsse::statement(name, digest, predicate_type, predicate),
    };
    let mut out = vec![
        Statement {
            predicate_type: crate::provenance::PREDICATE_TYPE.to_string(),
            bytes: docs.provenance.clone(),
        },
        about(SBOM_PREDICATE, &docs.sbom),
        about(VEX_PREDICATE, &docs.vex),
    ];
    out.extend(docs.reports.iter().map(|r| about(REPORT_PREDICATE, r)));
    out
}

/// The contract reports of `digest` stored in the build store (JSON, in stored order).
pub fn stored_reports(store: &OciDir, digest: &Digest) -> Result<Vec<Vec<u8>>> {
    Ok(contract::stored_reports(store, digest)?
        .into_iter()
        .map(|r| r.json)
        .collect())
}

/// The documents already attached to a published release, read back (verified) from
/// the catalog: signing it again attests exactly what consumers fetch.
pub fn attached(cat: &dyn Catalog, name: &str, digest: &Digest) -> Result<Documents> {
    let read_all = |t: &str| -> Result<Vec<Vec<u8>>> {
        let mut out = Vec::new();
        for d in cat.referrers(name, digest, Some(t))? {
            let (_, bytes) = read_artifact_layer(cat, name, &Digest::try_from(d.digest())?)?;
            out.push(bytes);
        }
        Ok(out)
    };
    let one = |t: &str| -> Result<Vec<u8>> {
        read_all(t)?.into_iter().next().ok_or_else(|| {
            crate::error::input(format!("{name}@{digest} has no attached {t} to attest"))
        })
    };
    Ok(Documents {
        provenance: one(crate::provenance::MEDIA_TYPE)?,
        sbom: one(crate::sbom::MEDIA_TYPE)?,
        vex: one(crate::advisory::vex::MEDIA_TYPE)?,
        reports: read_all(contract::REPORT_MEDIA_TYPE)?,
    })
}
