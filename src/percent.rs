//! RFC 3986 percent-encoding: every byte but the unreserved characters (`A-Z a-z 0-9 - . _ ~`)
//! becomes `%XX`. Serves query values (registry token requests) and purl components (SBOM).

/// Percent-encodes `s`, passing only RFC 3986 unreserved characters.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_unreserved_characters_pass() {
        assert_eq!(super::encode("1:2.36-9+deb12u4"), "1%3A2.36-9%2Bdeb12u4");
        assert_eq!(
            super::encode("repository:ns/a:pull,push"),
            "repository%3Ans%2Fa%3Apull%2Cpush"
        );
        assert_eq!(super::encode("a_b~c"), "a_b~c");
    }
}
