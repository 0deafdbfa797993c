//! RFC 3986 percent-encoding: every byte but the unreserved characters (`A-Z a-z 0-9 - . _ ~`)
//! becomes `%XX`. Serves query values (registry token requests) and purl components (SBOM,
//! and the query that reads them back).

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

/// Decodes `%XX` escapes; `None` for a malformed escape or bytes that are not UTF-8.
pub fn decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            if !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
                return None;
            }
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
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

    #[test]
    fn decode_inverts_encode() {
        for s in ["1:2.36-9+deb12u4", "a b/ü", ""] {
            assert_eq!(super::decode(&super::encode(s)).as_deref(), Some(s));
        }
        for bad in ["%", "%4", "%zz", "%ff", "%+1"] {
            assert_eq!(super::decode(bad), None, "{bad}");
        }
    }
}
