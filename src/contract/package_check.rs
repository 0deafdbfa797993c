//! `package` tests: a Debian package is installed (at a version satisfying a constraint)
//! or absent, according to the image's dpkg database. With several architectures of one
//! package installed, every one of them must satisfy the constraint.

use super::report::Outcome;
use super::rootfs::RootFs;
use super::schema::{PackageExpect, PackageTest};
use crate::debian::dpkg::{self, Record};
use crate::debian::version::DebVersion;
use std::path::Path;

pub fn check(root: &Path, t: &PackageTest) -> Outcome {
    match dpkg::read(RootFs::new(root)) {
        Ok(db) => evaluate(db.as_deref(), t),
        Err(e) => Outcome::error(format!("reading the dpkg database: {e}")),
    }
}

/// Decides a test against the database's records (`None`: the image has no database).
pub fn evaluate(db: Option<&[Record]>, t: &PackageTest) -> Outcome {
    let expected = match &t.expect {
        PackageExpect::Absent => format!("{} not installed", t.name),
        PackageExpect::Installed(None) => format!("{} installed", t.name),
        PackageExpect::Installed(Some(c)) => format!("{} installed, version {c}", t.name),
    };
    let Some(db) = db else {
        return match t.expect {
            PackageExpect::Absent => Outcome::Passed,
            PackageExpect::Installed(_) => Outcome::failed(
                expected,
                format!("the image has no dpkg database ({})", dpkg::STATUS),
            ),
        };
    };
    let named: Vec<&Record> = db.iter().filter(|r| r.is(&t.name)).collect();
    let installed: Vec<&Record> = named.iter().copied().filter(|r| r.installed()).collect();
    let list = |rs: &[&Record]| {
        rs.iter()
            .map(|r| {
                format!(
                    "{} ({})",
                    r.version.as_deref().unwrap_or("no version"),
                    r.architecture.as_deref().unwrap_or("no architecture")
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    match &t.expect {
        PackageExpect::Absent if installed.is_empty() => Outcome::Passed,
        PackageExpect::Absent => {
            Outcome::failed(expected, format!("installed: {}", list(&installed)))
        }
        PackageExpect::Installed(_) if installed.is_empty() => {
            let actual = match named.first().and_then(|r| r.status.as_deref()) {
                Some(status) => format!("not installed (status: {status})"),
                None => "not installed".to_string(),
            };
            Outcome::failed(expected, actual)
        }
        PackageExpect::Installed(None) => Outcome::Passed,
        PackageExpect::Installed(Some(c)) => {
            let ok = installed.iter().all(|r| {
                r.version
                    .as_deref()
                    .and_then(|v| DebVersion::parse(v).ok())
                    .is_some_and(|v| c.matches(&v))
            });
            if ok {
                Outcome::Passed
            } else {
                Outcome::failed(expected, format!("installed: {}", list(&installed)))
            }
        }
    }
}
