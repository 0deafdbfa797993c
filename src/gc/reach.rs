//! Reachability: the blobs the store's index (every entry, tagged or not: referrer-style
//! tags such as `sha256-<hex>.sig` and `.contract-N` are entries like any other) and the
//! lock files' base pins reach, through index manifests, manifest configs and layers.
//!
//! A manifest's `subject` is not followed: as in a registry, a referrer (signature,
//! attestation, contract report, disk artifact) keeps its own blobs, not the image it is
//! about; that image is kept by its own tag.

use crate::digest::Digest;
use crate::oci::OciDir;
use anyhow::{Context, Result};
use serde_json::Value;
use std::collections::BTreeSet;

/// Manifests and indexes are small; a blob larger than this is not read as one.
const MAX_NODE_BYTES: u64 = 8 << 20;

/// Where a walk starts: an index entry or a lock's pin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Root {
    /// What names it, for messages: the tag, or the lock file.
    pub named_by: String,
    pub digest: Digest,
}

/// Every entry of the store's index as a root.
pub fn index_roots(store: &OciDir) -> Result<Vec<Root>> {
    let index = store.index()?;
    index
        .manifests()
        .iter()
        .map(|d| {
            let named_by = d
                .annotations()
                .as_ref()
                .and_then(|a| a.get(crate::oci::REF_NAME))
                .cloned()
                .unwrap_or_else(|| format!("an untagged index entry ({})", d.digest()));
            let digest = Digest::try_from(d.digest())
                .with_context(|| format!("index.json entry {named_by}"))?;
            Ok(Root { named_by, digest })
        })
        .collect()
}

/// The blobs `roots` reach. A root missing from the store reaches nothing (fsck reports
/// a tag whose blob is missing); a manifest or index that is present but cannot be read
/// is an error, since what it references cannot then be told apart from garbage.
pub fn reachable(store: &OciDir, roots: &[Root]) -> Result<BTreeSet<Digest>> {
    let mut seen = BTreeSet::new();
    for r in roots {
        walk(store, &r.digest, &mut seen, 0).with_context(|| {
            format!(
                "gc removes nothing while {} cannot be read whole; run `corebuild fsck`",
                r.named_by
            )
        })?;
    }
    Ok(seen)
}

fn walk(store: &OciDir, d: &Digest, seen: &mut BTreeSet<Digest>, depth: usize) -> Result<()> {
    if !store.has_blob(d) || !seen.insert(d.clone()) {
        return Ok(());
    }
    if depth > 8 {
        anyhow::bail!("{d}: indexes nested more than 8 deep");
    }
    let size = std::fs::metadata(store.blob_path(d))?.len();
    if size > MAX_NODE_BYTES {
        return Ok(());
    }
    let bytes = store.read_blob(d, Some(size))?;
    let Ok(node) = serde_json::from_slice::<Value>(&bytes) else {
        return Ok(()); // a tagged blob that is no manifest: a leaf
    };
    let children = references(&node)?;
    for child in children.manifests {
        walk(store, &child, seen, depth + 1)?;
    }
    for leaf in children.leaves {
        seen.insert(leaf);
    }
    Ok(())
}

/// What one manifest or index references.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct References {
    /// `manifests[]` of an index: walked further.
    pub manifests: Vec<Digest>,
    /// `config`, `layers[]` (and an artifact manifest's `blobs[]`): leaves.
    pub leaves: Vec<Digest>,
}

/// The digests a manifest or index JSON names (any other JSON names none).
pub fn references(node: &Value) -> Result<References> {
    let digest_of = |v: &Value| -> Result<Option<Digest>> {
        match v.get("digest").and_then(Value::as_str) {
            Some(s) => Ok(Some(s.parse().with_context(|| format!("digest {s:?}"))?)),
            None => Ok(None),
        }
    };
    let list = |field: &str| -> Result<Vec<Digest>> {
        let mut out = Vec::new();
        for v in node
            .get(field)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            out.extend(digest_of(v)?);
        }
        Ok(out)
    };
    let mut r = References {
        manifests: list("manifests")?,
        leaves: list("layers")?,
    };
    r.leaves.extend(list("blobs")?);
    if let Some(c) = node.get("config") {
        r.leaves.extend(digest_of(c)?);
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::image::{Descriptor, MediaType};

    fn d(c: char) -> String {
        format!("sha256:{}", c.to_string().repeat(64))
    }

    #[test]
    fn manifests_and_indexes_name_their_children_but_not_their_subject() {
        let m: Value = serde_json::from_str(&format!(
            r#"{{"config":{{"digest":"{}"}},"layers":[{{"digest":"{}"}}],"subject":{{"digest":"{}"}}}}"#,
            d('a'),
            d('b'),
            d('c')
        ))
        .unwrap();
        let r = references(&m).unwrap();
        assert!(r.manifests.is_empty());
        assert_eq!(r.leaves.len(), 2);
        assert!(!r.leaves.iter().any(|x| x.to_string() == d('c')));
        let i: Value =
            serde_json::from_str(&format!(r#"{{"manifests":[{{"digest":"{}"}}]}}"#, d('e')))
                .unwrap();
        assert_eq!(references(&i).unwrap().manifests.len(), 1);
        // An image config has a `config` object without a digest: it names nothing.
        let cfg: Value = serde_json::from_str(r#"{"config":{"Env":["A=1"]}}"#).unwrap();
        assert_eq!(references(&cfg).unwrap(), References::default());
    }

    #[test]
    fn the_walk_keeps_what_tags_reach_and_nothing_else() {
        let t = tempfile::tempdir().unwrap();
        let store = OciDir::open_or_create(t.path()).unwrap();
        let (layer, ln) = store.write_blob(b"layer").unwrap();
        let (config, cn) = store.write_blob(b"{}").unwrap();
        let (stray, _) = store.write_blob(b"stray").unwrap();
        let manifest = format!(
            r#"{{"schemaVersion":2,"config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config}","size":{cn}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{layer}","size":{ln}}}]}}"#
        );
        let (m, mn) = store.write_blob(manifest.as_bytes()).unwrap();
        let index = format!(
            r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{m}","size":{mn}}}]}}"#
        );
        let (i, n) = store.write_blob(index.as_bytes()).unwrap();
        store
            .set_tag(
                "x:1",
                &Descriptor::new(MediaType::ImageIndex, n, i.to_oci()),
            )
            .unwrap();
        let roots = index_roots(&store).unwrap();
        assert_eq!(roots.len(), 1);
        assert_eq!(roots[0].named_by, "x:1");
        let kept = reachable(&store, &roots).unwrap();
        assert_eq!(kept, BTreeSet::from([layer, config, m, i]));
        assert!(!kept.contains(&stray));
    }

    #[test]
    fn an_unreadable_manifest_stops_the_walk() {
        let t = tempfile::tempdir().unwrap();
        let store = OciDir::open_or_create(t.path()).unwrap();
        let (m, _) = store.write_blob(br#"{"layers":[]}"#).unwrap();
        let p = store.blob_path(&m);
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::write(&p, br#"{"layers":[1]}"#).unwrap();
        let root = Root {
            named_by: "x:1".into(),
            digest: m,
        };
        let err = reachable(&store, &[root]).unwrap_err();
        assert!(format!("{err:#}").contains("x:1"), "{err:#}");
    }
}
