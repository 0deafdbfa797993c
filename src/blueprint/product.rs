//! `[product]` and `[[known_issue]]`: the facts a core build's public documentation
//! carries for the app teams that consume it (who owns it, where to ask and report, the
//! upstream references, and the known issues with their workarounds). Checked here:
//! URLs are http(s), known-issue ids are unique, `fixed_in` is a version.

use super::error::{BlueprintError, Source};
use serde::{Deserialize, Serialize};
use toml::Spanned;

/// `[product]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProduct {
    pub owner: Option<String>,
    pub contact: Option<String>,
    pub bug_tracker: Option<Spanned<String>>,
    pub documentation: Option<Spanned<String>>,
    #[serde(default)]
    pub upstream: Vec<Spanned<String>>,
}

/// One `[[known_issue]]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawKnownIssue {
    pub id: Spanned<String>,
    pub summary: String,
    pub workaround: Option<String>,
    pub fixed_in: Option<Spanned<String>>,
}

/// The product facts of a core build.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Product {
    /// The team that owns the core build.
    pub owner: Option<String>,
    /// How to reach it (a mail address, a chat channel).
    pub contact: Option<String>,
    pub bug_tracker: Option<String>,
    pub documentation: Option<String>,
    /// Upstream references (the Debian release notes, security tracker pages).
    pub upstream: Vec<String>,
}

/// A known issue of the core build.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KnownIssue {
    pub id: String,
    pub summary: String,
    pub workaround: Option<String>,
    /// The version that fixes it, when one does.
    pub fixed_in: Option<semver::Version>,
}

/// The annotation keys the product facts are recorded under in the catalog.
pub const ANNOTATION_PREFIX: &str = "dev.corebuild.product.";

impl Product {
    /// `dev.corebuild.product.{owner,contact,bug-tracker,documentation,upstream}` (the
    /// upstream references separated by spaces), for the set facts only.
    pub fn annotations(&self) -> std::collections::BTreeMap<String, String> {
        let upstream = (!self.upstream.is_empty()).then(|| self.upstream.join(" "));
        [
            ("owner", self.owner.clone()),
            ("contact", self.contact.clone()),
            ("bug-tracker", self.bug_tracker.clone()),
            ("documentation", self.documentation.clone()),
            ("upstream", upstream),
        ]
        .into_iter()
        .filter_map(|(k, v)| Some((format!("{ANNOTATION_PREFIX}{k}"), v?)))
        .collect()
    }
}

fn url(src: &Source, v: &Spanned<String>, key: &str) -> Result<String, BlueprintError> {
    let s = v.get_ref();
    let ok = (s.starts_with("https://") || s.starts_with("http://"))
        && s.len() > "https://".len()
        && !s.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(s.clone())
    } else {
        Err(src
            .error(v.span(), format!("{key} {s:?} is not an http(s) URL"))
            .with_hint("write a full URL, e.g. \"https://bugs.example.com/core\""))
    }
}

/// Checks `[product]`.
pub fn product(src: &Source, raw: Option<&RawProduct>) -> Result<Product, BlueprintError> {
    let Some(raw) = raw else {
        return Ok(Product::default());
    };
    Ok(Product {
        owner: raw.owner.clone(),
        contact: raw.contact.clone(),
        bug_tracker: raw
            .bug_tracker
            .as_ref()
            .map(|u| url(src, u, "bug_tracker"))
            .transpose()?,
        documentation: raw
            .documentation
            .as_ref()
            .map(|u| url(src, u, "documentation"))
            .transpose()?,
        upstream: raw
            .upstream
            .iter()
            .map(|u| url(src, u, "upstream"))
            .collect::<Result<_, _>>()?,
    })
}

/// Checks the `[[known_issue]]` entries: unique ids, `fixed_in` a version.
pub fn known_issues(
    src: &Source,
    raw: &[RawKnownIssue],
) -> Result<Vec<KnownIssue>, BlueprintError> {
    let mut out: Vec<KnownIssue> = Vec::with_capacity(raw.len());
    for k in raw {
        let id = k.id.get_ref().trim();
        if id.is_empty() {
            return Err(src.error(k.id.span(), "a known issue needs an id"));
        }
        if out.iter().any(|o| o.id == id) {
            return Err(src
                .error(k.id.span(), format!("known issue {id:?} is declared twice"))
                .with_hint("give each [[known_issue]] its own id"));
        }
        let fixed_in = k
            .fixed_in
            .as_ref()
            .map(|v| {
                semver::Version::parse(v.get_ref()).map_err(|e| {
                    src.error(
                        v.span(),
                        format!("fixed_in {:?} is not a version: {e}", v.get_ref()),
                    )
                    .with_hint("write the version that fixes it, e.g. \"1.2.0\"")
                })
            })
            .transpose()?;
        out.push(KnownIssue {
            id: id.to_string(),
            summary: k.summary.clone(),
            workaround: k.workaround.clone(),
            fixed_in,
        });
    }
    Ok(out)
}
