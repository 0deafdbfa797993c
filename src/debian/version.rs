//! Debian version numbers (`[epoch:]upstream[-revision]`) compared as Debian policy §5.6.12
//! and dpkg's `verrevcmp` do, and the relations of a `package` test (`>= 2.36`).
//!
//! Written here rather than taken from a crate: the one maintained crate (`debversion`)
//! pulls chrono, lazy-regex and num-bigint for what is sixty lines of comparison; the
//! tests below check this against `dpkg --compare-versions` itself.

use std::cmp::Ordering;
use std::fmt;

/// A parsed Debian version. Equality is Debian equality: `1.0` equals `1.00` and
/// `0:1.0`, as dpkg says; `Display` shows the text as written.
#[derive(Debug, Clone)]
pub struct DebVersion {
    text: String,
    epoch: u32,
    upstream_start: usize,
    upstream_end: usize,
}

impl DebVersion {
    /// Parses a version as dpkg does, with dpkg's warnings (upstream not starting with a
    /// digit, characters outside policy's set) treated as errors.
    pub fn parse(s: &str) -> Result<Self, String> {
        let text = s.trim();
        if text.is_empty() {
            return Err("version is empty".into());
        }
        if text.chars().any(char::is_whitespace) {
            return Err("version contains whitespace".into());
        }
        let (epoch, upstream_start) = match text.split_once(':') {
            Some((e, _)) => {
                if e.is_empty() || !e.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(format!("epoch {e:?} is not a number"));
                }
                let n = e
                    .parse::<u32>()
                    .map_err(|_| format!("epoch {e} is too big"))?;
                (n, e.len() + 1)
            }
            None => (0, 0),
        };
        let rest = &text[upstream_start..];
        if rest.is_empty() {
            return Err("nothing after the epoch's colon".into());
        }
        let upstream_end = match rest.rfind('-') {
            Some(i) => {
                let revision = &rest[i + 1..];
                if revision.is_empty() {
                    return Err("revision after the last '-' is empty".into());
                }
                if let Some(c) = revision
                    .chars()
                    .find(|c| !(c.is_ascii_alphanumeric() || "+.~".contains(*c)))
                {
                    return Err(format!("invalid character {c:?} in revision {revision:?}"));
                }
                upstream_start + i
            }
            None => text.len(),
        };
        let upstream = &text[upstream_start..upstream_end];
        if upstream.is_empty() {
            return Err("upstream version is empty".into());
        }
        if !upstream.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(format!(
                "upstream version {upstream:?} does not start with a digit"
            ));
        }
        if let Some(c) = upstream
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || ".+~-:".contains(*c)))
        {
            return Err(format!(
                "invalid character {c:?} in upstream version {upstream:?}"
            ));
        }
        Ok(DebVersion {
            text: text.to_string(),
            epoch,
            upstream_start,
            upstream_end,
        })
    }

    pub fn epoch(&self) -> u32 {
        self.epoch
    }

    pub fn upstream(&self) -> &str {
        &self.text[self.upstream_start..self.upstream_end]
    }

    /// The Debian revision; empty when there is none (which compares like `0`).
    pub fn revision(&self) -> &str {
        self.text.get(self.upstream_end + 1..).unwrap_or("")
    }
}

impl fmt::Display for DebVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Ord for DebVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| verrevcmp(self.upstream(), other.upstream()))
            .then_with(|| verrevcmp(self.revision(), other.revision()))
    }
}

impl PartialOrd for DebVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for DebVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for DebVersion {}

/// The weight of a non-digit character: `~` before the end of the string, the end before
/// letters, letters before everything else (policy's "modified ASCII order").
fn order(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(b'~') => -1,
        Some(c) => i32::from(c) + 256,
    }
}

/// Compares alternating non-digit and digit runs. Digit runs compare as numbers of any
/// length (leading zeros dropped, then longer is bigger, then the first differing digit).
fn verrevcmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    let digit = |s: &[u8], k: usize| s.get(k).is_some_and(u8::is_ascii_digit);
    while i < a.len() || j < b.len() {
        while (i < a.len() && !digit(a, i)) || (j < b.len() && !digit(b, j)) {
            let (ac, bc) = (order(a.get(i).copied()), order(b.get(j).copied()));
            if ac != bc {
                return ac.cmp(&bc);
            }
            i += 1;
            j += 1;
        }
        while a.get(i) == Some(&b'0') {
            i += 1;
        }
        while b.get(j) == Some(&b'0') {
            j += 1;
        }
        let mut first_diff = Ordering::Equal;
        while digit(a, i) && digit(b, j) {
            if first_diff == Ordering::Equal {
                first_diff = a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
        }
        if digit(a, i) {
            return Ordering::Greater;
        }
        if digit(b, j) {
            return Ordering::Less;
        }
        if first_diff != Ordering::Equal {
            return first_diff;
        }
    }
    Ordering::Equal
}

/// A relation from Debian's dependency syntax.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relation {
    /// `<<`
    Less,
    /// `<=`
    LessOrEqual,
    /// `=`
    Equal,
    /// `>=`
    GreaterOrEqual,
    /// `>>`
    Greater,
}

impl Relation {
    pub fn as_str(self) -> &'static str {
        match self {
            Relation::Less => "<<",
            Relation::LessOrEqual => "<=",
            Relation::Equal => "=",
            Relation::GreaterOrEqual => ">=",
            Relation::Greater => ">>",
        }
    }
}

/// `RELATION VERSION`, as in `>= 2.36`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Constraint {
    pub relation: Relation,
    pub version: DebVersion,
}

impl Constraint {
    /// Parses `>= 2.36` (spaces optional). The obsolete `<` and `>` are refused, as
    /// dpkg deprecates them for their ambiguity; a bare version is refused too, so a
    /// minimum is never mistaken for an exact pin.
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let ops = [
            (">=", Relation::GreaterOrEqual),
            ("<=", Relation::LessOrEqual),
            (">>", Relation::Greater),
            ("<<", Relation::Less),
            ("=", Relation::Equal),
        ];
        let Some((op, relation)) = ops.iter().find(|(op, _)| s.starts_with(op)) else {
            if s.starts_with('<') || s.starts_with('>') {
                return Err(format!(
                    "{s:?}: `<` and `>` alone are ambiguous; use `<<`, `<=`, `>=` or `>>`"
                ));
            }
            return Err(format!(
                "{s:?} has no relation; write `>= {s}` for a minimum or `= {s}` for an exact version (relations: >=, <=, >>, <<, =)"
            ));
        };
        let version = DebVersion::parse(&s[op.len()..])
            .map_err(|e| format!("{s:?}: invalid Debian version: {e}"))?;
        Ok(Constraint {
            relation: *relation,
            version,
        })
    }

    pub fn matches(&self, v: &DebVersion) -> bool {
        let o = v.cmp(&self.version);
        match self.relation {
            Relation::Less => o == Ordering::Less,
            Relation::LessOrEqual => o != Ordering::Greater,
            Relation::Equal => o == Ordering::Equal,
            Relation::GreaterOrEqual => o != Ordering::Less,
            Relation::Greater => o == Ordering::Greater,
        }
    }
}

impl fmt::Display for Constraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.relation.as_str(), self.version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> DebVersion {
        DebVersion::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    /// Pairs `(a, b)` with `a < b`, covering every rule of policy §5.6.12.
    const LESS: &[(&str, &str)] = &[
        ("1.0", "1.1"),
        ("1.0", "1.0.1"),
        ("1.9", "1.10"),
        ("2.36", "2.36.1"),
        ("1.0~rc1", "1.0"),
        ("1.0~~", "1.0~"),
        ("1.0~", "1.0"),
        ("1.0~rc1", "1.0~rc2"),
        ("1.0", "1.0a"),
        ("1.0+", "1.0."),
        ("1.0+", "1.0.1"),
        ("1.0a", "1.0b"),
        ("1.0Z", "1.0a"),
        ("1.0+", "1.0."),
        ("1.0", "1.0-1"),
        ("1.0-1", "1.0-2"),
        ("1.0-9", "1.0-10"),
        ("1.0-1~bpo1", "1.0-1"),
        ("1.0-1", "1.0-1+deb12u1"),
        ("1.0-1+deb12u1", "1.0-1+deb12u2"),
        ("9.9", "1:0.1"),
        ("1:2.0", "2:1.0"),
        ("2.36-9+deb12u3", "2.36-9+deb12u4"),
        ("2.36-9+deb12u9", "2.36-9+deb12u10"),
        ("1.2.3", "1.2.3-0.1"),
        ("0.9", "1.0-1"),
        ("1.0-a", "1.0-b"),
        ("3.0.11-1~deb12u2", "3.0.11-1"),
        ("1.99999999999999999999", "1.100000000000000000000"),
        ("7.88.1-10+deb12u5", "7.88.1-10+deb12u12"),
        ("1:9.18.28-1~deb12u2", "1:9.18.33-1~deb12u2"),
        ("252.30-1~deb12u2", "252.31-1~deb12u1"),
    ];

    const EQUAL: &[(&str, &str)] = &[
        ("1.0", "1.0"),
        ("1.0", "0:1.0"),
        ("1.0", "1.00"),
        ("1.0", "1.0-0"),
        ("1.01", "1.1"),
        ("00:1.0", "1.0"),
    ];

    #[test]
    fn policy_order() {
        for (a, b) in LESS {
            assert_eq!(v(a).cmp(&v(b)), Ordering::Less, "{a} < {b}");
            assert_eq!(v(b).cmp(&v(a)), Ordering::Greater, "{b} > {a}");
        }
        for (a, b) in EQUAL {
            assert_eq!(v(a), v(b), "{a} = {b}");
        }
    }

    #[test]
    fn parts() {
        let x = v("1:2.36-9+deb12u4");
        assert_eq!(
            (x.epoch(), x.upstream(), x.revision()),
            (1, "2.36", "9+deb12u4")
        );
        let y = v("1.2-3-4");
        assert_eq!((y.upstream(), y.revision()), ("1.2-3", "4"));
        let z = v("2:1.0");
        assert_eq!((z.epoch(), z.upstream(), z.revision()), (2, "1.0", ""));
        assert_eq!(x.to_string(), "1:2.36-9+deb12u4");
    }

    #[test]
    fn invalid_versions() {
        for (bad, why) in [
            ("", "empty"),
            ("1.0 2", "whitespace"),
            ("a:1.0", "epoch"),
            ("1:", "nothing after"),
            ("1.0-", "revision"),
            ("abc", "digit"),
            ("-1", "upstream version is empty"),
            ("1.0_1", "invalid character"),
            ("1.0-1_2", "invalid character"),
            ("99999999999:1", "too big"),
        ] {
            let e = DebVersion::parse(bad).unwrap_err();
            assert!(e.contains(why), "{bad:?}: {e}");
        }
    }

    #[test]
    fn constraints() {
        let c = Constraint::parse(">= 2.36").unwrap();
        assert_eq!(c.relation, Relation::GreaterOrEqual);
        assert!(c.matches(&v("2.36-9+deb12u4")));
        assert!(c.matches(&v("2.36")));
        assert!(!c.matches(&v("2.36~rc1")));
        assert!(!c.matches(&v("2.35-1")));
        assert_eq!(c.to_string(), ">= 2.36");
        let cases = [
            ("<<2.0", "1.9", true),
            ("<< 2.0", "2.0", false),
            ("<= 2.0", "2.0", true),
            ("<= 2.0", "2.0-1", false),
            (">> 2.0", "2.0", false),
            (">> 2.0", "2.0-1", true),
            ("= 1.0", "1.00", true),
            ("= 1.0", "1.0-1", false),
            ("=1:1.0", "1.0", false),
        ];
        for (c, ver, ok) in cases {
            assert_eq!(
                Constraint::parse(c).unwrap().matches(&v(ver)),
                ok,
                "{ver} {c}"
            );
        }
        for (bad, why) in [
            ("2.36", "no relation"),
            ("> 2.36", "ambiguous"),
            ("< 2.36", "ambiguous"),
            (">= ", "invalid Debian version"),
            (">= x1", "digit"),
            ("~= 1", "no relation"),
        ] {
            let e = Constraint::parse(bad).unwrap_err();
            assert!(e.contains(why), "{bad:?}: {e}");
        }
    }

    /// Checks every pair above, in both directions, against the real dpkg. Debian
    /// machines (ours and CI's) have dpkg; elsewhere this says so and checks nothing.
    #[test]
    fn agrees_with_dpkg() {
        if std::process::Command::new("dpkg")
            .arg("--version")
            .output()
            .is_err()
        {
            eprintln!("dpkg is not installed: skipping the cross-check against dpkg");
            return;
        }
        let dpkg = |a: &str, op: &str, b: &str| {
            std::process::Command::new("dpkg")
                .args(["--compare-versions", a, op, b])
                .status()
                .unwrap()
                .success()
        };
        // The listed pairs both ways, and each version against the next one listed, so
        // pairs nobody wrote down are checked too.
        let all: Vec<&str> = LESS
            .iter()
            .chain(EQUAL)
            .flat_map(|(a, b)| [*a, *b])
            .collect();
        let pairs = LESS
            .iter()
            .chain(EQUAL)
            .flat_map(|(a, b)| [(*a, *b), (*b, *a)])
            .chain(all.windows(2).map(|w| (w[0], w[1]))); // 150 runs of dpkg, about a second
        for (a, b) in pairs {
            let op = match v(a).cmp(&v(b)) {
                Ordering::Less => "lt",
                Ordering::Equal => "eq",
                Ordering::Greater => "gt",
            };
            assert!(dpkg(a, op, b), "we say {a} {op} {b}; dpkg disagrees");
        }
    }
}
