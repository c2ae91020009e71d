//! systemd command-line syntax: split an `ExecStart=`-style line into argv the way
//! systemd 252 does, and quote an argv so that systemd parses it back exactly.
//!
//! systemd reads a command line in three steps: `%` specifiers are expanded in the whole
//! line, the line is split into words (quotes and C escapes), and at exec time `$VAR` /
//! `${VAR}` are replaced from the environment. [`split`] does only the middle step:
//! `%h`, `%%`, `$FOO`, `$$` stay in the words verbatim, as quadlet keeps them, so that
//! systemd expands them when it loads the generated unit. [`quote_word`] is its inverse;
//! [`quote_literal`] also escapes `%` and `$` for words that must reach the program as is.
//!
//! The word rules, checked against 486 lines run through systemd 252
//! (`tests/it/exec_vectors.rs`):
//! - words are separated by spaces, tabs, CR and LF;
//! - `"..."` and `'...'` quote (no difference between them), adjacent parts join one word;
//! - C escapes apply everywhere, inside single quotes too: `\a \b \f \n \r \t \v \\ \" \'
//!   \s` (space), `\xHH`, `\uHHHH`, `\UHHHHHHHH`, `\OOO` (three octal digits);
//! - an escape systemd does not know, or that would yield NUL (`\q`, `\x4`, `\0`, `\u0000`),
//!   is kept literally, backslash included;
//! - a bare `;` separates two commands; `\;` is a literal `;`, and so is `";"`;
//! - unbalanced quotes make systemd refuse the whole line.

use thiserror::Error;

/// Why a command line could not be split.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ExecError {
    #[error("unbalanced quoting")]
    UnbalancedQuotes,
    #[error("a lone `;` separates commands in systemd; write `\\;` for a literal semicolon")]
    Semicolon,
    #[error("an escape sequence yields bytes that are not UTF-8")]
    NotUtf8,
    #[error("a NUL character cannot be part of a command line")]
    Nul,
}

const WHITESPACE: [u8; 4] = [b' ', b'\t', b'\n', b'\r'];

fn hex(b: u8) -> Option<u32> {
    (b as char).to_digit(16)
}

/// One C escape after a backslash (`s[0]` is the character after it): the bytes it
/// stands for and how many input bytes it used; `None` when systemd keeps it literally.
fn unescape(s: &[u8]) -> Option<(Vec<u8>, usize)> {
    let c = *s.first()?;
    let simple = match c {
        b'a' => Some(7),
        b'b' => Some(8),
        b'f' => Some(12),
        b'n' => Some(b'\n'),
        b'r' => Some(b'\r'),
        b't' => Some(b'\t'),
        b'v' => Some(11),
        b'\\' => Some(b'\\'),
        b'"' => Some(b'"'),
        b'\'' => Some(b'\''),
        b's' => Some(b' '),
        _ => None,
    };
    if let Some(b) = simple {
        return Some((vec![b], 1));
    }
    match c {
        b'x' => {
            let v = hex(*s.get(1)?)? * 16 + hex(*s.get(2)?)?;
            if v == 0 {
                return None;
            }
            Some((vec![v as u8], 3))
        }
        b'u' | b'U' => {
            let n = if c == b'u' { 4 } else { 8 };
            let mut v: u32 = 0;
            for i in 1..=n {
                v = v.checked_mul(16)?.checked_add(hex(*s.get(i)?)?)?;
            }
            if v == 0 {
                return None;
            }
            let ch = char::from_u32(v)?;
            let mut buf = [0u8; 4];
            Some((ch.encode_utf8(&mut buf).as_bytes().to_vec(), n + 1))
        }
        b'0'..=b'7' => {
            let d = |i: usize| -> Option<u32> {
                let b = *s.get(i)?;
                (b'0'..=b'7').contains(&b).then(|| u32::from(b - b'0'))
            };
            let v = d(0)? * 64 + d(1)? * 8 + d(2)?;
            if v == 0 || v > 255 {
                return None;
            }
            Some((vec![v as u8], 3))
        }
        _ => None,
    }
}

/// Split a command line into words, as systemd 252 does, leaving `%` specifiers and `$`
/// variable references in the words for systemd to expand.
pub fn split(line: &str) -> Result<Vec<String>, ExecError> {
    let s = line.as_bytes();
    let mut words = Vec::new();
    let mut i = 0;
    loop {
        while i < s.len() && WHITESPACE.contains(&s[i]) {
            i += 1;
        }
        if i >= s.len() {
            break;
        }
        // The common word, without quotes or escapes: taken as it is, in one allocation.
        let end = s[i..]
            .iter()
            .position(|b| WHITESPACE.contains(b))
            .map_or(s.len(), |n| i + n);
        if !s[i..end]
            .iter()
            .any(|&b| matches!(b, b'"' | b'\'' | b'\\' | 0))
        {
            if &s[i..end] == b";" {
                return Err(ExecError::Semicolon);
            }
            words.push(line[i..end].to_owned());
            i = end;
            continue;
        }
        let start = i;
        let mut word: Vec<u8> = Vec::new();
        let mut quote: Option<u8> = None;
        while i < s.len() {
            let c = s[i];
            match quote {
                None if WHITESPACE.contains(&c) => break,
                None if c == b'"' || c == b'\'' => {
                    quote = Some(c);
                    i += 1;
                }
                Some(q) if c == q => {
                    quote = None;
                    i += 1;
                }
                _ if c == b'\\' => match unescape(&s[i + 1..]) {
                    Some((bytes, used)) => {
                        word.extend_from_slice(&bytes);
                        i += 1 + used;
                    }
                    None => {
                        // Unknown escape: kept literally, backslash and the next
                        // character (if any: a final backslash stays alone).
                        word.push(b'\\');
                        i += 1;
                        if let Some(ch) = line.get(i..).and_then(|r| r.chars().next()) {
                            let mut buf = [0u8; 4];
                            word.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                            i += ch.len_utf8();
                        }
                    }
                },
                _ => {
                    word.push(c);
                    i += 1;
                }
            }
        }
        if quote.is_some() {
            return Err(ExecError::UnbalancedQuotes);
        }
        match &s[start..i] {
            b";" => return Err(ExecError::Semicolon),
            b"\\;" => word = b";".to_vec(),
            _ => {}
        }
        if word.contains(&0) {
            return Err(ExecError::Nul);
        }
        words.push(String::from_utf8(word).map_err(|_| ExecError::NotUtf8)?);
    }
    Ok(words)
}

/// Quote one word so that [`split`] (and systemd) yield exactly `word`, with `%` and `$`
/// passed through as the user's specifiers and variables. Plain words stay bare; others
/// are double-quoted with C escapes for `"`, `\` and control characters.
pub fn quote_word(word: &str) -> String {
    let mut out = String::with_capacity(word.len() + 2);
    push_word(&mut out, word);
    out
}

/// [`quote_word`] appended to `out` (no allocation of its own for plain words).
pub fn push_word(out: &mut String, word: &str) {
    if word == ";" {
        out.push_str("\\;");
        return;
    }
    let plain = !word.is_empty()
        && !word
            .chars()
            .any(|c| c.is_control() || c == ' ' || c == '"' || c == '\'' || c == '\\');
    if plain {
        out.push_str(word);
        return;
    }
    out.push('"');
    for c in word.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c == '\x7f' => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                let b = c as u32 as usize;
                out.push_str("\\x");
                out.push(HEX[b >> 4] as char);
                out.push(HEX[b & 15] as char);
            }
            // C1 controls and other non-ASCII: UTF-8 as it is (systemd passes it through).
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A whole command line: `program` literally (its `%` and `$` escaped), then `args` with
/// their `%` specifiers and `$` references passed through.
pub fn command_line<S: AsRef<str>>(program: &str, args: &[S]) -> String {
    let len = args.iter().map(|a| a.as_ref().len() + 1).sum::<usize>();
    let mut out = String::with_capacity(64 + len);
    out.push_str(&quote_literal(program));
    for a in args {
        out.push(' ');
        push_word(&mut out, a.as_ref());
    }
    out
}

/// Quote one word so that it reaches the program literally: `%` -> `%%`, `$` -> `$$`.
pub fn quote_literal(word: &str) -> String {
    if !word.contains(['%', '$']) {
        return quote_word(word);
    }
    quote_word(&word.replace('%', "%%").replace('$', "$$"))
}

/// Quote a whole argv, words separated by single spaces.
pub fn join(argv: &[String]) -> String {
    let mut out = String::new();
    for (i, w) in argv.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        push_word(&mut out, w);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sp(s: &str) -> Vec<String> {
        split(s).unwrap()
    }

    #[test]
    fn plain_words_keep_the_rules() {
        assert_eq!(sp("  a\tb\r\nc  "), ["a", "b", "c"]);
        assert_eq!(split("a ; b"), Err(ExecError::Semicolon));
        assert_eq!(sp("a ;b b; \\;"), ["a", ";b", "b;", ";"]);
        assert_eq!(split("a\0b"), Err(ExecError::Nul));
        assert_eq!(sp("%h/x $HOME ${A}"), ["%h/x", "$HOME", "${A}"]);
        assert_eq!(sp("é\u{a0}x"), ["é\u{a0}x"]);
    }

    #[test]
    fn words_quotes_escapes() {
        assert_eq!(sp("a  b\tc"), ["a", "b", "c"]);
        assert_eq!(sp(r#"a"b c"d 'e f'"#), ["ab cd", "e f"]);
        assert_eq!(sp(r#""" ''"#), ["", ""]);
        assert_eq!(sp(r#"\n\x41\u00e9\s'\t'"#), ["\nAé \t"]);
        assert_eq!(
            sp(r"\q \x4 \0 \u0000 a\ b"),
            [r"\q", r"\x4", r"\0", r"\u0000", r"a\ b"]
        );
        assert_eq!(sp(r"\177 \U0001F600"), ["\x7f", "😀"]);
        assert_eq!(sp(r#"a \; ";" ;; a;"#), ["a", ";", ";", ";;", "a;"]);
        assert_eq!(sp("%h $FOO ${BAR} $$"), ["%h", "$FOO", "${BAR}", "$$"]);
    }

    #[test]
    fn refusals() {
        assert_eq!(split("\"a"), Err(ExecError::UnbalancedQuotes));
        assert_eq!(split("'a"), Err(ExecError::UnbalancedQuotes));
        assert_eq!(split("a ; b"), Err(ExecError::Semicolon));
        assert_eq!(split(r"\xff"), Err(ExecError::NotUtf8));
        assert_eq!(split("a\0b"), Err(ExecError::Nul));
    }

    #[test]
    fn quoting_round_trips() {
        for w in [
            "", " ", "a b", "\"", "'", "\\", "\\;", "x\ny", "\x01\x7f", "é漢", ";", "%h", "$X",
            "a\\",
        ] {
            let q = quote_word(w);
            assert_eq!(split(&q).unwrap(), [w], "{w:?} quoted as {q:?}");
        }
        assert_eq!(quote_literal("50%$x"), "50%%$$x");
        assert_eq!(join(&["a".into(), "b c".into()]), "a \"b c\"");
    }
}
