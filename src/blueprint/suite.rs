//! Finds the contract suites a blueprint names and reads their headers.
//!
//! A suite `NAME` is the file `contract-tests/NAME.toml` in the nearest ancestor of the
//! blueprint's directory that has a `contract-tests/` directory, or `NAME.toml` in
//! `LoadOptions::suites_dir` when that is given. Only `name`, `version` and
//! `description` are checked here; the whole table is kept for the contract module.

use super::error::{display_path, BlueprintError, Source};
use super::model::SuiteRef;
use super::unit::Placed;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use toml::Spanned;

type Result<T> = std::result::Result<T, BlueprintError>;

/// The name of the directory searched for suites.
pub const SUITES_DIR_NAME: &str = "contract-tests";

/// The header every suite file must have; other keys are the contract module's business.
#[derive(Deserialize)]
struct SuiteHeader {
    name: Spanned<String>,
    version: Spanned<String>,
    description: String,
}

pub fn resolve(
    names: &[Placed<String>],
    blueprint_dir: &Path,
    override_dir: Option<&Path>,
) -> Result<Vec<SuiteRef>> {
    let Some(first) = names.first() else {
        return Ok(Vec::new());
    };
    let dir = match override_dir {
        Some(d) => d.to_path_buf(),
        None => find_suites_dir(blueprint_dir).ok_or_else(|| {
            first
                .origin
                .error(format!(
                    "no {SUITES_DIR_NAME}/ directory in {} or any directory above it",
                    display_path(blueprint_dir)
                ))
                .with_hint(format!(
                    "create {SUITES_DIR_NAME}/{}.toml beside the blueprints, or pass the suites directory explicitly",
                    first.value
                ))
        })?,
    };
    names.iter().map(|n| read_suite(n, &dir)).collect()
}

/// The nearest `contract-tests/` at or above `start`.
pub fn find_suites_dir(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .map(|a| a.join(SUITES_DIR_NAME))
        .find(|d| d.is_dir())
}

fn read_suite(name: &Placed<String>, dir: &Path) -> Result<SuiteRef> {
    let path = dir.join(format!("{}.toml", name.value));
    if !path.is_file() {
        let available = available(dir);
        let hint = if available.is_empty() {
            format!("create {} or fix the suite name", display_path(&path))
        } else {
            format!(
                "create {} or use one of: {}",
                display_path(&path),
                available.join(", ")
            )
        };
        return Err(name
            .origin
            .error(format!(
                "contract suite {:?} not found: {} does not exist",
                name.value,
                display_path(&path)
            ))
            .with_hint(hint));
    }
    let src = Source::read(&path)?;
    let header: SuiteHeader = src.parse()?;
    let raw: toml::Table = src.parse()?;
    if header.name.get_ref() != &name.value {
        return Err(src
            .error(
                header.name.span(),
                format!(
                    "suite file {} declares name {:?}, but its file name says {:?}",
                    display_path(&path),
                    header.name.get_ref(),
                    name.value
                ),
            )
            .with_hint("a suite's name must match its file name; rename one of them"));
    }
    let version = header.version.get_ref().parse().map_err(|e| {
        src.error(
            header.version.span(),
            format!("invalid suite version {:?}: {e}", header.version.get_ref()),
        )
        .with_hint("use a semantic version MAJOR.MINOR.PATCH, e.g. version = \"1.0.0\"")
    })?;
    Ok(SuiteRef {
        name: name.value.clone(),
        path,
        version,
        description: header.description,
        raw,
    })
}

/// Suite names in `dir`, sorted, for the hint of a missing suite.
fn available(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let p = e.path();
            (p.extension()? == "toml").then(|| p.file_stem()?.to_str().map(str::to_string))?
        })
        .collect();
    names.sort();
    names
}
