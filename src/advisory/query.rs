//! The pattern query of the security response: which released versions of which core
//! builds carry a package (optionally within a Debian version constraint), a file, or a
//! CVE. Pure matching over the facts gathered from the catalog ([`super::gather`]): the
//! SBOM's packages and files and the OpenVEX statements of each release.
//!
//! A CVE matches a release in two ways: its own VEX document has a statement about it
//! (`fixed`, or any other OpenVEX status, reported as written), or, without one, its SBOM
//! carries a package that some release's VEX says was fixed. Such a release is `fixed`
//! when its version is at least the lowest version any VEX names as fixed, `affected`
//! when it is lower. (A package fixed on two Debian suites at unrelated versions is
//! compared against the lower one: a runbook caveat, not a guess.)

use super::sbom_read::{self, parse_deb_purl, Facts};
use super::vex;
use crate::catalog::{Release, Status};
use crate::debian::version::{Constraint, DebVersion};
use crate::digest::Digest;
use serde::Serialize;
use std::collections::BTreeMap;

/// What to look for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    /// A Debian package by name (`pkg` or `pkg:arch`), optionally within a constraint.
    Package {
        name: String,
        version: Option<Constraint>,
    },
    /// A file by its absolute path in the image.
    File { path: String },
    /// A vulnerability id (`CVE-…`, `DSA-…`, `DLA-…`), case-insensitive.
    Cve { id: String },
}

impl Query {
    /// `--package NAME [--version CONSTRAINT]`; a bad constraint is bad input naming it.
    pub fn package(name: &str, version: Option<&str>) -> anyhow::Result<Query> {
        let version = version
            .map(|v| {
                Constraint::parse(v).map_err(|e| {
                    crate::error::input(format!("--version: bad version constraint {e}"))
                })
            })
            .transpose()?;
        if name.is_empty() || name.contains(char::is_whitespace) {
            return Err(crate::error::input(format!(
                "--package {name:?} is not a package name"
            )));
        }
        Ok(Query::Package {
            name: name.to_string(),
            version,
        })
    }

    /// `--file PATH`: an absolute path.
    pub fn file(path: &str) -> anyhow::Result<Query> {
        if !path.starts_with('/') {
            return Err(crate::error::input(format!(
                "--file {path:?} must be an absolute path in the image (e.g. /usr/bin/openssl)"
            )));
        }
        Ok(Query::File {
            path: sbom_read::normalize_path(path),
        })
    }

    /// `--cve ID`.
    pub fn cve(id: &str) -> anyhow::Result<Query> {
        let ok = !id.is_empty()
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.');
        if !ok {
            return Err(crate::error::input(format!(
                "--cve {id:?} is not a vulnerability id (e.g. CVE-2026-0001, DSA-5900-1)"
            )));
        }
        Ok(Query::Cve {
            id: id.to_ascii_uppercase(),
        })
    }

    /// Whether answering needs the releases' VEX documents.
    pub fn needs_vex(&self) -> bool {
        matches!(self, Query::Cve { .. })
    }

    /// The query as the JSON output states it.
    pub fn view(&self) -> BTreeMap<&'static str, String> {
        match self {
            Query::Package { name, version } => {
                let mut m = BTreeMap::from([("package", name.clone())]);
                if let Some(c) = version {
                    m.insert("version", c.to_string());
                }
                m
            }
            Query::File { path } => BTreeMap::from([("file", path.clone())]),
            Query::Cve { id } => BTreeMap::from([("cve", id.clone())]),
        }
    }
}

/// What one release holds, as gathered from its attached SBOM and VEX documents.
#[derive(Debug, Clone)]
pub struct ReleaseFacts {
    pub name: String,
    pub release: Release,
    /// `None` when the release has no readable SBOM (a warning says why).
    pub sbom: Option<Facts>,
    pub vex: Vec<vex::Document>,
}

/// One answer: a release and what in it matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Match {
    pub name: String,
    pub version: String,
    pub digest: Digest,
    pub status: Status,
    /// Why it was deprecated or revoked.
    pub reason: Option<String>,
    pub channels: Vec<String>,
    pub end_of_support: Option<String>,
    #[serde(rename = "match")]
    pub matched: Matched,
}

/// What matched in a release.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Matched {
    Package {
        package: String,
        version: String,
        arch: String,
    },
    File {
        path: String,
        /// The packages whose dpkg file list names it (empty: no package owns it).
        packages: Vec<String>,
    },
    Cve {
        cve: String,
        /// `fixed`, `affected`, or another OpenVEX status as the release's VEX says.
        status: String,
        /// `vex`: the release's own VEX statement; `sbom`: its SBOM's package version
        /// against the lowest version a VEX names as fixed.
        source: String,
        package: Option<String>,
        version: Option<String>,
        /// The lowest fixed version (for a `sbom` answer).
        fixed_version: Option<String>,
    },
}

impl Matched {
    /// A short text for the human table.
    pub fn summary(&self) -> String {
        match self {
            Matched::Package {
                package, version, ..
            } => format!("{package} {version}"),
            Matched::File { path, packages } if packages.is_empty() => path.clone(),
            Matched::File { path, packages } => format!("{path} ({})", packages.join(", ")),
            Matched::Cve {
                cve,
                status,
                package,
                version,
                fixed_version,
                ..
            } => {
                let mut s = format!("{cve} {status}");
                if let Some(p) = package {
                    s.push_str(&format!(": {p} {}", version.as_deref().unwrap_or("?")));
                }
                if let (Some(f), "affected") = (fixed_version, status.as_str()) {
                    s.push_str(&format!(" (fixed in {f})"));
                }
                s
            }
        }
    }
}

/// Every match of `q` in `releases`, by name, then version order, then what matched.
pub fn find(q: &Query, releases: &[ReleaseFacts]) -> Vec<Match> {
    let fixed = match q {
        Query::Cve { id } => lowest_fixed(id, releases),
        _ => BTreeMap::new(),
    };
    let mut out = Vec::new();
    for r in releases {
        let found = match q {
            Query::Package { name, version } => by_package(r, name, version.as_ref()),
            Query::File { path } => by_file(r, path),
            Query::Cve { id } => by_cve(r, id, &fixed),
        };
        out.extend(found.into_iter().map(|m| answer(r, m)));
    }
    out.sort_by(|a, b| {
        (&a.name, version_key(&a.version), &a.matched).cmp(&(
            &b.name,
            version_key(&b.version),
            &b.matched,
        ))
    });
    out.dedup();
    out
}

fn version_key(v: &str) -> (Option<semver::Version>, &str) {
    (semver::Version::parse(v).ok(), v)
}

fn answer(r: &ReleaseFacts, matched: Matched) -> Match {
    let rel = &r.release;
    Match {
        name: r.name.clone(),
        version: rel.version.clone(),
        digest: rel.digest.clone(),
        status: rel.status,
        reason: rel.reason().map(str::to_string),
        channels: rel.channels.clone(),
        end_of_support: rel.end_of_support.clone(),
        matched,
    }
}

fn by_package(r: &ReleaseFacts, name: &str, c: Option<&Constraint>) -> Vec<Matched> {
    let Some(sbom) = &r.sbom else {
        return Vec::new();
    };
    let (pkg, arch) = name.split_once(':').unwrap_or((name, ""));
    sbom.packages
        .iter()
        .filter(|p| p.name == pkg && (arch.is_empty() || p.arch == arch))
        .filter(|p| c.is_none_or(|c| DebVersion::parse(&p.version).is_ok_and(|v| c.matches(&v))))
        .map(|p| Matched::Package {
            package: p.name.clone(),
            version: p.version.clone(),
            arch: p.arch.clone(),
        })
        .collect()
}

fn by_file(r: &ReleaseFacts, path: &str) -> Vec<Matched> {
    let Some(sbom) = &r.sbom else {
        return Vec::new();
    };
    sbom.files
        .iter()
        .filter(|f| f.path == path)
        .map(|f| Matched::File {
            path: f.path.clone(),
            packages: f.packages.clone(),
        })
        .collect()
}

/// The statements of `r`'s VEX documents about `id` that concern `r`'s image.
fn statements<'a>(r: &'a ReleaseFacts, id: &'a str) -> impl Iterator<Item = &'a vex::Statement> {
    r.vex
        .iter()
        .flat_map(|d| d.statements.iter())
        .filter(move |s| s.vulnerability.name.eq_ignore_ascii_case(id))
        .filter(move |s| s.products.is_empty() || s.products.iter().any(|p| names_image(p, r)))
}

/// Whether a VEX product id (`pkg:oci/NAME@sha256:…`, maybe percent-encoded) is `r`'s image.
fn names_image(p: &vex::Product, r: &ReleaseFacts) -> bool {
    let digest =
        p.id.strip_prefix("pkg:oci/")
            .and_then(|rest| rest.split(['?', '#']).next())
            .and_then(|rest| rest.split_once('@'))
            .and_then(|(_, d)| crate::percent::decode(d));
    digest.as_deref() == Some(r.release.digest.to_string().as_str())
}

/// The packages a statement names (its products' Debian subcomponents).
fn subcomponents(s: &vex::Statement) -> Vec<sbom_read::Package> {
    s.products
        .iter()
        .flat_map(|p| p.subcomponents.iter())
        .filter_map(|c| parse_deb_purl(&c.id))
        .collect()
}

/// Per package, the lowest version any release's VEX says fixed `id`.
fn lowest_fixed(id: &str, releases: &[ReleaseFacts]) -> BTreeMap<String, DebVersion> {
    let mut out: BTreeMap<String, DebVersion> = BTreeMap::new();
    for r in releases {
        for s in statements(r, id).filter(|s| s.status == "fixed") {
            for p in subcomponents(s) {
                let Ok(v) = DebVersion::parse(&p.version) else {
                    continue;
                };
                match out.get(&p.name) {
                    Some(low) if *low <= v => {}
                    _ => {
                        out.insert(p.name, v);
                    }
                }
            }
        }
    }
    out
}

fn by_cve(r: &ReleaseFacts, id: &str, fixed: &BTreeMap<String, DebVersion>) -> Vec<Matched> {
    let own: Vec<&vex::Statement> = statements(r, id).collect();
    if !own.is_empty() {
        return own.iter().flat_map(|s| from_statement(s, id)).collect();
    }
    let Some(sbom) = &r.sbom else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for p in &sbom.packages {
        let (Some(low), Ok(v)) = (fixed.get(&p.name), DebVersion::parse(&p.version)) else {
            continue;
        };
        out.push(Matched::Cve {
            cve: id.to_string(),
            status: if v < *low { "affected" } else { "fixed" }.to_string(),
            source: "sbom".to_string(),
            package: Some(p.name.clone()),
            version: Some(p.version.clone()),
            fixed_version: Some(low.to_string()),
        });
    }
    out
}

fn from_statement(s: &vex::Statement, id: &str) -> Vec<Matched> {
    let one = |package: Option<String>, version: Option<String>| Matched::Cve {
        cve: id.to_string(),
        status: s.status.clone(),
        source: "vex".to_string(),
        package,
        version,
        fixed_version: None,
    };
    let pkgs = subcomponents(s);
    if pkgs.is_empty() {
        return vec![one(None, None)];
    }
    pkgs.into_iter()
        .map(|p| one(Some(p.name), Some(p.version)))
        .collect()
}

#[cfg(test)]
#[path = "query_tests.rs"]
mod tests;
