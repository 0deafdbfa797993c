//! References in YAML (Kubernetes manifests, Compose files, any depth, any number of
//! documents): the value of every `image:` key, plain, single- or double-quoted, also as a
//! `- image: …` list item. Read line by line, which keeps `--fix` byte for byte; the
//! content of block scalars (`key: |`) is skipped, so a ConfigMap that embeds a manifest
//! is not mistaken for one. Flow mappings, anchors, aliases and escaped strings are not
//! read (a reference there is reported by nobody: see runbook/pins.md).

use super::{Found, Lines};

pub(super) fn find(_text: &str, lines: &Lines) -> Vec<Found> {
    let mut out = Vec::new();
    // Inside a block scalar: the indentation of the line that opened it.
    let mut block: Option<usize> = None;
    for (start, line) in lines.iter() {
        let indent = line.len() - line.trim_start_matches(' ').len();
        if let Some(opened) = block {
            if line.trim().is_empty() || indent > opened {
                continue;
            }
            block = None;
        }
        let (at, rest) = after_dashes(line, indent);
        if let Some(value_at) = image_value(rest) {
            if let Some(span) = scalar(&rest[value_at..]) {
                let from = start + at + value_at;
                out.push(lines.found(from + span.start..from + span.end, None));
            }
        }
        if opens_block(rest) {
            // Block content is indented deeper than its key (or than `-` for `- |`).
            block = Some(if rest.starts_with(['|', '>']) {
                indent
            } else {
                at
            });
        }
    }
    out
}

/// Skips the `- ` markers of (nested) list items: the offset and the rest of the line.
fn after_dashes(line: &str, indent: usize) -> (usize, &str) {
    let mut at = indent;
    loop {
        let rest = &line[at..];
        match rest.strip_prefix('-') {
            Some(r) if r.starts_with([' ', '\t']) => {
                at = line.len() - r.trim_start_matches([' ', '\t']).len();
            }
            _ => return (at, rest),
        }
    }
}

/// Where the value of an `image:` key starts in `rest`, when `rest` is one.
fn image_value(rest: &str) -> Option<usize> {
    let after = ["image", "\"image\"", "'image'"]
        .iter()
        .find_map(|k| rest.strip_prefix(k))?;
    let after = after.trim_start_matches([' ', '\t']).strip_prefix(':')?;
    if !(after.is_empty() || after.starts_with([' ', '\t'])) {
        return None;
    }
    let value = after.trim_start_matches([' ', '\t']);
    Some(rest.len() - value.len())
}

/// The span of a scalar value within `v`: plain (up to a ` #` comment), or the inside of
/// quotes. `None` for anything else, or a quoted value with escapes.
fn scalar(v: &str) -> Option<std::ops::Range<usize>> {
    let quoted = |q: char| {
        let inner = &v[1..];
        let end = inner.find(q)?;
        let escaped = if q == '"' {
            inner[..end].contains('\\')
        } else {
            inner[end + 1..].starts_with('\'')
        };
        (!escaped && end > 0).then_some(1..1 + end)
    };
    match v.chars().next()? {
        '"' => quoted('"'),
        '\'' => quoted('\''),
        c if "{[|>&*!%@`#,?:-".contains(c) => None,
        _ => {
            let end = [" #", "\t#"]
                .iter()
                .filter_map(|m| v.find(m))
                .min()
                .unwrap_or(v.len());
            let t = v[..end].trim_end();
            (!t.is_empty()).then_some(0..t.len())
        }
    }
}

/// Whether the line's value opens a block scalar (`|`, `>-`, `|2+`…).
fn opens_block(rest: &str) -> bool {
    let v = rest.split(" #").next().unwrap_or("").trim_end();
    let last = v.rsplit([' ', '\t']).next().unwrap_or("");
    let before = &v[..v.len() - last.len()];
    let is_indicator = last.starts_with(['|', '>'])
        && last[1..]
            .chars()
            .all(|c| c.is_ascii_digit() || c == '-' || c == '+');
    is_indicator && (before.trim_end().ends_with(':') || before.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use crate::pins::find::{find, Syntax};

    fn refs(text: &str) -> Vec<(usize, usize, String)> {
        find(Syntax::Yaml, text)
            .into_iter()
            .map(|f| {
                assert_eq!(&text[f.span.clone().unwrap()], f.text);
                (f.line, f.column, f.text)
            })
            .collect()
    }

    #[test]
    fn deployment_with_init_containers_and_two_documents() {
        let text = "apiVersion: apps/v1\nkind: Deployment\nspec:\n  template:\n    spec:\n\
            \x20     initContainers:\n      - name: init\n        image: \"core-minimal:1.0.0\"\n\
            \x20     containers:\n      - image: core-vm:2.0.0@sha256:ab # pinned\n        name: app\n\
            ---\napiVersion: v1\nkind: ConfigMap\ndata:\n  manifest.yaml: |\n    image: not-me:1\n\
            \x20   more: text\n  other: x\n  - - image: 'nested:1'\n\
            \x20 - script: |\n        echo image: no:1\n    image: yes:1\n";
        assert_eq!(
            refs(text),
            vec![
                (8, 17, "core-minimal:1.0.0".into()),
                (10, 16, "core-vm:2.0.0@sha256:ab".into()),
                (20, 15, "nested:1".into()),
                (23, 12, "yes:1".into()),
            ]
        );
    }

    #[test]
    fn compose_services() {
        let text = "services:\r\n  web:\r\n    image: core-minimal:1.0.0\r\n    build: .\r\n\
            \x20 db:\r\n    image:   ${DB_IMAGE:-postgres:16}\r\n  x:\r\n    image: \"a\\\"b\"\r\n\
            \x20 y:\r\n    image: *anchor\r\n    imagePullPolicy: Always\r\n    my_image: z:1\r\n";
        assert_eq!(
            refs(text),
            vec![
                (3, 12, "core-minimal:1.0.0".into()),
                (6, 14, "${DB_IMAGE:-postgres:16}".into()),
            ]
        );
    }

    #[test]
    fn odd_lines_do_not_panic() {
        for t in [
            "image:",
            "- ",
            "-",
            "image: \"",
            "image: '",
            "a: |",
            "image: ''",
            "- - -",
        ] {
            let _ = refs(t);
        }
    }
}
