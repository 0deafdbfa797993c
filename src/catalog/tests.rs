//! Unit tests of the catalog logic on the layout backend (the registry backend runs the
//! same scenarios in tests/it/catalog.rs against docker-registry).

use super::*;
use std::collections::BTreeMap;

fn subject(cat: &LayoutCatalog) -> Descriptor {
    let m = RawManifest::new(
        MediaType::ImageManifest.to_string(),
        br#"{"schemaVersion":2}"#.to_vec(),
    );
    cat.put_manifest("core", &m.digest.to_string(), &m).unwrap();
    m.descriptor()
}

fn artifact(s: &Descriptor, kind: &str, body: &[u8]) -> Artifact {
    Artifact::new(
        kind,
        Some(s),
        vec![ArtifactLayer::bytes(kind, body.to_vec(), Some("x.json"))],
        BTreeMap::new(),
    )
    .unwrap()
}

#[test]
fn attach_is_idempotent_and_found_from_the_subject_digest() {
    let t = tempfile::tempdir().unwrap();
    let cat = LayoutCatalog::open(t.path()).unwrap();
    let s = subject(&cat);
    let sd = Digest::try_from(s.digest()).unwrap();
    let a = artifact(&s, "application/spdx+json", b"{\"sbom\":1}");
    let b = artifact(&s, "application/vnd.in-toto+json", b"{\"prov\":1}");
    cat.attach("core", &s, &[a.clone(), b]).unwrap();
    let index_before = cat
        .get_manifest("core", &format!("sha256-{}", sd.hex()))
        .unwrap();
    cat.attach("core", &s, std::slice::from_ref(&a)).unwrap();
    let index_after = cat
        .get_manifest("core", &format!("sha256-{}", sd.hex()))
        .unwrap();
    assert_eq!(index_before, index_after, "attaching again changes nothing");
    assert_eq!(cat.referrers("core", &sd, None).unwrap().len(), 2);
    let only = cat
        .referrers("core", &sd, Some("application/spdx+json"))
        .unwrap();
    assert_eq!(only.len(), 1);
    assert_eq!(only[0].digest(), a.manifest.descriptor().digest());
    let (_, bytes) =
        read_artifact_layer(&cat, "core", &Digest::try_from(only[0].digest()).unwrap()).unwrap();
    assert_eq!(bytes, b"{\"sbom\":1}");
    // The same inputs make the same artifact, byte for byte.
    assert_eq!(
        artifact(&s, "application/spdx+json", b"{\"sbom\":1}").manifest,
        a.manifest
    );
}

#[test]
fn events_round_trip_and_a_mislabelled_event_is_refused() {
    let t = tempfile::tempdir().unwrap();
    let cat = LayoutCatalog::open(t.path()).unwrap();
    let d = Digest::of_bytes(b"image");
    let e1 = Event::new(
        "core",
        EventKind::Released {
            version: "1.0.0".into(),
            digest: d.clone(),
            released: "2025-01-01T00:00:00Z".into(),
            end_of_support: None,
        },
        None,
    );
    events::append(&cat, &e1).unwrap();
    let e2 = Event::new(
        "core",
        EventKind::Deprecated {
            version: "1.0.0".into(),
            digest: d,
            reason: "old".into(),
        },
        Some(&e1.id),
    );
    events::append(&cat, &e2).unwrap();
    let all = events::read_all(&cat, "core").unwrap();
    assert_eq!(all, vec![e1.clone(), e2.clone()]);
    // A copy of an event under another tag is tampering, not a third event.
    let m = cat.get_manifest("core", &e1.tag()).unwrap().unwrap();
    cat.put_manifest(
        "core",
        &format!("{EVENT_TAG_PREFIX}99999999999999999999-0000000000000000"),
        &m,
    )
    .unwrap();
    let err = events::read_all(&cat, "core").unwrap_err();
    assert!(format!("{err:#}").contains("is tagged"), "{err:#}");
}

#[test]
fn a_layout_catalog_maps_repositories_to_tag_prefixes() {
    let t = tempfile::tempdir().unwrap();
    let cat = LayoutCatalog::open(t.path()).unwrap();
    let m = RawManifest::new(MediaType::ImageManifest.to_string(), b"{}".to_vec());
    cat.put_manifest("a", "1.0.0", &m).unwrap();
    cat.put_manifest("b", "2.0.0", &m).unwrap();
    assert_eq!(cat.tags("a").unwrap(), ["1.0.0"]);
    assert_eq!(cat.repositories().unwrap(), ["a", "b"]);
    assert_eq!(
        cat.head_manifest("a", "1.0.0").unwrap(),
        Some(m.digest.clone())
    );
    assert_eq!(cat.head_manifest("a", "2.0.0").unwrap(), None);
    assert_eq!(
        cat.client_reference("a", "1.0.0"),
        format!("oci:{}:a:1.0.0", t.path().display())
    );
}

#[test]
fn versions_and_names_are_checked() {
    assert!(publish::check_version_tag("1.0.0").is_ok());
    for bad in ["", "sha256-abc", "corebuild.event.1", "1+2", "-1", "a/b"] {
        assert!(publish::check_version_tag(bad).is_err(), "{bad}");
    }
    assert!(check_name("core-minimal").is_ok());
    assert!(check_name("Core").is_err());
    assert_eq!(
        version_tag(&semver::Version::parse("1.0.0+b1").unwrap()),
        "1.0.0_b1"
    );
}
