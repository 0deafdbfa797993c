//! What a registry answered for a base, read with oci-spec: an image manifest (OCI or
//! Docker schema 2) or a multi-platform index (OCI index or Docker manifest list), the
//! platform picked from an index, and the checks that the manifest is a runnable image
//! for that platform.

use crate::digest::Digest;
use crate::layer::Compression;
use oci_spec::image::{Descriptor, ImageConfiguration, ImageIndex, ImageManifest, MediaType};

pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";

/// The platform a base must be for: Linux on this machine's architecture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
}

impl Platform {
    /// `linux/<this machine's architecture>`.
    pub fn host() -> Self {
        Platform {
            os: "linux".into(),
            architecture: crate::build::import::host_arch().into(),
        }
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)
    }
}

/// A manifest document, by kind.
#[derive(Debug)]
pub enum Document {
    Index(Box<ImageIndex>),
    Image(Box<ImageManifest>),
}

/// Reads a manifest or index. The JSON's own `mediaType` decides, then the registry's
/// `Content-Type` (`header`); without either, the shape (`manifests` or `layers`).
pub fn parse(bytes: &[u8], header: Option<&str>, what: &str) -> anyhow::Result<(Document, String)> {
    let bad = |e: String| crate::error::input(format!("{what}: {e}"));
    let v: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| bad(format!("not JSON: {e}")))?;
    let media_type = v
        .get("mediaType")
        .and_then(|m| m.as_str())
        .or(header)
        .map(str::to_string)
        .unwrap_or_else(|| {
            if v.get("manifests").is_some() {
                MediaType::ImageIndex.to_string()
            } else {
                MediaType::ImageManifest.to_string()
            }
        });
    let doc = match media_type.as_str() {
        "application/vnd.oci.image.index.v1+json" | DOCKER_LIST => Document::Index(Box::new(
            serde_json::from_value(v).map_err(|e| bad(format!("not an image index: {e}")))?,
        )),
        "application/vnd.oci.image.manifest.v1+json" | DOCKER_MANIFEST => {
            Document::Image(Box::new(
                serde_json::from_value(v)
                    .map_err(|e| bad(format!("not an image manifest: {e}")))?,
            ))
        }
        other => {
            return Err(bad(format!(
                "a {other}, not an image manifest or index (OCI or Docker schema 2)"
            )))
        }
    };
    Ok((doc, media_type))
}

/// The image manifest for `want` in an index. Nested indexes and entries without a
/// platform are skipped; the architecture variant is not compared (amd64 has none that
/// matters, and an index lists the variant it prefers first).
pub fn select(index: &ImageIndex, want: &Platform, what: &str) -> anyhow::Result<Descriptor> {
    let is_image = |d: &Descriptor| {
        *d.media_type() == MediaType::ImageManifest || d.media_type().to_string() == DOCKER_MANIFEST
    };
    let platform_of = |d: &Descriptor| {
        d.platform()
            .as_ref()
            .map(|p| format!("{}/{}", p.os(), p.architecture()))
    };
    let wanted = want.to_string();
    if let Some(d) = index
        .manifests()
        .iter()
        .find(|d| is_image(d) && platform_of(d).as_deref() == Some(wanted.as_str()))
    {
        return Ok(d.clone());
    }
    let has: Vec<String> = index.manifests().iter().filter_map(platform_of).collect();
    Err(crate::error::input(format!(
        "{what} is a multi-platform index without a {wanted} image (it has: {})",
        if has.is_empty() {
            "no platforms".to_string()
        } else {
            has.join(", ")
        }
    )))
}

/// The manifest describes an image: a config of an image-config media type and layers we
/// can unpack.
pub fn check_image(m: &ImageManifest, what: &str) -> anyhow::Result<()> {
    let config_type = m.config().media_type().to_string();
    if *m.config().media_type() != MediaType::ImageConfig && config_type != DOCKER_CONFIG {
        return Err(crate::error::input(format!(
            "{what} is not a container image: its config is a {config_type} (a signature, SBOM or other artifact?)"
        )));
    }
    if m.layers().is_empty() {
        return Err(crate::error::input(format!("{what} has no layers")));
    }
    for (i, l) in m.layers().iter().enumerate() {
        if Compression::from_media_type(l.media_type().as_ref()).is_none() {
            return Err(crate::error::input(format!(
                "{what}: layer {i} has the unsupported media type {}",
                l.media_type()
            )));
        }
        Digest::try_from(l.digest())?;
    }
    Ok(())
}

/// The config is for the platform that was selected (or that this machine runs).
pub fn check_platform(c: &ImageConfiguration, want: &Platform, what: &str) -> anyhow::Result<()> {
    let got = Platform {
        os: c.os().to_string(),
        architecture: c.architecture().to_string(),
    };
    if got != *want {
        return Err(crate::error::input(format!(
            "{what} is an image for {got}, not {want}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    const C: &str = "sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc";

    fn amd64() -> Platform {
        Platform {
            os: "linux".into(),
            architecture: "amd64".into(),
        }
    }

    fn entry(mt: &str, digest: &str, arch: &str, variant: Option<&str>) -> serde_json::Value {
        let mut p = serde_json::json!({"os": "linux", "architecture": arch});
        if let Some(v) = variant {
            p["variant"] = v.into();
        }
        serde_json::json!({"mediaType": mt, "digest": digest, "size": 500, "platform": p})
    }

    fn index(mt: &str, entries: Vec<serde_json::Value>) -> Vec<u8> {
        serde_json::to_vec(
            &serde_json::json!({"schemaVersion": 2, "mediaType": mt, "manifests": entries}),
        )
        .unwrap()
    }

    fn selected(bytes: &[u8]) -> anyhow::Result<String> {
        let (Document::Index(i), _) = parse(bytes, None, "t")? else {
            panic!("not an index")
        };
        Ok(select(&i, &amd64(), "t")?.digest().to_string())
    }

    #[test]
    fn an_oci_index_resolves_to_linux_amd64() {
        let oci = "application/vnd.oci.image.manifest.v1+json";
        let idx = index(
            "application/vnd.oci.image.index.v1+json",
            vec![
                entry(oci, A, "arm64", Some("v8")),
                entry(oci, B, "amd64", None),
                entry(oci, C, "amd64", Some("v3")),
            ],
        );
        assert_eq!(selected(&idx).unwrap(), B);
    }

    #[test]
    fn a_docker_manifest_list_resolves_and_the_variant_is_ignored() {
        let idx = index(
            DOCKER_LIST,
            vec![
                entry(DOCKER_MANIFEST, A, "arm", Some("v7")),
                entry(DOCKER_MANIFEST, C, "amd64", Some("v2")),
            ],
        );
        assert_eq!(selected(&idx).unwrap(), C);
    }

    #[test]
    fn an_index_without_the_platform_names_what_it_has() {
        let nested = "application/vnd.oci.image.index.v1+json";
        let idx = index(
            nested,
            vec![
                entry(DOCKER_MANIFEST, A, "arm64", None),
                entry(nested, B, "amd64", None), // a nested index is not an image
            ],
        );
        let e = selected(&idx).unwrap_err().to_string();
        assert!(
            e.contains("without a linux/amd64 image") && e.contains("linux/arm64"),
            "{e}"
        );
    }

    #[test]
    fn manifests_of_both_formats_parse_and_artifacts_are_refused() {
        let m = |mt: &str, config: &str, layer: &str| {
            serde_json::to_vec(&serde_json::json!({
                "schemaVersion": 2, "mediaType": mt,
                "config": {"mediaType": config, "digest": A, "size": 2},
                "layers": [{"mediaType": layer, "digest": B, "size": 3}],
            }))
            .unwrap()
        };
        let docker = m(
            DOCKER_MANIFEST,
            DOCKER_CONFIG,
            "application/vnd.docker.image.rootfs.diff.tar.gzip",
        );
        let (Document::Image(img), mt) = parse(&docker, None, "t").unwrap() else {
            panic!("not an image")
        };
        assert_eq!(mt, DOCKER_MANIFEST);
        check_image(&img, "t").unwrap();
        let sig = m(
            "application/vnd.oci.image.manifest.v1+json",
            "application/vnd.dev.cosign.artifact.sig.v1+json",
            "application/vnd.dev.cosign.simplesigning.v1+json",
        );
        let (Document::Image(img), _) = parse(&sig, None, "t").unwrap() else {
            panic!("not an image")
        };
        assert!(check_image(&img, "t")
            .unwrap_err()
            .to_string()
            .contains("not a container image"));
        let other = br#"{"schemaVersion":1,"mediaType":"application/vnd.docker.distribution.manifest.v1+prettyjws"}"#;
        assert!(parse(other, None, "t").is_err());
        assert!(parse(b"not json", None, "t").is_err());
    }

    #[test]
    fn the_config_platform_must_match() {
        let c: ImageConfiguration = serde_json::from_value(serde_json::json!({
            "architecture": "arm64", "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": []}
        }))
        .unwrap();
        let e = check_platform(&c, &amd64(), "t").unwrap_err().to_string();
        assert!(e.contains("linux/arm64, not linux/amd64"), "{e}");
    }
}
