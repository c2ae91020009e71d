//! Errors about source files, always rendered `file:line: message`.

use std::fmt;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Something wrong with one source file. The file yields no unit; the others are unaffected.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
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
        if self.line > 0 {
            write!(f, "{}:{}: {}", self.path.display(), self.line, self.message)
        } else {
            write!(f, "{}: {}", self.path.display(), self.message)
        }
    }
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

/// The known word closest to `word`, if it is close enough to be a likely typo.
pub fn suggest<'a>(word: &str, known: &[&'a str]) -> Option<&'a str> {
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
}
