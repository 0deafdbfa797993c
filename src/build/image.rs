//! An image as a value: manifest layers plus config, changed by pure methods (`append`,
//! `with_created`, `apply_config`) and written to a layout in a separate step. `validate`
//! checks the invariants a reader relies on and reports every violation at once.

use crate::blueprint::ConfigSpec;
use crate::digest::Digest;
use crate::layer::LayerInfo;
use crate::oci::OciDir;
use anyhow::{Context, Result};
use oci_spec::image::{
    Config, Descriptor, HistoryBuilder, ImageConfiguration, ImageManifest, ImageManifestBuilder,
    MediaType,
};
use std::collections::{BTreeMap, HashMap};

/// The Docker schema 2 media type of a gzip layer; the bytes are those of an OCI gzip layer.
const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

/// A draft image: the config and the layer descriptors, in order.
#[derive(Debug, Clone)]
pub struct DraftImage {
    pub config: ImageConfiguration,
    pub layers: Vec<Descriptor>,
    pub annotations: BTreeMap<String, String>,
}

impl DraftImage {
    /// Starts an image with no layers (a base being imported).
    pub fn new(config: ImageConfiguration) -> Self {
        DraftImage {
            config,
            layers: Vec::new(),
            annotations: BTreeMap::new(),
        }
    }

    /// Starts from an existing image (the base). Layers of a Docker schema 2 base get the
    /// OCI media type of the same bytes, since what we write is an OCI manifest.
    pub fn from_base(manifest: &ImageManifest, config: ImageConfiguration) -> Self {
        let layers = manifest
            .layers()
            .iter()
            .map(|l| {
                let mt = match l.media_type().to_string().as_str() {
                    DOCKER_LAYER_GZIP => MediaType::ImageLayerGzip.to_string(),
                    other => other.to_string(),
                };
                with_known_media_type(l.clone(), &mt)
            })
            .collect();
        DraftImage {
            config,
            layers,
            annotations: BTreeMap::new(),
        }
    }

    /// Adds a layer on top, with a history entry that says what made it.
    pub fn append(mut self, layer: &LayerInfo, created_by: &str) -> Self {
        let desc = Descriptor::new(
            MediaType::Other(layer.media_type.to_string()),
            layer.size,
            layer.digest.to_oci(),
        );
        // Use the typed media type when oci-spec knows it, so JSON is the standard string.
        let desc = with_known_media_type(desc, layer.media_type);
        self.layers.push(desc);
        self.config
            .rootfs_mut()
            .diff_ids_mut()
            .push(layer.diff_id.to_string());
        let entry = HistoryBuilder::default()
            .created_by(created_by.to_string())
            .build()
            .expect("history has no required fields");
        let mut history = self.config.history().clone().unwrap_or_default();
        history.push(entry);
        self.config.set_history(Some(history));
        self
    }

    /// Sets the image's `created` time, and the time of every history entry we add.
    pub fn with_created(mut self, rfc3339: &str) -> Self {
        self.config.set_created(Some(rfc3339.to_string()));
        if let Some(h) = self.config.history_mut() {
            for e in h.iter_mut().filter(|e| e.created().is_none()) {
                e.set_created(Some(rfc3339.to_string()));
            }
        }
        self
    }

    /// Applies the blueprint's `[config]` over the inherited config. Env and labels
    /// merge by key; entrypoint, cmd, user, workdir and stop signal replace; ports union.
    pub fn apply_config(mut self, spec: &ConfigSpec, labels: &BTreeMap<String, String>) -> Self {
        let mut c: Config = self.config.config().clone().unwrap_or_default();
        let mut env: Vec<String> = c.env().clone().unwrap_or_default();
        set_env(&mut env, &spec.env);
        if !env.is_empty() {
            c.set_env(Some(env));
        }
        if let Some(e) = &spec.entrypoint {
            c.set_entrypoint(Some(e.clone()));
        }
        if let Some(cmd) = &spec.cmd {
            c.set_cmd(Some(cmd.clone()));
        }
        if let Some(u) = &spec.user {
            c.set_user(Some(u.clone()));
        }
        if let Some(w) = &spec.workdir {
            c.set_working_dir(Some(w.clone()));
        }
        if let Some(s) = &spec.stop_signal {
            c.set_stop_signal(Some(s.clone()));
        }
        if !spec.exposed_ports.is_empty() {
            let mut ports = c.exposed_ports().clone().unwrap_or_default();
            ports.extend(spec.exposed_ports.iter().cloned());
            ports.sort();
            ports.dedup();
            c.set_exposed_ports(Some(ports));
        }
        let mut all: HashMap<String, String> = c.labels().clone().unwrap_or_default();
        all.extend(labels.iter().map(|(k, v)| (k.clone(), v.clone())));
        all.extend(spec.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
        if !all.is_empty() {
            c.set_labels(Some(all));
        }
        self.config.set_config(Some(c));
        self
    }

    pub fn annotate(mut self, key: &str, value: &str) -> Self {
        self.annotations.insert(key.to_string(), value.to_string());
        self
    }

    /// Checks the invariants: one diff_id per layer, known layer media types, digests valid.
    pub fn validate(&self) -> Vec<String> {
        let mut errs = Vec::new();
        let diff_ids = self.config.rootfs().diff_ids();
        if diff_ids.len() != self.layers.len() {
            errs.push(format!(
                "{} layers but {} diff_ids in the config",
                self.layers.len(),
                diff_ids.len()
            ));
        }
        for (i, l) in self.layers.iter().enumerate() {
            if crate::layer::Compression::from_media_type(l.media_type().as_ref()).is_none() {
                errs.push(format!(
                    "layer {i}: unsupported media type {}",
                    l.media_type()
                ));
            }
            if Digest::try_from(l.digest()).is_err() {
                errs.push(format!("layer {i}: invalid digest {}", l.digest()));
            }
        }
        for (i, d) in diff_ids.iter().enumerate() {
            if d.parse::<Digest>().is_err() {
                errs.push(format!("diff_id {i}: invalid digest {d}"));
            }
        }
        errs
    }

    /// Writes config and manifest to the layout; returns the manifest's descriptor.
    /// Layer blobs must already be there.
    pub fn write(&self, dir: &OciDir) -> Result<(Descriptor, ImageManifest)> {
        let problems = self.validate();
        if !problems.is_empty() {
            anyhow::bail!("invalid image: {}", problems.join("; "));
        }
        let config = dir.write_json(&self.config, MediaType::ImageConfig)?;
        let mut b = ImageManifestBuilder::default()
            .schema_version(2u32)
            .media_type(MediaType::ImageManifest)
            .config(config)
            .layers(self.layers.clone());
        if !self.annotations.is_empty() {
            b = b.annotations(
                self.annotations
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect::<HashMap<_, _>>(),
            );
        }
        let manifest = b.build().context("assembling the image manifest")?;
        let desc = dir.write_json(&manifest, MediaType::ImageManifest)?;
        Ok((desc, manifest))
    }
}

/// Lays `vars` over an OCI `KEY=VALUE` environment list: a key already set is replaced
/// (and moves to the end), a new one is appended.
pub fn set_env(env: &mut Vec<String>, vars: &BTreeMap<String, String>) {
    for (k, v) in vars {
        let prefix = format!("{k}=");
        env.retain(|e| !e.starts_with(&prefix));
        env.push(format!("{k}={v}"));
    }
}

fn with_known_media_type(mut d: Descriptor, mt: &str) -> Descriptor {
    let typed = match mt {
        "application/vnd.oci.image.layer.v1.tar+gzip" => MediaType::ImageLayerGzip,
        "application/vnd.oci.image.layer.v1.tar+zstd" => MediaType::ImageLayerZstd,
        "application/vnd.oci.image.layer.v1.tar" => MediaType::ImageLayer,
        other => MediaType::Other(other.to_string()),
    };
    d.set_media_type(typed);
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_base_layers_get_oci_media_types() {
        let m: ImageManifest = serde_json::from_value(serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                "digest": format!("sha256:{}", "a".repeat(64)), "size": 2},
            "layers": [{"mediaType": DOCKER_LAYER_GZIP,
                "digest": format!("sha256:{}", "b".repeat(64)), "size": 3}],
        }))
        .unwrap();
        let d = DraftImage::from_base(&m, ImageConfiguration::default());
        assert_eq!(*d.layers[0].media_type(), MediaType::ImageLayerGzip);
        assert_eq!(d.layers[0].size(), 3);
    }

    #[test]
    fn set_env_replaces_by_key_and_appends_new() {
        let mut env = vec!["PATH=/bin".to_string(), "LANG=C".to_string()];
        let vars: BTreeMap<String, String> = [("LANG", "C.UTF-8"), ("TZ", "UTC")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        set_env(&mut env, &vars);
        assert_eq!(env, ["PATH=/bin", "LANG=C.UTF-8", "TZ=UTC"]);
        // A key that is a prefix of another is not confused with it.
        let mut env = vec!["LANGUAGE=en".to_string()];
        set_env(&mut env, &[("LANG".to_string(), "C".to_string())].into());
        assert_eq!(env, ["LANGUAGE=en", "LANG=C"]);
    }
}
