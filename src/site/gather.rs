//! The catalog read once for the site: every name's state ([`View`], with each release's
//! base and "base revoked"), statuses recomputed as of the `--today` date, and every
//! release's documents ([`artifacts::read`]) read in parallel.

use super::artifacts::{self, Facts};
use super::files::Files;
use crate::catalog::dependents::Dependent;
use crate::catalog::view::{BaseRef, View};
use crate::catalog::{Catalog, Release, State, Status};
use anyhow::Result;
use std::collections::{BTreeMap, BTreeSet};

/// Releases read at once.
const READERS: usize = 6;

/// One release with everything its pages show.
#[derive(Debug, Clone)]
pub struct Version {
    /// As the catalog folds it, with `status` as of the site's date.
    pub release: Release,
    /// Whether the version is safe as a file name; unsafe ones get no page.
    pub has_page: bool,
    pub base: Option<BaseRef>,
    /// The catalog release the base is (name, version), when it is one.
    pub base_release: Option<(String, String)>,
    pub base_revoked: Option<String>,
    pub dependents: Vec<Dependent>,
    pub facts: Facts,
    /// Pull-by-digest commands: (tool, command line).
    pub commands: Vec<(String, String)>,
}

/// One core build.
#[derive(Debug, Clone)]
pub struct Build {
    pub state: State,
    /// The newest version's image description.
    pub description: Option<String>,
    /// Lowest version first, as `state.releases`.
    pub versions: Vec<Version>,
}

impl Build {
    pub fn name(&self) -> &str {
        &self.state.name
    }

    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    pub fn version(&self, v: &str) -> Option<&Version> {
        self.versions.iter().find(|x| x.release.version == v)
    }
}

/// The whole catalog as the site shows it.
#[derive(Debug, Clone)]
pub struct Site {
    /// The catalog as the user named it.
    pub location: String,
    pub today: String,
    pub builds: Vec<Build>,
}

/// A version string that can name a file: letters, digits and `._-`, not starting with `.`.
pub fn safe_version(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 128
        && !v.starts_with('.')
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
}

/// Reads everything the site shows, copying linked files into `files`.
pub fn gather(cat: &dyn Catalog, files: &Files, today: &str) -> Result<Site> {
    let view = View::load(cat, None)?;
    let all: Vec<(String, crate::digest::Digest)> = view
        .states
        .iter()
        .flat_map(|s| {
            s.releases
                .iter()
                .map(|r| (s.name.clone(), r.digest.clone()))
        })
        .collect();
    let tags: BTreeMap<&str, BTreeSet<String>> = view
        .states
        .iter()
        .map(|s| Ok((s.name.as_str(), cat.tags(&s.name)?.into_iter().collect())))
        .collect::<Result<_>>()?;
    let rd = artifacts::Reader::new(cat, files);
    let mut facts = crate::parallel::map(&all, READERS, |(n, d)| {
        artifacts::read(&rd, n, &tags[n.as_str()], d)
    })?
    .into_iter();
    let mut builds = Vec::new();
    for s in &view.states {
        let mut versions = Vec::new();
        for r in &s.releases {
            let mut release = r.clone();
            release.status = Status::as_of(&r.history, r.end_of_support.as_deref(), today);
            versions.push(Version {
                has_page: safe_version(&r.version),
                base: view.bases.get(&r.digest).cloned(),
                base_release: view
                    .base_release(&r.digest)
                    .map(|(st, br)| (st.name.clone(), br.version.clone())),
                base_revoked: view.revoked_base(&r.digest),
                dependents: view.dependents(&r.digest),
                facts: facts.next().unwrap_or_default(),
                commands: commands(cat, &s.name, r),
                release,
            });
        }
        let mut state = s.clone();
        state.releases = versions.iter().map(|v| v.release.clone()).collect();
        let description = match s.releases.last() {
            Some(r) => artifacts::description(cat, &s.name, &r.digest)?,
            None => None,
        };
        builds.push(Build {
            state,
            description,
            versions,
        });
    }
    Ok(Site {
        location: cat.location(),
        today: today.to_string(),
        builds,
    })
}

/// `s` quoted for a POSIX shell when it holds anything but plain characters.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "@%+=:,./_-".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// How to pull release `r` of `name` by digest: with corebuild, and with skopeo and docker
/// from a registry (from a layout, skopeo by the version tag).
fn commands(cat: &dyn Catalog, name: &str, r: &Release) -> Vec<(String, String)> {
    let dest = shell_quote(&format!("oci:./{name}:{}", r.version));
    let mut out = vec![(
        "corebuild".to_string(),
        format!(
            "corebuild pull {name}@{} --catalog {} --out ./{name}",
            r.digest,
            shell_quote(&cat.location())
        ),
    )];
    if cat.location().starts_with("oci-layout:") {
        // skopeo cannot name an image of a layout by digest (it reads `oci:PATH@sha256:…`
        // as a directory): by its version tag, which the catalog never moves.
        let tagged = cat.client_reference(name, &r.version);
        out.push((
            "skopeo".into(),
            format!("skopeo copy {} {dest}", shell_quote(&tagged)),
        ));
    } else {
        let client = cat.client_reference(name, &r.digest.to_string());
        out.push((
            "docker".into(),
            format!("docker pull {}", shell_quote(&client)),
        ));
        out.push((
            "skopeo".into(),
            format!(
                "skopeo copy {} {dest}",
                shell_quote(&format!("docker://{client}"))
            ),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_shell_words_are_checked() {
        assert!(safe_version("1.0.0") && safe_version("1.0.0-rc.1_b2"));
        for bad in ["", "../x", ".hidden", "a/b", "1.0 0", "<x>"] {
            assert!(!safe_version(bad), "{bad}");
        }
        assert_eq!(shell_quote("oci-layout:/srv/cat"), "oci-layout:/srv/cat");
        assert_eq!(shell_quote("a b'c"), "'a b'\\''c'");
    }
}
