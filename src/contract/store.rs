//! Keeping contract reports in the OCI store beside the candidate they are about.
//!
//! A report is an OCI 1.1 artifact: an image manifest with `artifactType`
//! [`REPORT_MEDIA_TYPE`], the empty config (`{}`), the report JSON as its one layer, and
//! `subject` = the candidate's manifest, so a registry's referrers API lists it under
//! the candidate. In a layout, where there is no referrers API, the index names it with
//! the tag `sha256-<candidate hex>.contract-<n>` (n = 1, 2, … in the order stored, so
//! newer reports have higher n), in the style of the referrers tag-schema fallback
//! (`sha256-<hex>`) that the catalog uses when it pushes. Finding the reports of a
//! digest therefore needs the digest alone. Storing the newest report again is a no-op;
//! storing an older report's exact bytes again makes it the newest (it is re-tagged).

use super::report::ContractReport;
use crate::digest::Digest;
use crate::oci::{OciDir, REF_NAME};
use anyhow::{Context, Result};
use oci_spec::image::{Descriptor, ImageManifest, ImageManifestBuilder, MediaType};
use std::collections::HashMap;

/// The artifact type of a stored report, and the media type of its one layer.
pub const REPORT_MEDIA_TYPE: &str = "application/vnd.corebuild.contract-report.v1+json";
/// Manifest and index-entry annotation: the candidate digest the report is about.
pub const SUBJECT_ANNOTATION: &str = "dev.corebuild.contract.subject";
/// Manifest annotation: `true` or `false`, whether the report passed.
pub const PASSED_ANNOTATION: &str = "dev.corebuild.contract.passed";
/// Manifest annotation: the suites in the report, `name@version` joined by `,`.
pub const SUITES_ANNOTATION: &str = "dev.corebuild.contract.suites";

/// The OCI empty descriptor's content, `{}`.
const EMPTY_JSON: &[u8] = b"{}";

/// A report as found in the store.
#[derive(Debug, Clone)]
pub struct StoredReport {
    /// `sha256-<hex>.contract-<n>`.
    pub tag: String,
    /// The order it was stored in, from 1.
    pub sequence: u64,
    /// The artifact manifest's descriptor (as the index holds it).
    pub manifest: Descriptor,
    pub report: ContractReport,
    /// The report's JSON exactly as stored (what a signed release attests).
    pub json: Vec<u8>,
}

/// The tag prefix shared by every report of `candidate`.
pub fn tag_prefix(candidate: &Digest) -> String {
    format!("{}-{}.contract-", candidate.algorithm(), candidate.hex())
}

/// Stores `report` beside its candidate, which must be in `store`. Returns the artifact
/// manifest's descriptor (with its tag annotation).
pub fn store_report(store: &OciDir, report: &ContractReport) -> Result<Descriptor> {
    let candidate = &report.candidate;
    let image = store.find_image(None, Some(candidate))?.ok_or_else(|| {
        crate::error::input(format!(
            "candidate {candidate} is not in the store at {}; a contract report is stored beside the image it tested",
            store.root().display()
        ))
    })?;
    let subject = Descriptor::new(
        image.desc.media_type().clone(),
        image.desc.size(),
        candidate.to_oci(),
    );
    let (layer_digest, layer_size) = store.write_blob(report.to_json().as_bytes())?;
    let layer = Descriptor::new(
        MediaType::Other(REPORT_MEDIA_TYPE.into()),
        layer_size,
        layer_digest.to_oci(),
    );
    let (empty_digest, empty_size) = store.write_blob(EMPTY_JSON)?;
    let mut config = Descriptor::new(MediaType::EmptyJSON, empty_size, empty_digest.to_oci());
    config.set_data(Some("e30=".into()));
    let suites: Vec<String> = report
        .suites
        .iter()
        .map(|s| format!("{}@{}", s.name, s.version))
        .collect();
    let annotations = HashMap::from([
        (SUBJECT_ANNOTATION.to_string(), candidate.to_string()),
        (PASSED_ANNOTATION.to_string(), report.passed().to_string()),
        (SUITES_ANNOTATION.to_string(), suites.join(",")),
    ]);
    let manifest = ImageManifestBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageManifest)
        .artifact_type(MediaType::Other(REPORT_MEDIA_TYPE.into()))
        .config(config)
        .layers(vec![layer])
        .subject(subject)
        .annotations(annotations)
        .build()
        .context("building the report manifest")?;
    let mut desc = store.write_json(&manifest, MediaType::ImageManifest)?;
    desc.set_artifact_type(Some(MediaType::Other(REPORT_MEDIA_TYPE.into())));

    let prefix = tag_prefix(candidate);
    let mut stored = None;
    store.update_index(|entries| {
        let mut last = 0;
        let mut same = None;
        for e in entries.iter() {
            if let Some(n) = sequence(e, &prefix) {
                if e.digest() == desc.digest() {
                    same = Some((n, e.clone()));
                }
                last = last.max(n);
            }
        }
        match same {
            // Already the newest report: nothing to do.
            Some((n, e)) if n == last => {
                stored = Some(e);
                return Ok(());
            }
            // The same bytes as an older report, stored again after other runs: it is
            // the newest result now, so it moves to the end instead of staying behind.
            Some((n, _)) => entries.retain(|e| sequence(e, &prefix) != Some(n)),
            None => {}
        }
        let mut entry = desc.clone();
        entry.set_annotations(Some(HashMap::from([
            (REF_NAME.to_string(), format!("{prefix}{}", last + 1)),
            (SUBJECT_ANNOTATION.to_string(), candidate.to_string()),
        ])));
        entries.push(entry.clone());
        entries.sort_by(|a, b| tag(a).cmp(&tag(b)));
        stored = Some(entry);
        Ok(())
    })?;
    Ok(stored.expect("update_index ran the closure"))
}

/// Every report stored for exactly `candidate`, oldest first.
pub fn reports_for(store: &OciDir, candidate: &Digest) -> Result<Vec<ContractReport>> {
    Ok(stored_reports(store, candidate)?
        .into_iter()
        .map(|s| s.report)
        .collect())
}

/// Like [`reports_for`], with the tag and manifest of each. Every entry is checked: an
/// artifact whose type, subject or report names another digest is an error, not skipped,
/// so a tampered store cannot pass the gate.
pub fn stored_reports(store: &OciDir, candidate: &Digest) -> Result<Vec<StoredReport>> {
    let prefix = tag_prefix(candidate);
    let mut found: Vec<(u64, Descriptor)> = store
        .index()?
        .manifests()
        .iter()
        .filter_map(|d| Some((sequence(d, &prefix)?, d.clone())))
        .collect();
    found.sort_by_key(|(n, _)| *n);
    found
        .into_iter()
        .map(|(n, desc)| {
            let tag = format!("{prefix}{n}");
            let (report, json) = read_report(store, &desc, candidate)
                .with_context(|| format!("reading contract report {tag}"))?;
            Ok(StoredReport {
                tag,
                sequence: n,
                manifest: desc,
                report,
                json,
            })
        })
        .collect()
}

/// The report a stored artifact holds, checked, with its JSON bytes.
fn read_report(
    store: &OciDir,
    desc: &Descriptor,
    candidate: &Digest,
) -> Result<(ContractReport, Vec<u8>)> {
    let bad =
        |why: String| crate::error::input(format!("not a contract report of {candidate}: {why}"));
    let m: ImageManifest = store.read_json(desc)?;
    let artifact = m.artifact_type().as_ref().map(ToString::to_string);
    if artifact.as_deref() != Some(REPORT_MEDIA_TYPE) {
        return Err(bad(format!("artifactType is {artifact:?}")));
    }
    let subject = m.subject().as_ref().map(|s| s.digest().to_string());
    if subject.as_deref() != Some(candidate.to_string().as_str()) {
        return Err(bad(format!("its subject is {subject:?}")));
    }
    let [layer] = m.layers().as_slice() else {
        return Err(bad(format!("it has {} layers, not 1", m.layers().len())));
    };
    if layer.media_type().to_string() != REPORT_MEDIA_TYPE {
        return Err(bad(format!("its layer is a {}", layer.media_type())));
    }
    let bytes = store.read_blob(&Digest::try_from(layer.digest())?, Some(layer.size()))?;
    let report = ContractReport::from_json(&bytes)
        .map_err(|e| bad(format!("the report JSON does not parse: {e}")))?;
    if &report.candidate != candidate {
        return Err(bad(format!("the report is about {}", report.candidate)));
    }
    Ok((report, bytes))
}

fn tag(d: &Descriptor) -> Option<&str> {
    d.annotations()
        .as_ref()
        .and_then(|a| a.get(REF_NAME))
        .map(String::as_str)
}

/// `n` when the entry is tagged `<prefix><n>`.
fn sequence(d: &Descriptor, prefix: &str) -> Option<u64> {
    let n = tag(d)?.strip_prefix(prefix)?;
    if n.starts_with('0') {
        return None;
    }
    n.parse().ok()
}
