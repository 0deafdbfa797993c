//! An image reference as Docker reads it: `[HOST[:PORT]/]PATH[:TAG][@ALGO:HEX]`, split
//! into repository, tag and digest without normalising anything (the suggestion keeps
//! the repository exactly as written).

/// The parts of a reference, borrowed from the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reference<'a> {
    pub repository: &'a str,
    pub tag: Option<&'a str>,
    pub digest: Option<&'a str>,
}

impl<'a> Reference<'a> {
    /// Parses `s`; `None` when it is not a reference (whitespace, bad characters, an
    /// empty part).
    pub fn parse(s: &'a str) -> Option<Self> {
        let (name, digest) = match s.split_once('@') {
            Some((n, d)) => (n, Some(d)),
            None => (s, None),
        };
        if digest.is_some_and(|d| !valid_digest(d)) {
            return None;
        }
        let slash = name.rfind('/').map_or(0, |i| i + 1);
        let (repository, tag) = match name[slash..].rfind(':') {
            Some(i) => (&name[..slash + i], Some(&name[slash + i + 1..])),
            None => (name, None),
        };
        if tag.is_some_and(|t| !valid_tag(t)) || !valid_repository(repository) {
            return None;
        }
        Some(Reference {
            repository,
            tag,
            digest,
        })
    }
}

fn valid_digest(d: &str) -> bool {
    d.split_once(':').is_some_and(|(alg, hex)| {
        !alg.is_empty()
            && !hex.is_empty()
            && alg
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+._-".contains(c))
            && hex.chars().all(|c| c.is_ascii_alphanumeric())
    })
}

fn valid_tag(t: &str) -> bool {
    t.len() <= 128
        && t.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

fn valid_repository(r: &str) -> bool {
    let mut parts = r.split('/').peekable();
    let mut first = true;
    while let Some(p) = parts.next() {
        let host = first && parts.peek().is_some() && looks_like_host(p);
        first = false;
        let ok = if host {
            p.chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-:".contains(c))
        } else {
            p.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
        };
        if p.is_empty() || !ok {
            return false;
        }
    }
    true
}

/// Docker's rule: the first component is a host when it has a `.` or `:`, or is `localhost`.
fn looks_like_host(p: &str) -> bool {
    p.contains('.') || p.contains(':') || p == "localhost"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(s: &str) -> Option<(&str, Option<&str>, Option<&str>)> {
        Reference::parse(s).map(|r| (r.repository, r.tag, r.digest))
    }

    #[test]
    fn splits_repository_tag_and_digest() {
        assert_eq!(parts("core"), Some(("core", None, None)));
        assert_eq!(parts("core:1.0.0"), Some(("core", Some("1.0.0"), None)));
        assert_eq!(
            parts("127.0.0.1:5000/ns/core:1.0.0@sha256:ab"),
            Some(("127.0.0.1:5000/ns/core", Some("1.0.0"), Some("sha256:ab")))
        );
        assert_eq!(
            parts("localhost:5000/core@sha256:ab"),
            Some(("localhost:5000/core", None, Some("sha256:ab")))
        );
        assert_eq!(
            parts("Registry.Example/core"),
            Some(("Registry.Example/core", None, None))
        );
    }

    #[test]
    fn refuses_what_is_not_a_reference() {
        for bad in [
            "",
            "a b",
            "Core:1",
            "core:",
            "core@",
            "core@sha256",
            "core:-x",
            "//x",
            "x/",
            "requests==2.0",
            "core:1@sha256:a@b",
        ] {
            assert_eq!(parts(bad), None, "{bad}");
        }
    }
}
