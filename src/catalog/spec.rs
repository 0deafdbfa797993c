//! Naming a catalog: `oci-layout:PATH` (the embedded default, `./catalog`) or
//! `registry:HOST[:PORT]/NAMESPACE`.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// The catalog used when neither `--catalog` nor `COREBUILD_CATALOG` names one.
pub const DEFAULT_CATALOG: &str = "oci-layout:./catalog";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CatalogSpec {
    /// An OCI image layout directory holding every release as `NAME:VERSION`.
    Layout(PathBuf),
    /// A registry: a release of NAME lands at `HOST[:PORT]/NAMESPACE/NAME:VERSION`.
    Registry { host: String, namespace: String },
}

impl FromStr for CatalogSpec {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> anyhow::Result<Self> {
        let bad = |why: &str| {
            crate::error::input(format!(
                "catalog {s:?}: {why} (use oci-layout:PATH or registry:HOST[:PORT]/NAMESPACE)"
            ))
        };
        if let Some(p) = s.strip_prefix("oci-layout:") {
            if p.is_empty() {
                return Err(bad("the layout path is empty"));
            }
            return Ok(CatalogSpec::Layout(PathBuf::from(p)));
        }
        if let Some(r) = s.strip_prefix("registry:") {
            let r = r.trim_end_matches('/');
            let (host, namespace) = r
                .split_once('/')
                .ok_or_else(|| bad("the namespace is missing"))?;
            if host.is_empty() || host.contains(char::is_whitespace) {
                return Err(bad("the host is empty or has whitespace"));
            }
            let ns_ok = namespace.split('/').all(|c| {
                !c.is_empty()
                    && c.starts_with(|ch: char| ch.is_ascii_lowercase() || ch.is_ascii_digit())
                    && c.chars().all(|ch| {
                        ch.is_ascii_lowercase() || ch.is_ascii_digit() || "._-".contains(ch)
                    })
            });
            if !ns_ok {
                return Err(bad(
                    "the namespace must be lowercase path components (letters, digits, `._-`)",
                ));
            }
            return Ok(CatalogSpec::Registry {
                host: host.to_string(),
                namespace: namespace.to_string(),
            });
        }
        Err(bad("unknown kind"))
    }
}

impl fmt::Display for CatalogSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CatalogSpec::Layout(p) => write!(f, "oci-layout:{}", p.display()),
            CatalogSpec::Registry { host, namespace } => write!(f, "registry:{host}/{namespace}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_kinds() {
        assert_eq!(
            "oci-layout:./catalog".parse::<CatalogSpec>().unwrap(),
            CatalogSpec::Layout("./catalog".into())
        );
        assert_eq!(
            "registry:127.0.0.1:5000/core/images"
                .parse::<CatalogSpec>()
                .unwrap(),
            CatalogSpec::Registry {
                host: "127.0.0.1:5000".into(),
                namespace: "core/images".into()
            }
        );
        for bad in [
            "registry:host",
            "registry:/ns",
            "registry:h/NS",
            "oci-layout:",
            "s3:x",
        ] {
            assert!(bad.parse::<CatalogSpec>().is_err(), "{bad}");
        }
    }
}
