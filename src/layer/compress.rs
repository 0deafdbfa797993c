//! Layer compression: the algorithms we write, their OCI media types, and decompression.

use serde::{Deserialize, Serialize};

/// How a layer blob is compressed. The default is gzip, which every runtime reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    #[default]
    Gzip,
    Zstd,
    None,
}

impl Compression {
    pub fn media_type(self) -> &'static str {
        match self {
            Compression::Gzip => "application/vnd.oci.image.layer.v1.tar+gzip",
            Compression::Zstd => "application/vnd.oci.image.layer.v1.tar+zstd",
            Compression::None => "application/vnd.oci.image.layer.v1.tar",
        }
    }

    /// The compression named by a layer media type (OCI or Docker), if it is a layer type we read.
    pub fn from_media_type(mt: &str) -> Option<Self> {
        match mt {
            "application/vnd.oci.image.layer.v1.tar+gzip"
            | "application/vnd.docker.image.rootfs.diff.tar.gzip" => Some(Compression::Gzip),
            "application/vnd.oci.image.layer.v1.tar+zstd" => Some(Compression::Zstd),
            "application/vnd.oci.image.layer.v1.tar" => Some(Compression::None),
            _ => None,
        }
    }
}
