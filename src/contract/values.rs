//! The small value syntaxes of suite files: durations (`30s`), octal modes (`"0644"`),
//! regular expressions, exposed ports and sha256 sums. Each returns a message that the
//! parser places at the value's line and column.

use super::schema::Pattern;
use std::time::Duration;

/// `500ms`, `30s`, `2m`, `1h`: a whole number and one unit; zero is refused (a zero
/// timeout would fail every test for a reason that has nothing to do with the image).
pub fn duration(s: &str) -> Result<Duration, String> {
    let split = s
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("duration {s:?} has no unit: write e.g. \"{s}s\""))?;
    let (num, unit) = s.split_at(split);
    if num.is_empty() {
        return Err(format!(
            "duration {s:?} must start with a whole number, e.g. \"30s\""
        ));
    }
    let n: u64 = num
        .parse()
        .map_err(|_| format!("duration {s:?} is too long"))?;
    let d = match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n.saturating_mul(60)),
        "h" => Duration::from_secs(n.saturating_mul(3600)),
        _ => {
            return Err(format!(
                "duration {s:?} has an unknown unit {unit:?}: use ms, s, m or h, e.g. \"30s\""
            ))
        }
    };
    if d.is_zero() {
        return Err(format!("duration {s:?} is zero"));
    }
    Ok(d)
}

/// An octal mode string of 3 or 4 digits (`"644"`, `"0644"`, `"1777"`).
pub fn mode(s: &str) -> Result<u32, String> {
    if !(3..=4).contains(&s.len()) || !s.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return Err(format!(
            "mode {s:?} is not an octal mode: use 3 or 4 octal digits, e.g. \"0644\" or \"1777\""
        ));
    }
    Ok(u32::from_str_radix(s, 8).expect("checked octal digits"))
}

/// A pattern searched in text; `multi_line` makes `^`/`$` match at line ends.
pub fn pattern(s: &str, multi_line: bool) -> Result<Pattern, String> {
    let regex = regex::bytes::RegexBuilder::new(s)
        .multi_line(multi_line)
        .size_limit(1 << 22)
        .build()
        .map_err(|e| match e {
            regex::Error::Syntax(msg) => {
                // The crate's message draws a caret under the pattern; its last line says why.
                let why = msg
                    .lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("")
                    .trim()
                    .trim_start_matches("error: ");
                format!("invalid regex {s:?}: {why}")
            }
            other => format!("invalid regex {s:?}: {other}"),
        })?;
    Ok(Pattern {
        source: s.to_string(),
        regex,
    })
}

/// `8080`, `8080/tcp`, `53/udp`, `9/sctp` → the config's `PORT/PROTO` spelling.
pub fn exposed_port(s: &str) -> Result<String, String> {
    let (port, proto) = s.split_once('/').unwrap_or((s, "tcp"));
    let ok_port = port.parse::<u16>().is_ok_and(|p| p > 0) && !port.starts_with('0');
    if !ok_port || !matches!(proto, "tcp" | "udp" | "sctp") {
        return Err(format!(
            "exposed port {s:?} is not PORT[/tcp|/udp|/sctp] with PORT in 1..65535"
        ));
    }
    Ok(format!("{port}/{proto}"))
}

/// 64 lowercase hex digits, optionally prefixed `sha256:`.
pub fn sha256(s: &str) -> Result<String, String> {
    let hex = s.strip_prefix("sha256:").unwrap_or(s);
    if hex.len() != 64 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(format!(
            "sha256 {s:?} is not 64 lowercase hex digits (as sha256sum prints them)"
        ));
    }
    Ok(hex.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(duration("1h"), Ok(Duration::from_secs(3600)));
        for (bad, why) in [
            ("30", "no unit"),
            ("s", "whole number"),
            ("1.5s", "unknown unit"),
            ("30 s", "unknown unit"),
            ("3d", "unknown unit"),
            ("0s", "zero"),
            ("-1s", "whole number"),
            ("99999999999999999999999s", "too long"),
        ] {
            let e = duration(bad).unwrap_err();
            assert!(e.contains(why), "{bad:?}: {e}");
        }
    }

    #[test]
    fn modes() {
        assert_eq!(mode("0644"), Ok(0o644));
        assert_eq!(mode("644"), Ok(0o644));
        assert_eq!(mode("1777"), Ok(0o1777));
        assert_eq!(mode("4755"), Ok(0o4755));
        for bad in ["0888", "64", "07777", "rwx", "", "+644"] {
            assert!(mode(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn patterns() {
        let p = pattern("^root:", true).unwrap();
        assert!(p.is_match(b"daemon:x:1\nroot:x:0\n"));
        assert!(!pattern("^root:", false)
            .unwrap()
            .is_match(b"daemon:x:1\nroot:x:0\n"));
        // Bytes that are not UTF-8 are still searchable around.
        assert!(pattern("ok$", true).unwrap().is_match(b"\xff\xfe ok\n"));
        let e = pattern("(abc", true).unwrap_err();
        assert!(e.contains("unclosed group"), "{e}");
        assert!(!e.contains('\n'), "{e}");
    }

    #[test]
    fn ports_and_sums() {
        assert_eq!(exposed_port("80").unwrap(), "80/tcp");
        assert_eq!(exposed_port("53/udp").unwrap(), "53/udp");
        for bad in ["0", "65536", "80/http", "x", "080", "80/"] {
            assert!(exposed_port(bad).is_err(), "{bad}");
        }
        let h = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(sha256(h).unwrap(), h);
        assert_eq!(sha256(&format!("sha256:{h}")).unwrap(), h);
        assert!(sha256(&h.to_uppercase()).is_err());
        assert!(sha256(&h[1..]).is_err());
    }
}
