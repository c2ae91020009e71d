//! systemd unit-file syntax (systemd.syntax(7)), read and written faithfully.
//!
//! What systemd 252 does, and so what this parser does:
//! - `[Section]` headers; a section that appears twice is one section (entries appended).
//! - `Key=Value`: key and value are trimmed of surrounding whitespace; keys are
//!   case-sensitive; repeated keys are kept, in order, each with its line number.
//! - Lines starting with `#` or `;` are comments; empty lines are ignored.
//! - A line ending in an odd number of backslashes continues on the next line; the final
//!   backslash becomes a space. Comment lines inside a continuation are dropped.
//! - A leading UTF-8 byte-order mark is skipped.
//!
//! Stricter than systemd, because systemd reads the *generated* file: a line may not hold
//! a carriage return (other than the one of a CRLF ending), a NUL or any other ASCII
//! control character but TAB. systemd's `read_line()` ends a line at a bare CR and at NUL,
//! so such a byte in a pass-through section would let a source inject lines past rootlet's
//! checks. Keys and section names are at most [`MAX_KEY`] bytes. Parsing is linear in the
//! input: sections are looked up by name through a map, not by a scan.
//!
//! Where systemd only warns (a key before any section, a line without `=`), we refuse the
//! file with an error naming the line: quadlet does the same, and a unit generated from a
//! half-understood file is worse than none.

use std::borrow::Cow;
use thiserror::Error;

/// What systemd strips around keys and values: ASCII whitespace only (not U+00A0, U+0085).
const WS: &[char] = &[' ', '\t', '\n', '\r'];

/// systemd refuses lines longer than this (LONG_LINE_MAX).
pub const MAX_LINE: usize = 1024 * 1024;

/// Longest key or section name accepted (systemd's longest key is under 40 bytes; this
/// bounds the work of "did you mean" suggestions and the length of messages).
pub const MAX_KEY: usize = 256;

/// Above this many sections, a file is looked up by name through a map.
const SCAN_SECTIONS: usize = 16;

/// One `Key=Value` assignment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Well-known keys are shared (`Cow::Borrowed`), not allocated for every file.
    pub key: Cow<'static, str>,
    /// Values written in code are often constants (`Type=notify`): shared, not allocated.
    pub value: Cow<'static, str>,
    /// 1-based line number of the line where the assignment starts.
    pub line: usize,
}

/// A section with its entries in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub name: String,
    /// Line of the first header of this section (0 for sections built in code).
    pub line: usize,
    pub entries: Vec<Entry>,
}

impl Section {
    pub fn new(name: &str) -> Self {
        Section {
            name: name.to_owned(),
            line: 0,
            // Sections made in code get about a dozen entries ([Service]): one allocation.
            entries: Vec::with_capacity(16),
        }
    }

    /// Append an entry built in code (line 0).
    pub fn add(&mut self, key: impl Into<Cow<'static, str>>, value: impl Into<Cow<'static, str>>) {
        self.entries.push(Entry {
            key: key.into(),
            value: value.into(),
            line: 0,
        });
    }

    /// All values of `key`, in order, honouring systemd's "empty value resets the list".
    pub fn list(&self, key: &str) -> Vec<&Entry> {
        let mut out = Vec::new();
        for e in self.entries.iter().filter(|e| e.key == key) {
            if e.value.is_empty() {
                out.clear();
            } else {
                out.push(e);
            }
        }
        out
    }

    /// The last assignment of `key` (systemd's rule for single-valued keys).
    pub fn last(&self, key: &str) -> Option<&Entry> {
        self.entries.iter().rev().find(|e| e.key == key)
    }

    pub fn has(&self, key: &str) -> bool {
        self.entries.iter().any(|e| e.key == key)
    }
}

/// A section's entries sorted by key (file order kept within a key): one sort, then every
/// lookup is a binary search instead of a scan of the whole section. For translators that
/// ask a section for dozens of keys.
pub struct Index<'a> {
    entries: Vec<&'a Entry>,
    /// A bit per key present ([`key_bit`]): most keys a translator asks for are absent,
    /// and most of those are answered by this mask alone, without a search.
    present: u128,
}

/// A key's bit in [`Index::present`], from its length and its first and last bytes
/// (cheap, and different for most keys of one section).
fn key_bit(key: &str) -> u128 {
    let b = key.as_bytes();
    let (first, last) = match b {
        [] => (0, 0),
        [f, .., l] => (*f as usize, *l as usize),
        [f] => (*f as usize, *f as usize),
    };
    1 << ((b.len().wrapping_mul(7) ^ first.wrapping_mul(5) ^ last.wrapping_mul(11)) & 127)
}

/// The order of an [`Index`]: by length first, so that most comparisons are decided
/// without looking at the bytes.
fn key_order(a: &str, b: &str) -> std::cmp::Ordering {
    (a.len(), a).cmp(&(b.len(), b))
}

impl<'a> Index<'a> {
    pub fn new(section: &'a Section) -> Self {
        let mut entries: Vec<&Entry> = section.entries.iter().collect();
        // Stable: repeated keys keep their file order.
        entries.sort_by(|a, b| key_order(&a.key, &b.key));
        let present = entries.iter().fold(0, |m, e| m | key_bit(&e.key));
        Index { entries, present }
    }

    /// Every assignment of `key`, in file order, empty ones included.
    pub fn all(&self, key: &str) -> &[&'a Entry] {
        if self.present & key_bit(key) == 0 {
            return &[];
        }
        let start = self
            .entries
            .partition_point(|e| key_order(&e.key, key).is_lt());
        let len = self.entries[start..].partition_point(|e| e.key == key);
        &self.entries[start..start + len]
    }

    /// [`Section::list`]: the values of `key` after the last empty one (which resets it).
    pub fn list(&self, key: &str) -> &[&'a Entry] {
        let all = self.all(key);
        match all.iter().rposition(|e| e.value.is_empty()) {
            Some(i) => &all[i + 1..],
            None => all,
        }
    }

    /// [`Section::last`]: the last assignment of `key`.
    pub fn last(&self, key: &str) -> Option<&'a Entry> {
        self.all(key).last().copied()
    }

    /// The distinct keys (shortest first), each with its first entry.
    pub fn keys(&self) -> impl Iterator<Item = &'a Entry> + '_ {
        let mut prev: Option<&str> = None;
        self.entries.iter().copied().filter(move |e| {
            let new = prev != Some(&*e.key);
            prev = Some(&*e.key);
            new
        })
    }
}

/// A parsed unit file: its sections in order of first appearance.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnitFile {
    pub sections: Vec<Section>,
}

/// Why a file could not be read as unit-file syntax. Rendered with its line by the caller.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SyntaxError {
    #[error("line {line}: assignment `{text}` outside of any [Section]")]
    KeyOutsideSection { line: usize, text: String },
    #[error("line {line}: `{text}` is neither a [Section], a Key=Value assignment nor a comment")]
    NotAnAssignment { line: usize, text: String },
    #[error("line {line}: invalid section header `{text}`")]
    BadSection { line: usize, text: String },
    #[error("line {line}: empty key in `{text}`")]
    EmptyKey { line: usize, text: String },
    #[error("line {line}: not valid UTF-8")]
    NotUtf8 { line: usize },
    #[error("line {line}: longer than {MAX_LINE} bytes")]
    TooLong { line: usize },
    #[error("line {line}: {what} is not allowed (systemd would {effect})")]
    ControlChar {
        line: usize,
        what: String,
        effect: &'static str,
    },
    #[error("line {line}: key or section name longer than {MAX_KEY} bytes")]
    KeyTooLong { line: usize },
}

impl SyntaxError {
    pub fn line(&self) -> usize {
        match self {
            SyntaxError::KeyOutsideSection { line, .. }
            | SyntaxError::NotAnAssignment { line, .. }
            | SyntaxError::BadSection { line, .. }
            | SyntaxError::EmptyKey { line, .. }
            | SyntaxError::NotUtf8 { line }
            | SyntaxError::TooLong { line }
            | SyntaxError::ControlChar { line, .. }
            | SyntaxError::KeyTooLong { line } => *line,
        }
    }

    /// The message without the `line N: ` prefix, for `file:line: message` rendering.
    pub fn message(&self) -> String {
        let s = self.to_string();
        match s.split_once(": ") {
            Some((_, rest)) => rest.to_owned(),
            None => s,
        }
    }
}

/// A line shown in a message: on one line (control characters escaped), cut short.
fn shorten(s: &str) -> String {
    crate::error::escape_bounded(s, 80)
}

/// The first ASCII control character of a line (TAB excepted) as an error: CR and NUL
/// end a line for systemd, the others are never meant.
fn check_controls(raw: &[u8], line: usize) -> Result<(), SyntaxError> {
    let Some(&b) = raw.iter().find(|&&b| (b < 0x20 && b != b'\t') || b == 0x7f) else {
        return Ok(());
    };
    let (what, effect) = match b {
        b'\r' => (
            "a carriage return (\\r) inside a line".to_owned(),
            "start a new line there",
        ),
        0 => ("a NUL byte".to_owned(), "start a new line there"),
        b => (
            format!("control character \\x{b:02x}"),
            "read it as part of the value",
        ),
    };
    Err(SyntaxError::ControlChar { line, what, effect })
}

/// Section name -> index, for files with many sections (see [`SCAN_SECTIONS`]).
#[derive(Default)]
struct SectionIndex(Option<std::collections::HashMap<String, usize>>);

impl SectionIndex {
    /// The index of the section `name` in `sections`, appended (made by `new`) if missing.
    fn find_or_add(
        &mut self,
        sections: &mut Vec<Section>,
        name: &str,
        new: impl FnOnce() -> Section,
    ) -> usize {
        if self.0.is_none() && sections.len() >= SCAN_SECTIONS {
            let mut m = std::collections::HashMap::with_capacity(sections.len() * 2);
            for (i, s) in sections.iter().enumerate() {
                m.entry(s.name.clone()).or_insert(i);
            }
            self.0 = Some(m);
        }
        let found = match &self.0 {
            Some(m) => m.get(name).copied(),
            None => sections.iter().position(|s| s.name == name),
        };
        if let Some(i) = found {
            return i;
        }
        sections.push(new());
        let i = sections.len() - 1;
        if let Some(m) = &mut self.0 {
            m.insert(name.to_owned(), i);
        }
        i
    }
}

/// True when `s` ends in an odd number of backslashes (a continuation in systemd).
fn ends_escaped(s: &str) -> bool {
    s.bytes().rev().take_while(|&b| b == b'\\').count() % 2 == 1
}

impl UnitFile {
    /// Parse unit-file text given as bytes (it must be UTF-8).
    pub fn parse_bytes(data: &[u8]) -> Result<UnitFile, SyntaxError> {
        Self::parse_bytes_with(data, &|_| None)
    }

    /// [`UnitFile::parse_bytes`], with keys that `known` returns a static copy of shared
    /// instead of allocated (a translator knows the keys it reads).
    pub fn parse_bytes_with(
        data: &[u8],
        known: &dyn Fn(&str) -> Option<&'static str>,
    ) -> Result<UnitFile, SyntaxError> {
        let data = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data);
        let mut file = UnitFile::default();
        let mut current: Option<usize> = None;
        let mut index = SectionIndex::default();
        // Pending continuation: (text so far, line where it started).
        let mut cont: Option<(String, usize)> = None;

        let mut lines = data.split(|&b| b == b'\n').enumerate().peekable();
        while let Some((idx, raw)) = lines.next() {
            let lineno = idx + 1;
            // A final empty segment after a trailing newline is not a line.
            if raw.is_empty() && lines.peek().is_none() {
                break;
            }
            if raw.len() > MAX_LINE {
                return Err(SyntaxError::TooLong { line: lineno });
            }
            // A CRLF ending is a line ending; any other control character is refused.
            let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
            check_controls(raw, lineno)?;
            let text =
                std::str::from_utf8(raw).map_err(|_| SyntaxError::NotUtf8 { line: lineno })?;

            match cont.take() {
                Some((mut acc, start)) => {
                    let t = text.trim_start_matches(WS);
                    if t.starts_with('#') || t.starts_with(';') {
                        cont = Some((acc, start));
                        continue;
                    }
                    acc.push_str(text);
                    if acc.len() > MAX_LINE {
                        return Err(SyntaxError::TooLong { line: start });
                    }
                    if ends_escaped(&acc) {
                        acc.pop();
                        acc.push(' ');
                        cont = Some((acc, start));
                        continue;
                    }
                    file.add_line(&acc, start, &mut current, &mut index, known)?;
                }
                None => {
                    let t = text.trim_matches(WS);
                    if t.is_empty() || t.starts_with('#') || t.starts_with(';') {
                        continue;
                    }
                    if ends_escaped(text) {
                        let mut acc = text[..text.len() - 1].to_owned();
                        acc.push(' ');
                        cont = Some((acc, lineno));
                        continue;
                    }
                    // The common case: no copy of the line.
                    file.add_line(text, lineno, &mut current, &mut index, known)?;
                }
            }
        }
        if let Some((acc, start)) = cont {
            file.add_line(&acc, start, &mut current, &mut index, known)?;
        }
        Ok(file)
    }

    /// Parse unit-file text.
    pub fn parse(text: &str) -> Result<UnitFile, SyntaxError> {
        Self::parse_bytes(text.as_bytes())
    }

    fn add_line(
        &mut self,
        line: &str,
        lineno: usize,
        current: &mut Option<usize>,
        index: &mut SectionIndex,
        known: &dyn Fn(&str) -> Option<&'static str>,
    ) -> Result<(), SyntaxError> {
        let l = line.trim_matches(WS);
        if l.is_empty() {
            return Ok(());
        }
        if let Some(rest) = l.strip_prefix('[') {
            let name = rest.strip_suffix(']').filter(|n| {
                !n.is_empty() && !n.contains(['[', ']']) && !n.chars().any(|c| c.is_control())
            });
            let Some(name) = name else {
                return Err(SyntaxError::BadSection {
                    line: lineno,
                    text: shorten(l),
                });
            };
            if name.len() > MAX_KEY {
                return Err(SyntaxError::KeyTooLong { line: lineno });
            }
            let idx = index.find_or_add(&mut self.sections, name, || Section {
                name: name.to_owned(),
                line: lineno,
                entries: Vec::new(),
            });
            *current = Some(idx);
            return Ok(());
        }
        let Some((k, v)) = l.split_once('=') else {
            return Err(SyntaxError::NotAnAssignment {
                line: lineno,
                text: shorten(l),
            });
        };
        let key = k.trim_matches(WS);
        if key.is_empty() {
            return Err(SyntaxError::EmptyKey {
                line: lineno,
                text: shorten(l),
            });
        }
        if key.len() > MAX_KEY {
            return Err(SyntaxError::KeyTooLong { line: lineno });
        }
        let Some(idx) = *current else {
            return Err(SyntaxError::KeyOutsideSection {
                line: lineno,
                text: shorten(l),
            });
        };
        self.sections[idx].entries.push(Entry {
            key: known(key).map_or_else(|| Cow::Owned(key.to_owned()), Cow::Borrowed),
            value: Cow::Owned(v.trim_matches(WS).to_owned()),
            line: lineno,
        });
        Ok(())
    }

    pub fn section(&self, name: &str) -> Option<&Section> {
        self.sections.iter().find(|s| s.name == name)
    }

    /// The section `name`, created at the end if missing.
    pub fn section_mut(&mut self, name: &str) -> &mut Section {
        let idx = match self.sections.iter().position(|s| s.name == name) {
            Some(i) => i,
            None => {
                self.sections.push(Section::new(name));
                self.sections.len() - 1
            }
        };
        &mut self.sections[idx]
    }

    /// Merge another file (a drop-in) into this one: its entries are appended to the
    /// sections of the same name, new sections are appended.
    pub fn merge(&mut self, other: UnitFile) {
        let mut index = SectionIndex::default();
        for s in other.sections {
            let line = s.line;
            let i = index.find_or_add(&mut self.sections, &s.name, || Section::new(&s.name));
            let target = &mut self.sections[i];
            if target.line == 0 {
                target.line = line;
            }
            target.entries.extend(s.entries);
        }
    }
}

const UNIT_NAME_MAX: usize = 255;

fn valid_name_chars(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'-' | b'_' | b'.' | b'\\'))
}

/// Whether systemd would accept `name` as a unit name (plain, template or instance).
pub fn valid_unit_name(name: &str) -> bool {
    // A leading dot would make a hidden file that no one finds by listing the directory.
    if name.is_empty() || name.len() > UNIT_NAME_MAX || name.starts_with('.') {
        return false;
    }
    let Some((stem, suffix)) = name.rsplit_once('.') else {
        return false;
    };
    if suffix.is_empty() || !suffix.bytes().all(|b| b.is_ascii_lowercase()) {
        return false;
    }
    match stem.split_once('@') {
        None => !stem.is_empty() && valid_name_chars(stem),
        Some((prefix, inst)) => {
            !prefix.is_empty()
                && valid_name_chars(prefix)
                && !inst.contains('@')
                && valid_name_chars(inst)
        }
    }
}

/// `%` -> `%%`, for computed paths in settings where systemd expands specifiers.
pub fn escape_specifiers(s: &str) -> String {
    s.replace('%', "%%")
}

mod write;

#[cfg(test)]
mod tests;
