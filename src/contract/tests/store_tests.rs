//! Storing reports as OCI artifacts beside the candidate and finding them by digest.

use super::report_tests::sample;
use super::store_image;
use crate::contract::*;
use crate::digest::Digest;
use crate::oci::{OciDir, REF_NAME};
use oci_spec::image::{ImageManifest, MediaType};

fn passing(candidate: &Digest) -> ContractReport {
    let mut r = sample(candidate);
    r.suites.truncate(1);
    r.suites[0].results.truncate(2);
    ContractReport::new(r.candidate, r.suites)
}

#[test]
fn report_is_an_oci_artifact_referring_to_the_candidate() {
    let t = tempfile::tempdir().unwrap();
    let store = OciDir::open_or_create(t.path()).unwrap();
    let cand = store_image(&store, "core-minimal:1.0.0");
    let report = sample(&cand);
    let desc = store_report(&store, &report).unwrap();

    let tag = format!("sha256-{}.contract-1", cand.hex());
    assert_eq!(desc.annotations().as_ref().unwrap()[REF_NAME], tag);
    assert_eq!(desc.media_type(), &MediaType::ImageManifest);
    assert_eq!(
        desc.artifact_type().as_ref().unwrap().to_string(),
        REPORT_MEDIA_TYPE
    );
    assert_eq!(
        store.resolve_tag(&tag).unwrap().unwrap().digest(),
        desc.digest()
    );

    let m: ImageManifest = store.read_json(&desc).unwrap();
    assert_eq!(m.schema_version(), 2);
    assert_eq!(m.media_type(), &Some(MediaType::ImageManifest));
    assert_eq!(
        m.artifact_type().as_ref().unwrap().to_string(),
        REPORT_MEDIA_TYPE
    );
    // The OCI empty descriptor: `{}`, 2 bytes, its well-known digest.
    assert_eq!(m.config().media_type(), &MediaType::EmptyJSON);
    assert_eq!(m.config().size(), 2);
    assert_eq!(
        m.config().digest().to_string(),
        "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
    );
    let subject = m.subject().as_ref().unwrap();
    let image = store
        .find_image(Some("core-minimal:1.0.0"), None)
        .unwrap()
        .unwrap();
    assert_eq!(subject.digest(), image.desc.digest());
    assert_eq!(subject.size(), image.desc.size());
    assert_eq!(subject.media_type(), &MediaType::ImageManifest);
    let [layer] = m.layers().as_slice() else {
        panic!()
    };
    assert_eq!(layer.media_type().to_string(), REPORT_MEDIA_TYPE);
    let blob = store
        .read_blob(
            &Digest::try_from(layer.digest()).unwrap(),
            Some(layer.size()),
        )
        .unwrap();
    assert_eq!(blob, report.to_json().as_bytes());
    let ann = m.annotations().as_ref().unwrap();
    assert_eq!(ann[SUBJECT_ANNOTATION], cand.to_string());
    assert_eq!(ann[PASSED_ANNOTATION], "false");
    assert_eq!(ann[SUITES_ANNOTATION], "posix-base@1.0.0,hardening@0.3.1");

    assert_eq!(reports_for(&store, &cand).unwrap(), vec![report]);
    let fsck = store.fsck().unwrap();
    assert!(fsck.ok(), "{:?}", fsck.problems);
}

#[test]
fn storing_twice_is_a_no_op_and_newer_reports_come_last() {
    let t = tempfile::tempdir().unwrap();
    let store = OciDir::open_or_create(t.path()).unwrap();
    let cand = store_image(&store, "core-minimal:1.0.0");
    let first = store_report(&store, &sample(&cand)).unwrap();
    let again = store_report(&store, &sample(&cand)).unwrap();
    assert_eq!(first, again);
    assert_eq!(store.tags().unwrap().len(), 2, "image + one report");
    let second = store_report(&store, &passing(&cand)).unwrap();
    assert!(second.annotations().as_ref().unwrap()[REF_NAME].ends_with(".contract-2"));
    let got = stored_reports(&store, &cand).unwrap();
    assert_eq!(got.iter().map(|s| s.sequence).collect::<Vec<_>>(), [1, 2]);
    assert_eq!(got[1].report, passing(&cand));
    assert!(got[1].tag.starts_with(&tag_prefix(&cand)));
}

#[test]
fn reports_are_found_by_exact_digest_only() {
    let t = tempfile::tempdir().unwrap();
    let store = OciDir::open_or_create(t.path()).unwrap();
    let a = store_image(&store, "a:1");
    let b = store_image(&store, "b:1");
    store_report(&store, &passing(&a)).unwrap();
    assert_eq!(reports_for(&store, &a).unwrap().len(), 1);
    assert!(reports_for(&store, &b).unwrap().is_empty());
    let never = Digest::of_bytes(b"never stored");
    assert!(reports_for(&store, &never).unwrap().is_empty());
    // A report about an image the store does not hold is refused (bad input).
    let err = store_report(&store, &passing(&never)).unwrap_err();
    assert!(
        format!("{err:#}").contains("is not in the store"),
        "{err:#}"
    );
    assert_eq!(crate::error::exit_code(&err), 2);
}

/// An entry tagged as a report of A whose artifact is about B must not count for A.
#[test]
fn a_mislabelled_report_is_an_error_not_a_pass() {
    let t = tempfile::tempdir().unwrap();
    let store = OciDir::open_or_create(t.path()).unwrap();
    let a = store_image(&store, "a:1");
    let b = store_image(&store, "b:1");
    let about_b = store_report(&store, &passing(&b)).unwrap();
    store
        .set_tag(&format!("{}1", tag_prefix(&a)), &about_b)
        .unwrap();
    let err = reports_for(&store, &a).unwrap_err();
    assert!(
        format!("{err:#}").contains("not a contract report of"),
        "{err:#}"
    );
    let gate = gate(&store, &a, &[]);
    assert!(gate.is_err());
}

#[test]
fn the_same_bytes_stored_after_another_report_become_the_newest() {
    let t = tempfile::tempdir().unwrap();
    let store = OciDir::open_or_create(t.path()).unwrap();
    let cand = store_image(&store, "c:1");
    store_report(&store, &passing(&cand)).unwrap();
    store_report(&store, &sample(&cand)).unwrap();
    let again = store_report(&store, &passing(&cand)).unwrap();
    assert!(again.annotations().as_ref().unwrap()[REF_NAME].ends_with(".contract-3"));
    let got = stored_reports(&store, &cand).unwrap();
    assert_eq!(got.iter().map(|s| s.sequence).collect::<Vec<_>>(), [2, 3]);
    assert_eq!(got[1].report, passing(&cand));
}
