//! References in a Dockerfile or Containerfile: the image of each `FROM [--flag=…] IMAGE
//! [AS stage]` and each `COPY/ADD --from=IMAGE`, with instructions read case-insensitively,
//! line continuations joined (the escape character may be changed by the `# escape=`
//! directive), and comment lines inside a continuation dropped, as BuildKit does. A name
//! that an earlier `AS` declared is a build stage, not an image.

use super::{Found, Lines};
use std::collections::BTreeSet;

/// One character of an instruction and the byte offset it came from.
type Located = (usize, char);

pub(super) fn find(text: &str, lines: &Lines) -> Vec<Found> {
    let escape = escape_char(text);
    let mut stages = BTreeSet::new();
    let mut out = Vec::new();
    let mut current: Option<Vec<Located>> = None;
    for (start, line) in lines.iter() {
        let trimmed = line.trim_start();
        if trimmed.starts_with('#') || (current.is_some() && trimmed.is_empty()) {
            continue;
        }
        let body = line.trim_end();
        let (body, continues) = match body.strip_suffix(escape) {
            Some(b) => (b, true),
            None => (body, false),
        };
        let chars = current.get_or_insert_with(Vec::new);
        chars.extend(body.char_indices().map(|(i, c)| (start + i, c)));
        // A continuation adds no character: `FROM a\` + `b` reads `FROM ab`.
        if !continues {
            let instruction = current.take().unwrap_or_default();
            images(&instruction, &mut stages, lines, &mut out);
        }
    }
    if let Some(instruction) = current {
        images(&instruction, &mut stages, lines, &mut out);
    }
    out
}

/// The escape character: `\`, or what a leading `# escape=` parser directive names.
fn escape_char(text: &str) -> char {
    for line in text.lines() {
        let Some(d) = line.trim().strip_prefix('#') else {
            break;
        };
        let d = d.trim().to_ascii_lowercase();
        if let Some(v) = d.strip_prefix("escape") {
            if let Some(c) = v.trim_start().strip_prefix('=').map(str::trim) {
                if c == "`" {
                    return '`';
                }
            }
        }
    }
    '\\'
}

fn images(
    instruction: &[Located],
    stages: &mut BTreeSet<String>,
    lines: &Lines,
    out: &mut Vec<Found>,
) {
    let words = words(instruction);
    let Some(keyword) = words.first().map(|w| text_of(w).to_ascii_uppercase()) else {
        return;
    };
    match keyword.as_str() {
        "FROM" => {
            let mut rest = words[1..]
                .iter()
                .skip_while(|w| text_of(w).starts_with("--"));
            let Some(image) = rest.next() else { return };
            out.push(found(image, stages, lines));
            if rest
                .next()
                .is_some_and(|w| text_of(w).eq_ignore_ascii_case("as"))
            {
                if let Some(stage) = rest.next() {
                    stages.insert(text_of(stage).to_ascii_lowercase());
                }
            }
        }
        "COPY" | "ADD" => {
            for w in &words[1..] {
                let t = text_of(w);
                if !t.starts_with("--") {
                    break;
                }
                if t.starts_with("--from=") && !t[7..].chars().all(|c| c.is_ascii_digit()) {
                    out.push(found(&w[7..], stages, lines));
                }
            }
        }
        _ => {}
    }
}

fn words(instruction: &[Located]) -> Vec<&[Located]> {
    instruction
        .split(|(_, c)| c.is_whitespace())
        .filter(|w| !w.is_empty())
        .collect()
}

fn text_of(w: &[Located]) -> String {
    w.iter().map(|(_, c)| c).collect()
}

fn found(w: &[Located], stages: &BTreeSet<String>, lines: &Lines) -> Found {
    let text = text_of(w);
    let note = stages
        .contains(&text.to_ascii_lowercase())
        .then_some("a build stage");
    let (first, last) = (w[0], w[w.len() - 1]);
    let end = last.0 + last.1.len_utf8();
    if end - first.0 == text.len() {
        lines.found(first.0..end, note)
    } else {
        lines.at(first.0, text, note)
    }
}

#[cfg(test)]
mod tests {
    use crate::pins::find::{find, Found, Syntax};

    fn refs(text: &str) -> Vec<(usize, usize, String, Option<&'static str>, bool)> {
        find(Syntax::Dockerfile, text)
            .into_iter()
            .map(|f: Found| {
                if let Some(s) = &f.span {
                    assert_eq!(&text[s.clone()], f.text);
                }
                (f.line, f.column, f.text, f.note, f.span.is_some())
            })
            .collect()
    }

    #[test]
    fn multi_stage_platform_continuation_and_args() {
        let text = "# syntax=docker/dockerfile:1\n\
            ARG BASE=core-minimal:1.0.0\n\
            from --platform=$BUILDPLATFORM core-minimal:1.0.0@sha256:aa AS build\n\
            RUN echo FROM fake:1\n\
            FROM \\\n  # a comment inside the continuation\n    core-vm:2.0.0 \\\n    as final\n\
            COPY --from=build /out /out\n\
            COPY --link --from=tools:1.2 /bin/x /bin/x\n\
            COPY --from=0 /a /a\n\
            FROM ${BASE}\n\
            FROM Build\n\
            FROM core-\\\nminimal:1\n";
        assert_eq!(
            refs(text),
            vec![
                (3, 32, "core-minimal:1.0.0@sha256:aa".into(), None, true),
                (7, 5, "core-vm:2.0.0".into(), None, true),
                (9, 13, "build".into(), Some("a build stage"), true),
                (10, 20, "tools:1.2".into(), None, true),
                (12, 6, "${BASE}".into(), None, true),
                (13, 6, "Build".into(), Some("a build stage"), true),
                (14, 6, "core-minimal:1".into(), None, false),
            ]
        );
    }

    #[test]
    fn escape_directive_and_crlf() {
        let text = "# escape=`\r\nFROM `\r\n  core:1 AS b\r\nFROM b\r\n";
        assert_eq!(
            refs(text),
            vec![
                (3, 3, "core:1".into(), None, true),
                (4, 6, "b".into(), Some("a build stage"), true),
            ]
        );
    }

    #[test]
    fn empty_and_odd_files_do_not_panic() {
        for t in [
            "",
            "FROM",
            "FROM --platform=x",
            "\\",
            "FROM a \\",
            "COPY --from=",
            "ß",
        ] {
            let _ = refs(t);
        }
    }
}
