//! Provenance of an image: an in-toto Statement v1 whose predicate is SLSA Provenance v1.
//! The subject is the image (name and digest); the build definition names the blueprint
//! (its digest), the lock file (its digest), the base (its digest) and every input file
//! (fragments, suites, files copied in), with the builder's version.
//!
//! Deterministic: no clock, no absolute paths (inputs are named relative to the
//! blueprint's directory), inputs sorted. The same build gives the same bytes, so
//! attaching it again is a no-op.

use crate::blueprint::{Blueprint, Layer};
use crate::digest::Digest;
use crate::oci::StoredImage;
use anyhow::{Context, Result};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

/// The artifact type (and layer media type) of an attached provenance statement.
pub const MEDIA_TYPE: &str = "application/vnd.in-toto+json";
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
pub const PREDICATE_TYPE: &str = "https://slsa.dev/provenance/v1";
pub const BUILD_TYPE: &str = "https://corebuild.dev/buildtypes/blueprint/v1";
pub const BUILDER_ID: &str = "https://corebuild.dev/builder/corebuild";

/// `path` relative to `base`, with `..` where needed (both absolute).
fn relative(path: &Path, base: &Path) -> String {
    let p: Vec<Component> = path.components().collect();
    let b: Vec<Component> = base.components().collect();
    let common = p.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut out = PathBuf::new();
    for _ in common..b.len() {
        out.push("..");
    }
    for c in &p[common..] {
        out.push(c);
    }
    out.to_string_lossy().into_owned()
}

fn file_digest(path: &Path) -> Result<Digest> {
    let f = std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
    let mut r = crate::digest::HashingReader::new(std::io::BufReader::new(f));
    std::io::copy(&mut r, &mut std::io::sink())?;
    Ok(r.finish().0)
}

fn sha(d: &Digest) -> Value {
    json!({ "sha256": d.hex() })
}

/// Every input file of the blueprint (relative name → digest): its sources after the
/// blueprint itself (fragments), its suites and the files its `files` layers copy.
fn inputs(bp: &Blueprint) -> Result<BTreeMap<String, Digest>> {
    let mut out = BTreeMap::new();
    let mut add = |p: &Path| -> Result<()> {
        out.insert(relative(p, &bp.dir), file_digest(p)?);
        Ok(())
    };
    for s in bp.sources.iter().skip(1) {
        add(s)?;
    }
    for s in &bp.suites {
        add(&s.path)?;
    }
    for l in &bp.layers {
        if let Layer::Files(specs) = l {
            for f in specs {
                let meta = std::fs::symlink_metadata(&f.src)
                    .with_context(|| format!("reading {}", f.src.display()))?;
                if meta.is_file() {
                    add(&f.src)?;
                } else if meta.is_dir() {
                    for e in walkdir::WalkDir::new(&f.src).sort_by_file_name() {
                        let e = e?;
                        if e.file_type().is_file() {
                            add(e.path())?;
                        }
                    }
                }
            }
        }
    }
    Ok(out)
}

/// The digest of a blueprint: of its `blueprint.toml` bytes.
pub fn blueprint_digest(bp: &Blueprint) -> Result<Digest> {
    file_digest(&bp.path)
}

/// The provenance statement of `image`, published as `name` `version`, built from `bp`
/// (when known: a release published by reference has only the image's own annotations).
/// `signer` is the fingerprint of the build platform's key that signs it: then the
/// statement claims SLSA Build L2 (signed provenance), else L1.
pub fn generate(
    image: &StoredImage,
    name: &str,
    version: &str,
    bp: Option<&Blueprint>,
    signer: Option<&str>,
) -> Result<Vec<u8>> {
    let ann = image.manifest.annotations().clone().unwrap_or_default();
    let base_digest = ann
        .get("org.opencontainers.image.base.digest")
        .and_then(|d| d.parse::<Digest>().ok());
    let base_name = ann.get("org.opencontainers.image.base.name").cloned();
    let mut deps = Vec::new();
    if let Some(d) = &base_digest {
        deps.push(json!({
            "name": "base",
            "uri": format!("oci:{}", base_name.clone().unwrap_or_default()),
            "digest": sha(d),
        }));
    }
    let mut external = serde_json::Map::new();
    external.insert("name".into(), json!(name));
    external.insert("version".into(), json!(version));
    if let Some(created) = image.config.created() {
        external.insert("epoch".into(), json!(created));
    }
    if let Some(bp) = bp {
        let bp_digest = blueprint_digest(bp)?;
        external.insert(
            "blueprint".into(),
            json!({ "path": "blueprint.toml", "digest": sha(&bp_digest) }),
        );
        deps.push(json!({ "name": "blueprint.toml", "digest": sha(&bp_digest) }));
        let lock = crate::blueprint::lock_path(&bp.dir);
        if lock.is_file() {
            let d = file_digest(&lock)?;
            external.insert(
                "lock".into(),
                json!({ "path": crate::blueprint::LOCK_FILE_NAME, "digest": sha(&d) }),
            );
            deps.push(json!({ "name": crate::blueprint::LOCK_FILE_NAME, "digest": sha(&d) }));
        }
        for (n, d) in inputs(bp)? {
            deps.push(json!({ "name": n, "digest": sha(&d) }));
        }
        let suites: Vec<Value> = bp
            .suites
            .iter()
            .map(|s| json!({ "name": s.name, "version": s.version.to_string() }))
            .collect();
        external.insert("suites".into(), json!(suites));
    }
    let statement = json!({
        "_type": STATEMENT_TYPE,
        "subject": [{ "name": name, "digest": sha(&image.digest) }],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "buildDefinition": {
                "buildType": BUILD_TYPE,
                "externalParameters": Value::Object(external),
                "internalParameters": { "slsa": slsa_level(signer) },
                "resolvedDependencies": deps,
            },
            "runDetails": {
                "builder": {
                    "id": BUILDER_ID,
                    "version": { "corebuild": env!("CARGO_PKG_VERSION") },
                },
                "metadata": {},
            },
        },
    });
    let mut out = serde_json::to_vec_pretty(&statement)?;
    out.push(b'\n');
    Ok(out)
}

/// The SLSA Build level the provenance can honestly claim: L2 when the build
/// platform's key signs it, L1 (provenance exists) when nothing does. The key itself is
/// not named: the same statement signed again by a rotated key stays the same statement
/// (the envelope and the technical notes say which key signed).
fn slsa_level(signer: Option<&str>) -> Value {
    json!({ "buildLevel": if signer.is_some() { 2 } else { 1 } })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_do_not_leak_the_checkout() {
        assert_eq!(
            relative(Path::new("/a/b/frag/x.toml"), Path::new("/a/b/bp")),
            "../frag/x.toml"
        );
        assert_eq!(
            relative(Path::new("/a/b/bp/files/motd"), Path::new("/a/b/bp")),
            "files/motd"
        );
    }
}
