//! The pages of the site, one file per kind (index, core build, version), and what they
//! share: links between pages (relative, so the site works from `file://` and any
//! host), the status of a release in words, short digests.

pub mod build;
pub mod contract;
pub mod index;
pub mod version;

use super::gather::Version;
use super::html::{badge, base_revoked_badge, esc, root};
use crate::catalog::Status;
use std::fmt::Write as _;

/// The path of a core build's page, from the site root.
pub fn build_path(name: &str) -> String {
    format!("builds/{name}.html")
}

/// The path of a version's page, from the site root.
pub fn version_path(name: &str, version: &str) -> String {
    format!("builds/{name}/{version}.html")
}

/// A link to a version's page from a page `depth` levels down (plain text when the
/// version has no page).
pub fn version_link(depth: usize, name: &str, v: &Version) -> String {
    if v.has_page {
        format!(
            "<a href=\"{}{}\">{}</a>",
            root(depth),
            esc(&version_path(name, &v.release.version)),
            esc(&v.release.version)
        )
    } else {
        esc(&v.release.version)
    }
}

/// `sha256:` and the first 12 hex digits.
pub fn short(d: &crate::digest::Digest) -> String {
    format!("sha256:{}…", &d.hex()[..12.min(d.hex().len())])
}

/// The status of a release in words: its badge, each deprecation or revocation with
/// its date and reason, and "base revoked" with why.
pub fn status_cell(v: &Version) -> String {
    let mut s = badge(v.release.status);
    for h in &v.release.history {
        let what = match h.status {
            Status::Revoked => "Revoked",
            _ => "Deprecated",
        };
        let _ = write!(
            s,
            "<p class=\"reason\">{what} {}: {}</p>",
            esc(super::dates::date_of(&h.time)),
            super::html::esc_linking_cves(&h.reason)
        );
    }
    if v.release.status == Status::EndOfLife {
        s.push_str("<p class=\"reason\">Past its end of support.</p>");
    }
    if let Some(why) = &v.base_revoked {
        let _ = write!(
            s,
            " {}<p class=\"reason\">{}</p>",
            base_revoked_badge(),
            super::html::esc_linking_cves(why)
        );
    }
    s
}

/// Whether a release needs a warning: not plainly released, or on a revoked base.
pub fn is_flagged(v: &Version) -> bool {
    v.release.status != Status::Released || v.base_revoked.is_some()
}
