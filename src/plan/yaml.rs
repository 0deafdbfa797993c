//! A small YAML writer for the emitted CI and Kubernetes files: block mappings and
//! sequences, plain scalars only where YAML 1.1 and 1.2 readers agree they are strings,
//! multi-line strings as literal blocks, everything else as a JSON string (a valid YAML
//! double-quoted scalar). Maps come out in the `serde_json::Map` order, so the same
//! value gives the same bytes.

use serde_json::Value;

/// The YAML document for `v`, ending with a newline.
pub fn to_yaml(v: &Value) -> String {
    let mut out = String::new();
    match v {
        Value::Object(m) if !m.is_empty() => block(&mut out, v, 0),
        Value::Array(a) if !a.is_empty() => block(&mut out, v, 0),
        _ => {
            out.push_str(&scalar(v, 0));
            out.push('\n');
        }
    }
    out
}

/// Writes a non-empty mapping or sequence, each line indented by `indent`.
fn block(out: &mut String, v: &Value, indent: usize) {
    let pad = " ".repeat(indent);
    match v {
        Value::Object(m) => {
            for (k, val) in m {
                out.push_str(&pad);
                out.push_str(&key(k));
                out.push(':');
                entry(out, val, indent + 2);
            }
        }
        Value::Array(a) => {
            for item in a {
                let mut sub = String::new();
                entry(&mut sub, item, indent + 2);
                // `entry` starts either inline (" value\n") or on the next line
                // ("\n    k: v\n"): the dash takes the first line's indentation.
                match sub.strip_prefix('\n') {
                    Some(nested) => {
                        out.push_str(&pad);
                        out.push_str("- ");
                        out.push_str(&nested[indent + 2..]);
                    }
                    None => {
                        out.push_str(&pad);
                        out.push('-');
                        out.push_str(&sub);
                    }
                }
            }
        }
        _ => unreachable!("block() is only called for collections"),
    }
}

/// The rest of a line after `key:` or `-`: an inline scalar or a nested block.
fn entry(out: &mut String, v: &Value, indent: usize) {
    let nested = match v {
        Value::Object(m) => !m.is_empty(),
        Value::Array(a) => !a.is_empty(),
        _ => false,
    };
    if nested {
        out.push('\n');
        block(out, v, indent);
    } else {
        out.push(' ');
        out.push_str(&scalar(v, indent));
        out.push('\n');
    }
}

fn scalar(v: &Value, indent: usize) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => string(s, indent),
        Value::Object(_) => "{}".into(),
        Value::Array(_) => "[]".into(),
    }
}

/// A mapping key: plain or JSON-quoted, never a block.
fn key(k: &str) -> String {
    if is_plain(k) {
        k.to_string()
    } else {
        serde_json::to_string(k).expect("a string serializes")
    }
}

/// A string as a plain scalar, a literal block, or a JSON-quoted scalar.
fn string(s: &str, indent: usize) -> String {
    if is_plain(s) {
        return s.to_string();
    }
    if let Some(lit) = literal(s, indent) {
        return lit;
    }
    serde_json::to_string(s).expect("a string serializes")
}

/// Words that some YAML reader takes for a boolean or null.
const RESERVED: &[&str] = &[
    "y", "n", "yes", "no", "on", "off", "true", "false", "null", "~",
];

fn is_plain(s: &str) -> bool {
    let first_ok = s
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_' || b == b'/');
    first_ok
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_./@:=+-".contains(&b))
        && !s.ends_with(':')
        && !RESERVED.contains(&s.to_ascii_lowercase().as_str())
}

/// A multi-line string as a literal block (`|` keeps one final newline, `|-` none),
/// when it can be one: printable ASCII, no leading space, no trailing blank lines.
fn literal(s: &str, indent: usize) -> Option<String> {
    let (body, chomp) = match s.strip_suffix('\n') {
        Some(b) => (b, "|"),
        None => (s, "|-"),
    };
    let fits = body.contains('\n')
        && !body.starts_with(' ')
        && !body.ends_with('\n')
        && body
            .bytes()
            .all(|b| b == b'\n' || (b' '..=b'~').contains(&b));
    if !fits {
        return None;
    }
    let pad = " ".repeat(indent);
    let mut out = chomp.to_string();
    for line in body.split('\n') {
        out.push('\n');
        if !line.is_empty() {
            out.push_str(&pad);
            out.push_str(line);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_blocks_and_quoting() {
        let v = json!({
            "on": {"workflow_dispatch": {}},
            "jobs": [{"a": 1, "b": ["x", "1.0"]}, [true, null]],
            "image": "reg.example/cb@sha256:00",
            "run": "echo a\necho b\n",
            "odd": "a: b",
        });
        assert_eq!(
            to_yaml(&v),
            "image: reg.example/cb@sha256:00\njobs:\n  - a: 1\n    b:\n      - x\n      - \"1.0\"\n  \
             - - true\n    - null\nodd: \"a: b\"\n\"on\":\n  workflow_dispatch: {}\nrun: |\n  echo a\n  echo b\n"
        );
    }

    #[test]
    fn literal_blocks_only_when_safe() {
        assert_eq!(string("a\nb", 2), "|-\n  a\n  b");
        assert_eq!(string(" a\nb", 2), "\" a\\nb\"");
        assert_eq!(string("a\n\n", 2), "\"a\\n\\n\"");
        assert_eq!(string("a\tb\nc", 2), "\"a\\tb\\nc\"");
        assert_eq!(string("a\n\nb", 4), "|-\n    a\n\n    b");
    }

    #[test]
    fn words_a_reader_would_retype_are_quoted() {
        for s in [
            "on", "Yes", "null", "1", ".5", "-x", "", "a b", "${{ x }}", "x:",
        ] {
            assert!(string(s, 0).starts_with('"'), "{s}");
        }
        for s in ["level-0", "registry:127.0.0.1:5000/ns", "blueprints/a"] {
            assert_eq!(string(s, 0), s);
        }
    }
}
