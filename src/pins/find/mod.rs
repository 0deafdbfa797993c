//! Finding image references in the files app teams keep: Dockerfile `FROM` (and
//! `COPY --from=`), YAML `image:` keys, plain lists. Each found reference carries its
//! line, column and byte span, so `--fix` can replace exactly those bytes.

mod dockerfile;
mod list;
mod yaml;

use std::ops::Range;

/// How a file is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    Dockerfile,
    Yaml,
    List,
}

/// A reference as written in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// 1-based line and column (in characters) of the reference's first character.
    pub line: usize,
    pub column: usize,
    /// The bytes of the file the reference occupies (`None` when it is split by a line
    /// continuation, so `--fix` cannot replace it in place).
    pub span: Option<Range<usize>>,
    pub text: String,
    /// Why it is not checked, when the file's own syntax says so (a build stage, a line
    /// of a list that is not a pin).
    pub note: Option<&'static str>,
}

/// Every reference in `text`, in file order.
pub fn find(syntax: Syntax, text: &str) -> Vec<Found> {
    let lines = Lines::new(text);
    match syntax {
        Syntax::Dockerfile => dockerfile::find(text, &lines),
        Syntax::Yaml => yaml::find(text, &lines),
        Syntax::List => list::find(text, &lines),
    }
}

/// Line starts of a text, to turn byte offsets into lines and columns.
pub(crate) struct Lines<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> Lines<'a> {
    fn new(text: &'a str) -> Self {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Lines { text, starts }
    }

    /// Each line as (its start offset, its content without `\n` or `\r\n`).
    pub(crate) fn iter(&self) -> impl Iterator<Item = (usize, &'a str)> + '_ {
        self.text.split('\n').scan(0usize, |at, l| {
            let start = *at;
            *at += l.len() + 1;
            Some((start, l.strip_suffix('\r').unwrap_or(l)))
        })
    }

    /// A reference occupying `span` (contiguous bytes).
    pub(crate) fn found(&self, span: Range<usize>, note: Option<&'static str>) -> Found {
        let mut f = self.at(span.start, self.text[span.clone()].to_string(), note);
        f.span = Some(span);
        f
    }

    /// A reference starting at byte `start`, without a replaceable span.
    pub(crate) fn at(&self, start: usize, text: String, note: Option<&'static str>) -> Found {
        let line = self.starts.partition_point(|&s| s <= start);
        let line_start = self.starts[line - 1];
        Found {
            line,
            column: self.text[line_start..start].chars().count() + 1,
            span: None,
            text,
            note,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_columns_count_characters() {
        let text = "a\r\nßx core:1\n";
        let l = Lines::new(text);
        let at = text.find("core").unwrap();
        let f = l.found(at..at + 6, None);
        assert_eq!((f.line, f.column, f.text.as_str()), (2, 4, "core:1"));
        let lines: Vec<_> = l.iter().collect();
        assert_eq!(lines, [(0, "a"), (3, "ßx core:1"), (14, "")]);
    }
}
