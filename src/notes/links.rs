//! Links from the notes to Debian's security tracker: advisory ids (CVE, DSA, DLA) to
//! their entry, package names to their source package's page, where the tracker lists
//! every advisory that touches it.

use std::collections::BTreeMap;

pub const TRACKER: &str = "https://security-tracker.debian.org/tracker/";

/// Whether the tracker has pages for ids of this form (`CVE-2024-1`, `DSA-5555-1`,
/// `DLA-3000-1`).
fn tracked(id: &str) -> bool {
    let Some((kind, rest)) = id.split_once('-') else {
        return false;
    };
    matches!(kind, "CVE" | "DSA" | "DLA")
        && !rest.is_empty()
        && rest.chars().all(|c| c.is_ascii_digit() || c == '-')
}

/// `[CVE-2024-1](…/tracker/CVE-2024-1)`, or the id as it is when the tracker has no page
/// for ids of its form.
pub fn advisory(id: &str) -> String {
    if tracked(id) {
        format!("[{id}]({TRACKER}{id})")
    } else {
        id.to_string()
    }
}

/// ``[`libc6`](…/tracker/source-package/glibc)``: the binary package's name, linked to
/// its source package (`sources` maps the binary packages whose source is named otherwise).
pub fn package(name: &str, sources: &BTreeMap<String, String>) -> String {
    let source = sources.get(name).map(String::as_str).unwrap_or(name);
    if is_package_name(source) {
        format!("[`{name}`]({TRACKER}source-package/{source})")
    } else {
        format!("`{name}`")
    }
}

/// Debian's package-name rule (lowercase letters, digits, `+ - .`), so a name read from
/// an image never breaks out of the link.
fn is_package_name(n: &str) -> bool {
    n.len() >= 2
        && n.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && n.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+-.".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advisories_and_packages_link_to_the_tracker() {
        assert_eq!(
            advisory("CVE-2023-38545"),
            "[CVE-2023-38545](https://security-tracker.debian.org/tracker/CVE-2023-38545)"
        );
        assert!(advisory("DSA-5555-1").contains("tracker/DSA-5555-1)"));
        assert_eq!(advisory("KI-7"), "KI-7");
        assert_eq!(advisory("CVE-x](evil"), "CVE-x](evil");
        let src = BTreeMap::from([("libc6".to_string(), "glibc".to_string())]);
        assert_eq!(
            package("libc6", &src),
            "[`libc6`](https://security-tracker.debian.org/tracker/source-package/glibc)"
        );
        assert!(package("curl", &src).ends_with("source-package/curl)"));
        assert_eq!(package("Bad)(x", &src), "`Bad)(x`");
    }
}
