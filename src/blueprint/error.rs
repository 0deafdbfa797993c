//! `BlueprintError` and the source-position helpers that give every error a file, line and column.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// A blueprint, fragment, suite or lock file is bad. Names the file and, where the
/// problem sits at one place in it, the 1-based line and column (columns count characters).
/// `hint` says what to do about it. Always bad input: the CLI maps it to exit code 2.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct BlueprintError {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
    pub hint: Option<String>,
}

impl BlueprintError {
    /// An error about a whole file (it is missing, unreadable, or has no single position).
    pub fn file(file: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        BlueprintError {
            file: file.into(),
            line: None,
            column: None,
            message: message.into(),
            hint: None,
        }
    }

    /// An error at a known line and column.
    pub fn at(
        file: impl Into<PathBuf>,
        line: usize,
        column: usize,
        message: impl Into<String>,
    ) -> Self {
        BlueprintError {
            line: Some(line),
            column: Some(column),
            ..Self::file(file, message)
        }
    }

    /// Adds (or replaces) the line that says what to do.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// `file:line:column` (or less, when the position is unknown), as the Display prefix shows it.
    pub fn location(&self) -> String {
        let mut s = display_path(&self.file);
        if let Some(line) = self.line {
            s.push_str(&format!(":{line}"));
            if let Some(col) = self.column {
                s.push_str(&format!(":{col}"));
            }
        }
        s
    }
}

impl fmt::Display for BlueprintError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location(), self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

/// A path as errors print it: relative to the current directory when it lies beneath it
/// (as a compiler prints paths), absolute otherwise. Only for messages; the structured
/// `file` field always keeps the full path.
pub fn display_path(path: &Path) -> String {
    if let Ok(cwd) = std::env::current_dir() {
        if let Ok(rel) = path.strip_prefix(&cwd) {
            if !rel.as_os_str().is_empty() {
                return rel.display().to_string();
            }
        }
    }
    path.display().to_string()
}

/// A place in a file, for errors raised after parsing (merge conflicts, suite lookup).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
}

impl Origin {
    pub fn error(&self, message: impl Into<String>) -> BlueprintError {
        BlueprintError::at(&self.file, self.line, self.column, message)
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}",
            display_path(&self.file),
            self.line,
            self.column
        )
    }
}

/// One file's text, kept while it is resolved so byte offsets can become line:column.
#[derive(Debug, Clone)]
pub struct Source {
    pub path: PathBuf,
    pub text: String,
}

impl Source {
    /// Reads a file; a missing or unreadable file is an error about that file.
    pub fn read(path: &Path) -> Result<Self, BlueprintError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| BlueprintError::file(path, format!("cannot read file: {e}")))?;
        Ok(Source {
            path: path.to_path_buf(),
            text,
        })
    }

    /// 1-based line and character column of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        (line, column)
    }

    /// An error at the start of `span` in this file.
    pub fn error(&self, span: Range<usize>, message: impl Into<String>) -> BlueprintError {
        let (line, column) = self.line_col(span.start);
        BlueprintError::at(&self.path, line, column, message)
    }

    /// Where a span starts, kept after the source text is gone.
    pub fn origin(&self, span: &Range<usize>) -> Origin {
        let (line, column) = self.line_col(span.start);
        Origin {
            file: self.path.clone(),
            line,
            column,
        }
    }

    /// Deserializes the whole file, turning a TOML or schema error into a positioned
    /// `BlueprintError` with a hint where one helps (a likely typo, a wrong type).
    pub fn parse<T: serde::de::DeserializeOwned>(&self) -> Result<T, BlueprintError> {
        toml::from_str(&self.text).map_err(|e| self.toml_error(&e))
    }

    fn toml_error(&self, e: &toml::de::Error) -> BlueprintError {
        let message = e.message().trim().to_string();
        let err = match e.span() {
            Some(span) => self.error(span, message.clone()),
            None => BlueprintError::file(&self.path, message.clone()),
        };
        match hint_for(&message) {
            Some(h) => err.with_hint(h),
            None => err,
        }
    }
}

/// A hint for the serde/TOML messages we can say something useful about.
fn hint_for(message: &str) -> Option<String> {
    if let Some(rest) = message.strip_prefix("unknown variant `") {
        let (value, expected) = rest.split_once('`')?;
        let candidates: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
        return closest(value, &candidates).map(|best| format!("did you mean `{best}`?"));
    }
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let (field, expected) = rest.split_once('`')?;
        let candidates: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
        if let Some(best) = closest(field, &candidates) {
            return Some(format!("did you mean `{best}`?"));
        }
        if candidates.is_empty() {
            return Some(format!("remove `{field}`: this table takes no other keys"));
        }
        return Some(format!(
            "remove `{field}` or rename it to one of the expected keys"
        ));
    }
    if let Some(rest) = message.strip_prefix("missing field `") {
        let (field, _) = rest.split_once('`')?;
        if field == "base" {
            return Some("add a [base] table with ref = \"NAME:VERSION\" and its digest".into());
        }
        return Some(format!("add `{field} = ...` to this table"));
    }
    None
}

/// The candidate nearest to `word` by edit distance, if it is near enough to be a typo.
pub fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (edit_distance(word, c), *c))
        .filter(|(d, c)| *d <= (c.len().max(word.len()) / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters() {
        let s = Source {
            path: "/x/b.toml".into(),
            text: "a = 1\nné = \"é\"\n".into(),
        };
        assert_eq!(s.line_col(0), (1, 1));
        assert_eq!(s.line_col(6), (2, 1));
        // byte offset of the quote after "né = ": n(1) é(2) space = space -> 6+6
        assert_eq!(s.line_col(12), (2, 6));
    }

    #[test]
    fn display_reads_like_a_compiler() {
        let e = BlueprintError::at("/nowhere/blueprint.toml", 12, 5, "unknown field `fils`")
            .with_hint("did you mean `files`?");
        assert_eq!(
            e.to_string(),
            "/nowhere/blueprint.toml:12:5: unknown field `fils`\n  hint: did you mean `files`?"
        );
        assert_eq!(
            BlueprintError::file("/nowhere/x.toml", "cannot read").to_string(),
            "/nowhere/x.toml: cannot read"
        );
    }

    #[test]
    fn suggests_near_names_only() {
        assert_eq!(
            closest("fils", &["files", "packages", "run"]),
            Some("files")
        );
        assert_eq!(closest("zzzzzz", &["files", "packages", "run"]), None);
    }
}
