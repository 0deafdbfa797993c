//! Layer compression: the algorithms we write, their OCI media types, and decompression
//! (compression itself lives with the writer: `writer.rs` and `gzip.rs`).

use serde::{Deserialize, Serialize};
use std::io::{self, BufReader, Read};

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

/// A reader of the uncompressed tar stream inside a layer blob compressed with `c`.
///
/// Gzip members are read one after another (as `gzip -d` does); zstd keeps its default
/// window limit (128 MiB), so a hostile frame cannot make it allocate more. Errors that
/// happen while setting up the decoder surface on the first read.
pub fn decompress<'a, R: Read + 'a>(c: Compression, r: R) -> Box<dyn Read + 'a> {
    match c {
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(BufReader::new(r))),
        Compression::Zstd => match zstd::stream::read::Decoder::new(r) {
            Ok(d) => Box::new(d),
            Err(e) => Box::new(FailedReader(Some(e))),
        },
        Compression::None => Box::new(r),
    }
}

/// Yields its error on the first read, then a generic one.
struct FailedReader(Option<io::Error>);

impl Read for FailedReader {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        Err(self
            .0
            .take()
            .unwrap_or_else(|| io::Error::other("the decompressor could not be started")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn decompresses_what_the_system_tools_write() {
        let data = b"hello layer\n".repeat(1000);
        for (c, tool, args) in [
            (Compression::Gzip, "gzip", &["-c"][..]),
            (Compression::Zstd, "zstd", &["-c", "-q"][..]),
        ] {
            let mut child = std::process::Command::new(tool)
                .args(args)
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            child.stdin.take().unwrap().write_all(&data).unwrap();
            let out = child.wait_with_output().unwrap();
            let mut back = Vec::new();
            decompress(c, &out.stdout[..])
                .read_to_end(&mut back)
                .unwrap();
            assert_eq!(back, data, "{tool}");
        }
        let mut back = Vec::new();
        decompress(Compression::None, &data[..])
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, data);
    }

    #[test]
    fn corrupt_input_is_an_error() {
        let mut back = Vec::new();
        assert!(decompress(Compression::Gzip, &b"not gzip"[..])
            .read_to_end(&mut back)
            .is_err());
        assert!(decompress(Compression::Zstd, &b"not zstd"[..])
            .read_to_end(&mut back)
            .is_err());
    }

    #[test]
    fn media_types_round_trip() {
        for c in [Compression::Gzip, Compression::Zstd, Compression::None] {
            assert_eq!(Compression::from_media_type(c.media_type()), Some(c));
        }
    }
}
