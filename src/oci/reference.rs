//! Image references on the command line and in blueprints: a store tag (`name:version`),
//! a digest in the store (`sha256:…` or `name@sha256:…`), or an external OCI layout
//! (`oci-layout:PATH[:TAG]`).

use crate::digest::Digest;
use std::fmt;
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageRef {
    /// A tag in the store, `name:version`.
    Tag(String),
    /// A manifest in the store by digest; `name` is kept for messages when given.
    Digest {
        name: Option<String>,
        digest: Digest,
    },
    /// An image in another OCI layout directory, by tag (or the only image when no tag).
    Layout { path: PathBuf, tag: Option<String> },
}

impl ImageRef {
    pub fn parse(s: &str) -> anyhow::Result<Self> {
        let bad = |why: &str| {
            crate::error::input(format!(
                "image reference {s:?}: {why} (use name:version, sha256:<hex>, name@sha256:<hex> or oci-layout:PATH[:TAG])"
            ))
        };
        if let Some(rest) = s.strip_prefix("oci-layout:") {
            if rest.is_empty() {
                return Err(bad("missing layout path"));
            }
            return Ok(split_layout(rest));
        }
        if s.starts_with("sha256:") {
            let digest = s.parse().map_err(|e| bad(&format!("{e}")))?;
            return Ok(ImageRef::Digest { name: None, digest });
        }
        if let Some((name, d)) = s.split_once('@') {
            let digest = d.parse().map_err(|e| bad(&format!("{e}")))?;
            return Ok(ImageRef::Digest {
                name: Some(name.to_string()),
                digest,
            });
        }
        match s.split_once(':') {
            Some((n, v)) if !n.is_empty() && !v.is_empty() && !v.contains(':') => {
                Ok(ImageRef::Tag(s.to_string()))
            }
            _ => Err(bad("expected name:version")),
        }
    }
}

/// Splits `PATH[:TAG]`: the path is the longest prefix that is an OCI layout directory,
/// so both paths and tags may contain colons; if none exists, the first colon splits.
fn split_layout(rest: &str) -> ImageRef {
    let mut cut = None;
    for (i, c) in rest.char_indices() {
        if c == ':' && PathBuf::from(&rest[..i]).join("oci-layout").is_file() {
            cut = Some(i);
        }
    }
    if PathBuf::from(rest).join("oci-layout").is_file() {
        cut = None;
    } else if cut.is_none() {
        cut = rest.find(':');
    }
    match cut {
        Some(i) => ImageRef::Layout {
            path: PathBuf::from(&rest[..i]),
            tag: Some(rest[i + 1..].to_string()).filter(|t| !t.is_empty()),
        },
        None => ImageRef::Layout {
            path: PathBuf::from(rest),
            tag: None,
        },
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImageRef::Tag(t) => f.write_str(t),
            ImageRef::Digest {
                name: Some(n),
                digest,
            } => write!(f, "{n}@{digest}"),
            ImageRef::Digest { name: None, digest } => write!(f, "{digest}"),
            ImageRef::Layout { path, tag: None } => write!(f, "oci-layout:{}", path.display()),
            ImageRef::Layout { path, tag: Some(t) } => {
                write!(f, "oci-layout:{}:{t}", path.display())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_form() {
        assert_eq!(
            ImageRef::parse("core:1.0.0").unwrap(),
            ImageRef::Tag("core:1.0.0".into())
        );
        let hex = "a".repeat(64);
        assert!(matches!(
            ImageRef::parse(&format!("sha256:{hex}")).unwrap(),
            ImageRef::Digest { name: None, .. }
        ));
        assert!(matches!(
            ImageRef::parse(&format!("core@sha256:{hex}")).unwrap(),
            ImageRef::Digest { name: Some(_), .. }
        ));
        assert_eq!(
            ImageRef::parse("oci-layout:/x/y:1.0").unwrap(),
            ImageRef::Layout {
                path: "/x/y".into(),
                tag: Some("1.0".into())
            }
        );
        assert_eq!(
            ImageRef::parse("oci-layout:/x/y").unwrap(),
            ImageRef::Layout {
                path: "/x/y".into(),
                tag: None
            }
        );
    }

    #[test]
    fn layout_path_with_tag_containing_colon() {
        let t = tempfile::tempdir().unwrap();
        std::fs::write(t.path().join("oci-layout"), "{}").unwrap();
        let s = format!("oci-layout:{}:core:1.0.0", t.path().display());
        assert_eq!(
            ImageRef::parse(&s).unwrap(),
            ImageRef::Layout {
                path: t.path().to_path_buf(),
                tag: Some("core:1.0.0".into())
            }
        );
    }

    #[test]
    fn rejects_garbage() {
        for bad in ["core", "sha256:xyz", "a@sha256:1", "oci-layout:", ":1"] {
            assert!(ImageRef::parse(bad).is_err(), "{bad}");
        }
    }
}
