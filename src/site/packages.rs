//! The package diff between two releases (their package lists come from their SBOMs,
//! read by `advisory::sbom_read::packages`).

use crate::advisory::sbom_read::Package;
use std::collections::BTreeMap;

/// One line of a package diff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Added {
        name: String,
        version: String,
    },
    Removed {
        name: String,
        version: String,
    },
    Changed {
        name: String,
        from: String,
        to: String,
    },
}

/// What changed from `old` to `new`, by package name (and architecture), sorted by name.
pub fn diff(old: &[Package], new: &[Package]) -> Vec<Change> {
    let key = |p: &Package| {
        if p.arch.is_empty() {
            p.name.clone()
        } else {
            format!("{}:{}", p.name, p.arch)
        }
    };
    let a: BTreeMap<String, &Package> = old.iter().map(|p| (key(p), p)).collect();
    let b: BTreeMap<String, &Package> = new.iter().map(|p| (key(p), p)).collect();
    let mut out = Vec::new();
    for (k, p) in &b {
        match a.get(k) {
            None => out.push((
                k.clone(),
                Change::Added {
                    name: p.name.clone(),
                    version: p.version.clone(),
                },
            )),
            Some(o) if o.version != p.version => out.push((
                k.clone(),
                Change::Changed {
                    name: p.name.clone(),
                    from: o.version.clone(),
                    to: p.version.clone(),
                },
            )),
            Some(_) => {}
        }
    }
    for (k, p) in &a {
        if !b.contains_key(k) {
            out.push((
                k.clone(),
                Change::Removed {
                    name: p.name.clone(),
                    version: p.version.clone(),
                },
            ));
        }
    }
    out.sort_by(|x, y| x.0.cmp(&y.0));
    out.into_iter().map(|(_, c)| c).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(name: &str, version: &str) -> Package {
        Package {
            name: name.into(),
            version: version.into(),
            arch: "amd64".into(),
        }
    }

    #[test]
    fn reads_debian_packages_only() {
        let doc = br#"{"spdxVersion":"SPDX-2.3","files":[{"x":1}],"relationships":[],
          "packages":[
            {"SPDXID":"a","externalRefs":[{"referenceType":"purl","referenceLocator":"pkg:oci/x@sha256%3A00"}]},
            {"SPDXID":"b","externalRefs":[{"referenceType":"purl","referenceLocator":"pkg:deb/debian/zlib1g@1%3A1.2?arch=amd64"}]},
            {"SPDXID":"c","externalRefs":[{"referenceType":"purl","referenceLocator":"pkg:deb/debian/curl@7.88?arch=amd64"}]}]}"#;
        let got = crate::advisory::sbom_read::packages(doc).unwrap();
        assert_eq!(got, vec![p("curl", "7.88"), p("zlib1g", "1:1.2")]);
        assert!(crate::advisory::sbom_read::packages(b"[]").is_err());
        assert!(
            crate::advisory::sbom_read::packages(br#"{"spdxVersion":"SPDX-3.0"}"#)
                .unwrap_err()
                .contains("SPDX-3.0")
        );
    }

    #[test]
    fn diff_names_added_removed_and_changed() {
        let old = [p("curl", "1"), p("gone", "2"), p("same", "3")];
        let new = [p("curl", "1.1"), p("new", "4"), p("same", "3")];
        assert_eq!(
            diff(&old, &new),
            vec![
                Change::Changed {
                    name: "curl".into(),
                    from: "1".into(),
                    to: "1.1".into()
                },
                Change::Removed {
                    name: "gone".into(),
                    version: "2".into()
                },
                Change::Added {
                    name: "new".into(),
                    version: "4".into()
                },
            ]
        );
        assert!(diff(&new, &new).is_empty());
    }
}
