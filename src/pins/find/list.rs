//! References in a plain list: one a line, blank lines and `#` comments (whole-line or
//! after the reference) ignored. A line without a tag or digest is not a pin (so a stray
//! word in a `*.txt` file is never rewritten); it is listed as skipped.

use super::{Found, Lines};
use crate::pins::reference::Reference;

pub(super) fn find(_text: &str, lines: &Lines) -> Vec<Found> {
    let mut out = Vec::new();
    for (start, line) in lines.iter() {
        let content = line.split(" #").next().unwrap_or("");
        let word = content.trim();
        if word.is_empty() || word.starts_with('#') {
            continue;
        }
        let from = start + content.len() - content.trim_start().len();
        let note = match Reference::parse(word) {
            _ if word.contains(char::is_whitespace) => Some("not a single reference"),
            Some(r) if r.tag.is_none() && r.digest.is_none() => Some("no tag or digest"),
            _ => None,
        };
        out.push(lines.found(from..from + word.len(), note));
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::pins::find::{find, Syntax};

    #[test]
    fn one_reference_a_line() {
        let text = "# pins of team x\n\ncore-minimal:1.0.0\n  core-vm@sha256:ab  # why\n\
            core-minimal\nsome words here\n\tr.example/core:2\n";
        let got: Vec<_> = find(Syntax::List, text)
            .into_iter()
            .map(|f| {
                assert_eq!(&text[f.span.clone().unwrap()], f.text);
                (f.line, f.column, f.text, f.note)
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (3, 1, "core-minimal:1.0.0".into(), None),
                (4, 3, "core-vm@sha256:ab".into(), None),
                (5, 1, "core-minimal".into(), Some("no tag or digest")),
                (
                    6,
                    1,
                    "some words here".into(),
                    Some("not a single reference")
                ),
                (7, 2, "r.example/core:2".into(), None),
            ]
        );
    }
}
