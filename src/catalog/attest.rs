//! What a signed release attests: the in-toto statements about its image (SLSA
//! provenance, the SPDX SBOM, each contract report, the OpenVEX document), made from
//! the same bytes that are attached as artifacts.

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
pub struct Documents<'a> {
    /// The provenance: already an in-toto statement.
    pub provenance: &'a [u8],
    pub sbom: &'a [u8],
    pub vex: &'a [u8],
}

/// The statements about `digest` (published as `name`), in a fixed order.
pub fn statements(
    store: &OciDir,
    name: &str,
    digest: &Digest,
    docs: &Documents<'_>,
) -> Result<Vec<Statement>> {
    let about = |predicate_type: &str, predicate: &[u8]| Statement {
        predicate_type: predicate_type.to_string(),
        bytes: dsse::statement(name, digest, predicate_type, predicate),
    };
    let mut out = vec![
        Statement {
            predicate_type: crate::provenance::PREDICATE_TYPE.to_string(),
            bytes: docs.provenance.to_vec(),
        },
        about(SBOM_PREDICATE, docs.sbom),
        about(VEX_PREDICATE, docs.vex),
    ];
    for r in contract::stored_reports(store, digest)? {
        out.push(about(REPORT_PREDICATE, &report_bytes(store, &r)?));
    }
    Ok(out)
}

/// The report JSON as stored (the artifact's one layer).
fn report_bytes(store: &OciDir, r: &contract::StoredReport) -> Result<Vec<u8>> {
    let d = Digest::try_from(r.manifest.digest())?;
    let m: oci_spec::image::ImageManifest =
        serde_json::from_slice(&store.read_blob(&d, Some(r.manifest.size()))?)?;
    let layer = m.layers().first().ok_or_else(|| {
        crate::error::input(format!("the contract report {} has no layer", r.tag))
    })?;
    store.read_blob(&Digest::try_from(layer.digest())?, Some(layer.size()))
}
