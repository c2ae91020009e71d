//! Errors about source files, always rendered `file:line: message`, on one line: control
//! characters in a file name or a message are escaped (a newline in a name must not forge
//! a second log line) and a message is bounded.

use std::fmt;
use std::path::{Path, PathBuf};

/// Something wrong with one source file. The file yields no unit; the others are unaffected.
///
/// A plain `std::error::Error` (no source error: the cause is in the message); `Display`
/// is hand-written because the line is shown only when there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceError {
    pub path: PathBuf,
    /// 1-based line, 0 when the problem is the file as a whole.
    pub line: usize,
    pub message: String,
}

impl SourceError {
    pub fn new(path: &Path, line: usize, message: impl Into<String>) -> Self {
        SourceError {
            path: path.to_owned(),
            line,
            message: message.into(),
        }
    }
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = show_path(&self.path);
        let message = escape_bounded(&self.message, MAX_MESSAGE);
        if self.line > 0 {
            write!(f, "{path}:{}: {message}", self.line)
        } else {
            write!(f, "{path}: {message}")
        }
    }
}

impl std::error::Error for SourceError {}

/// Longest message printed (longer ones end in `...`).
pub const MAX_MESSAGE: usize = 4096;

/// A path for a message, on one line: control characters escaped (`\n`), bytes that are
/// not UTF-8 as `\xNN`, and a backslash doubled so that the escapes cannot be forged.
pub fn show_path(p: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let bytes = p.as_os_str().as_bytes();
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            push_escaped(&mut out, c);
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '\\' => out.push_str("\\\\"),
        c if c.is_control() => out.extend(c.escape_default()),
        c => out.push(c),
    }
}

/// `s` on one line (control characters escaped), cut at `max` bytes.
pub fn escape_bounded(s: &str, max: usize) -> String {
    if !s.contains(|c: char| c.is_control()) && s.len() <= max {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len().min(max) + 3);
    for c in s.chars() {
        if out.len() >= max {
            out.push_str("...");
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Levenshtein distance, for "did you mean" suggestions.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, &cb) in b.iter().enumerate() {
            let cost = usize::from(!ca.eq_ignore_ascii_case(&cb));
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The known word closest to `word`, if it is close enough to be a likely typo. Words much
/// longer than any known one are not compared (the cost is quadratic in the length).
pub fn suggest<'a>(word: &str, known: &[&'a str]) -> Option<&'a str> {
    let longest = known.iter().map(|k| k.len()).max().unwrap_or(0);
    if word.len() > 2 * longest + 8 {
        return None;
    }
    known
        .iter()
        .map(|k| (distance(word, k), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 4))
        .min()
        .map(|(_, k)| k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        let known = ["PublishPort", "Volume", "Image", "Network"];
        assert_eq!(suggest("PublishPorts", &known), Some("PublishPort"));
        assert_eq!(suggest("image", &known), Some("Image"));
        assert_eq!(suggest("Zzzzzzzz", &known), None);
    }

    #[test]
    fn rendering() {
        let e = SourceError::new(Path::new("/a/b.container"), 3, "bad");
        assert_eq!(e.to_string(), "/a/b.container:3: bad");
        let e = SourceError::new(Path::new("/a/b.container"), 0, "bad");
        assert_eq!(e.to_string(), "/a/b.container: bad");
    }

    /// Audit U8: a newline in a file name must not make one message two lines.
    #[test]
    fn names_and_messages_stay_on_one_line() {
        use std::os::unix::ffi::OsStrExt;
        let p = Path::new(std::ffi::OsStr::from_bytes(
            b"/s/nl\nfake: line\\x\xff.container",
        ));
        let e = SourceError::new(p, 2, "bad\nsecond");
        assert_eq!(
            e.to_string(),
            "/s/nl\\nfake: line\\\\x\\xff.container:2: bad\\nsecond"
        );
        let e = SourceError::new(Path::new("/a"), 0, "x".repeat(100_000));
        assert!(e.to_string().len() < MAX_MESSAGE + 16);
        assert!(suggest(&"P".repeat(1 << 20), &["PublishPort"]).is_none());
    }
}
