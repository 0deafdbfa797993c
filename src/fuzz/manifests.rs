//! Manifests, configs and indexes in an OCI layout, mutated and stored under their new
//! digests (so digest checks pass and the parsers are what is tested): opening the layout
//! and reading the image ends in a result, never a panic.

use super::mutate::{apply, edits};
use crate::oci::OciDir;
use proptest::prelude::*;

const CONFIG: &str = r#"{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/bin"],"Entrypoint":["/bin/sh"],"Labels":{"a":"b"}},"rootfs":{"type":"layers","diff_ids":["sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"]},"history":[{"created_by":"x"}],"created":"2025-01-01T00:00:00Z"}"#;

fn manifest(config_digest: &str, config_size: usize) -> String {
    format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config_digest}","size":{config_size}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef","size":32}}],"annotations":{{"org.opencontainers.image.ref.name":"x"}}}}"#
    )
}

fn index(manifest_digest: &str, size: usize) -> String {
    format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{manifest_digest}","size":{size},"annotations":{{"org.opencontainers.image.ref.name":"core:1"}}}}]}}"#
    )
}

/// Stores `bytes` as a blob under its digest, without the fsyncs of `write_blob` (a
/// case must take microseconds, not milliseconds).
fn put(root: &std::path::Path, bytes: &[u8]) -> (String, usize) {
    let d = crate::digest::Digest::of_bytes(bytes);
    std::fs::write(root.join("blobs/sha256").join(d.hex()), bytes).unwrap();
    (d.to_string(), bytes.len())
}

/// Writes config, manifest and index, mutating the one `which` names, and reads the
/// image back the ways the commands do.
fn read_back(which: usize, e: &[super::mutate::Edit]) {
    thread_local!(static LAYOUT: tempfile::TempDir = {
        let t = tempfile::tempdir().unwrap();
        OciDir::open_or_create(t.path()).unwrap();
        t
    });
    LAYOUT.with(|t| {
        let root = t.path();
        // Only this case's blobs: fsck must not re-hash every earlier case's.
        let blobs = root.join("blobs/sha256");
        std::fs::remove_dir_all(&blobs).unwrap();
        std::fs::create_dir_all(&blobs).unwrap();
        let mutate = |i: usize, s: String| {
            if i == which {
                apply(s.as_bytes(), e)
            } else {
                s.into_bytes()
            }
        };
        let (cd, cs) = put(root, &mutate(0, CONFIG.to_string()));
        let (md, ms) = put(root, &mutate(1, manifest(&cd, cs)));
        std::fs::write(root.join("index.json"), mutate(2, index(&md, ms))).unwrap();
        if let Ok(dir) = OciDir::open(root) {
            let _ = dir.find_image(Some("core:1"), None);
            let _ = dir.find_image(None, None);
            let _ = dir.tags();
            let _ = dir.fsck();
        }
    });
}

proptest! {
    #![proptest_config(crate::fuzz::config())]

    #[test]
    fn mutated_manifests_configs_and_indexes_read_or_fail_cleanly(which in 0usize..3, e in edits()) {
        read_back(which, &e);
    }
}

#[test]
fn the_unmutated_layout_reads() {
    let t = tempfile::tempdir().unwrap();
    let dir = OciDir::open_or_create(t.path()).unwrap();
    let (cd, cs) = dir.write_blob(CONFIG.as_bytes()).unwrap();
    let m = manifest(&cd.to_string(), cs as usize);
    let (md, ms) = dir.write_blob(m.as_bytes()).unwrap();
    std::fs::write(
        t.path().join("index.json"),
        index(&md.to_string(), ms as usize),
    )
    .unwrap();
    let img = OciDir::open(t.path())
        .unwrap()
        .find_image(Some("core:1"), None)
        .unwrap();
    assert_eq!(img.unwrap().digest, md);
}
