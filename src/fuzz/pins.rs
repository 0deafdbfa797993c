//! The pin finders read any file a team keeps: mutated Dockerfiles, YAML and lists end
//! in a list of references, never a panic, and every span names exactly the reference's
//! bytes, so `--fix` replaces nothing else.

use super::mutate::{apply, edits};
use crate::pins::find::{find, Syntax};
use crate::pins::fix::{self, Edit};
use proptest::prelude::*;

const DOCKERFILE: &str =
    "# escape=\\\nARG V=1\nFROM --platform=linux/amd64 core:1.0.0@sha256:ab AS b\n\
RUN echo \\\n  # c\n  x\nFROM \\\n  core-vm:${V}\nCOPY --from=b /a /a\r\nfrom b\n";
const YAML: &str = "spec:\n  initContainers:\n  - image: \"core:1\"\n  containers:\n  - name: a\n\
    image: core@sha256:ab # x\n---\ndata:\n  f: |\n    image: no\n  - - image: 'c:2'\n";
const LIST: &str = "# pins\n\ncore:1.0.0\n  core@sha256:ab  # why\nword\n";

fn check(syntax: Syntax, text: &str) -> Result<(), TestCaseError> {
    let found = find(syntax, text);
    let mut edits = Vec::new();
    for f in &found {
        if let Some(span) = &f.span {
            prop_assert_eq!(text.get(span.clone()), Some(f.text.as_str()));
            edits.push(Edit {
                span: span.clone(),
                to: "@".repeat(f.text.len()),
            });
        }
    }
    // Same-length replacements: every byte outside the spans stays where it was.
    let out = fix::apply(text, &edits);
    prop_assert_eq!(out.len(), text.len());
    for (i, (a, b)) in text.bytes().zip(out.bytes()).enumerate() {
        if !edits.iter().any(|e| e.span.contains(&i)) {
            prop_assert_eq!(a, b, "byte {} changed", i);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(crate::fuzz::config())]

    #[test]
    fn mutated_pin_files_give_exact_spans(e in edits()) {
        for (syntax, doc) in [(Syntax::Dockerfile, DOCKERFILE), (Syntax::Yaml, YAML), (Syntax::List, LIST)] {
            let text = String::from_utf8_lossy(&apply(doc.as_bytes(), &e)).into_owned();
            check(syntax, &text)?;
        }
    }
}
