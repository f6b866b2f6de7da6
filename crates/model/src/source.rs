//! Positions in a model file, and the problems found at them.

use std::fmt;
use std::ops::Range;

/// A text file kept in memory so that byte offsets can be turned into line
/// and column numbers for messages.
#[derive(Debug, Clone)]
pub(crate) struct SourceFile {
    pub path: String,
    pub text: String,
}

impl SourceFile {
    /// 1-based line and column (in characters) of a byte offset.
    pub fn position(&self, offset: usize) -> (usize, usize) {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        (line, before[line_start..].chars().count() + 1)
    }

    /// Where the content of a TOML string value starts, given the span of
    /// the value (quotes included), and whether offsets into the parsed
    /// string map one to one onto the file (no escapes in between).
    pub fn string_content(&self, span: &Range<usize>, value: &str) -> (usize, bool) {
        let raw = self.text.get(span.clone()).unwrap_or("");
        let mut start = span.start;
        let mut inner = raw;
        for quote in ["\"\"\"", "'''", "\"", "'"] {
            if raw.starts_with(quote) && raw.len() >= 2 * quote.len() {
                inner = &raw[quote.len()..raw.len() - quote.len()];
                start += quote.len();
                if quote.len() == 3 {
                    let skip =
                        if inner.starts_with("\r\n") { 2 } else { usize::from(inner.starts_with('\n')) };
                    inner = &inner[skip..];
                    start += skip;
                }
                break;
            }
        }
        (start, inner == value)
    }

    /// A problem at a byte offset.
    pub fn problem(&self, offset: usize, context: impl Into<String>, message: impl Into<String>) -> Problem {
        let (line, column) = self.position(offset);
        Problem { path: self.path.clone(), line, column, context: context.into(), message: message.into() }
    }
}

/// One problem found in a model or thresholds file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    /// The file.
    pub path: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// What the problem is in: `item M06`, `column age`, `parameters` …
    pub context: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.path, self.line, self.column)?;
        if !self.context.is_empty() {
            write!(f, "{}: ", self.context)?;
        }
        f.write_str(&self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_lines_and_characters() {
        let src = SourceFile { path: "m.toml".into(), text: "a = 1\n名称 = \"x\"\n".into() };
        assert_eq!(src.position(0), (1, 1));
        assert_eq!(src.position(6), (2, 1));
        // "名称 = " is 2 characters + 3 = column 6, at byte 6 + 6 + 3
        assert_eq!(src.position(15), (2, 6));
    }

    #[test]
    fn string_content_skips_quotes_and_detects_escapes() {
        let text = "a = 'x == \"1\"'\nb = \"y == \\\"1\\\"\"\nc = '''\nz > 1'''\n";
        let src = SourceFile { path: "m.toml".into(), text: text.into() };
        assert_eq!(src.string_content(&(4..14), "x == \"1\""), (5, true));
        assert_eq!(src.string_content(&(19..32), "y == \"1\""), (20, false));
        let c = text.find("'''").unwrap();
        assert_eq!(src.string_content(&(c..text.len() - 1), "z > 1"), (c + 4, true));
    }
}
