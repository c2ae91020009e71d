//! Value readers shared by the source kinds, with quadlet 5.8's semantics
//! (`pkg/systemd/parser`: `Lookup`, `LookupAll`, `LookupAllStrv`, `LookupAllArgs`,
//! `LookupLastArgs`, `LookupAllKeyVal`). Every error names the file, line and key.

use super::Source;
use crate::error::SourceError;
use crate::unit::{Entry, Index};
use std::borrow::Cow;

/// systemd's booleans: 1/yes/y/true/t/on and 0/no/n/false/f/off, any case. (quadlet reads
/// any other word as false; rootlet refuses it, naming the key.)
pub fn boolean(src: &Source, e: &Entry) -> Result<bool, SourceError> {
    match unquote(&e.value).to_ascii_lowercase().as_str() {
        "1" | "yes" | "y" | "true" | "t" | "on" => Ok(true),
        "0" | "no" | "n" | "false" | "f" | "off" => Ok(false),
        _ => Err(src.err(
            e.line,
            format!(
                "{}: `{}` is not a boolean (use true or false)",
                e.key, e.value
            ),
        )),
    }
}

/// A single value as quadlet's `Lookup` reads it: trailing whitespace dropped and one
/// matched pair of surrounding double quotes stripped (`Image="docker.io/x"`); an
/// unmatched quote is kept (it may belong to the value: `Name="a"b"`).
pub fn unquote(v: &str) -> &str {
    let v = v.trim_end();
    match v.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        Some(inner) if v.len() >= 2 => inner,
        _ => v,
    }
}

/// The last value of `key`, [`unquote`]d, if set and not empty.
pub fn last<'a>(sec: &Index<'a>, key: &str) -> Option<(&'a Entry, &'a str)> {
    let e = sec.last(key)?;
    let v = unquote(&e.value);
    (!v.is_empty()).then_some((e, v))
}

/// How a value is split into words.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// Like a command line (`LookupAllArgs`): quotes removed, C escapes applied, an
    /// unsupported escape is an error.
    Args,
    /// Like a list of names (`LookupAllStrv`): quotes removed, backslashes kept as written.
    Strv,
}

/// quadlet's (and systemd's) `extract_first_word` loop for the two modes quadlet uses.
/// As there, an empty word (`""`) ends the list.
pub fn split(value: &str, mode: Split) -> Result<Vec<String>, &'static str> {
    split_full(value, mode).map(|(w, _)| w)
}

/// [`split`], and whether words were dropped after an empty one (`a "" b` gives `a`).
pub fn split_full(value: &str, mode: Split) -> Result<(Vec<String>, bool), &'static str> {
    const SEP: &[u8] = b" \t\n\r";
    let s = value.as_bytes();
    let mut words = Vec::new();
    let mut p = 0;
    loop {
        while p < s.len() && SEP.contains(&s[p]) {
            p += 1;
        }
        if p >= s.len() {
            return Ok((words, false));
        }
        // Plain words (no quote, no backslash) as they are, in one allocation.
        let end = s[p..]
            .iter()
            .position(|b| SEP.contains(b))
            .map_or(s.len(), |n| p + n);
        if !s[p..end].iter().any(|b| matches!(b, b'"' | b'\'' | b'\\')) {
            words.push(value[p..end].to_owned());
            p = end;
            continue;
        }
        let mut w: Vec<u8> = Vec::new();
        let mut quote: Option<u8> = None;
        while p < s.len() {
            let c = s[p];
            match quote {
                Some(q) if c == q => {
                    quote = None;
                    p += 1;
                }
                None if SEP.contains(&c) => break,
                None if c == b'"' || c == b'\'' => {
                    quote = Some(c);
                    p += 1;
                }
                _ if c == b'\\' && mode == Split::Args => {
                    p += 1;
                    if p >= s.len() {
                        break; // a final backslash is dropped
                    }
                    let (n, ch) = unescape(&s[p..]).ok_or("unsupported escape char")?;
                    let mut buf = [0u8; 4];
                    w.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                    p += n;
                }
                _ => {
                    w.push(c);
                    p += 1;
                }
            }
        }
        if w.is_empty() {
            let rest = s[p..].iter().any(|b| !SEP.contains(b));
            return Ok((words, rest));
        }
        words.push(String::from_utf8(w).map_err(|_| "not UTF-8")?);
    }
}

/// One C escape after its backslash: (bytes used, character), as quadlet's `cUnescapeOne`.
fn unescape(p: &[u8]) -> Option<(usize, char)> {
    let simple = match p[0] {
        b'a' => Some('\x07'),
        b'b' => Some('\x08'),
        b'f' => Some('\x0c'),
        b'n' => Some('\n'),
        b'r' => Some('\r'),
        b't' => Some('\t'),
        b'v' => Some('\x0b'),
        b'\\' => Some('\\'),
        b'"' => Some('"'),
        b'\'' => Some('\''),
        b's' => Some(' '),
        _ => None,
    };
    if let Some(c) = simple {
        return Some((1, c));
    }
    let digits = |n: usize, radix: u32| -> Option<u32> {
        let d = p.get(1..=n)?;
        d.iter().try_fold(0u32, |acc, &b| {
            Some(acc * radix + (b as char).to_digit(radix)?)
        })
    };
    let (n, v) = match p[0] {
        b'x' => (3, digits(2, 16)?),
        b'u' => (5, digits(4, 16)?),
        b'U' => (9, digits(8, 16)?),
        b'0'..=b'7' => {
            let d = p.get(..3)?;
            let v = d
                .iter()
                .try_fold(0u32, |acc, &b| Some(acc * 8 + (b as char).to_digit(8)?))?;
            if v > 255 {
                return None;
            }
            (3, v)
        }
        _ => return None,
    };
    if v == 0 {
        return None; // no NUL
    }
    Some((n, char::from_u32(v)?))
}

/// The words of one entry ([`Split::Args`]); an unsupported escape is an error naming it.
pub fn words(src: &Source, e: &Entry) -> Result<Vec<String>, SourceError> {
    split(&e.value, Split::Args).map_err(|why| src.err(e.line, format!("{}: {why}", e.key)))
}

/// A warning when a value has an unclosed quote: quadlet (and so rootlet) takes the
/// rest of the value as quoted, which is rarely what was meant.
pub fn unbalanced_warning(src: &Source, e: &Entry) -> Option<SourceError> {
    let mut quote = None;
    let mut esc = false;
    for b in e.value.bytes() {
        match (esc, quote, b) {
            (true, ..) => esc = false,
            (false, _, b'\\') => esc = true,
            (false, None, b'"' | b'\'') => quote = Some(b),
            (false, Some(q), b) if b == q => quote = None,
            _ => {}
        }
    }
    quote.map(|q| {
        src.err(
            e.line,
            format!(
                "{}: unbalanced {} quote: taken as closed at the end of the value",
                e.key, q as char
            ),
        )
    })
}

/// quadlet's splitting stops at an empty word (`""`): what follows it is dropped.
pub fn dropped_warning(src: &Source, e: &Entry) -> SourceError {
    src.err(
        e.line,
        format!(
            "{}: the words after an empty one (\"\") are dropped, as quadlet drops them",
            e.key
        ),
    )
}

/// The words of every entry of a list key, in order. `Split::Args` values that cannot be
/// split are skipped with a warning, as quadlet skips them (rootlet says so).
pub fn all_words(
    src: &Source,
    entries: &[&Entry],
    mode: Split,
    warnings: &mut Vec<SourceError>,
) -> Vec<String> {
    let mut out = Vec::new();
    for e in entries {
        match split_full(&e.value, mode) {
            Ok((w, dropped)) => {
                warnings.extend(unbalanced_warning(src, e));
                if dropped {
                    warnings.push(dropped_warning(src, e));
                }
                out.extend(w)
            }
            Err(why) => {
                warnings.push(src.err(e.line, format!("{}: {why}: `{}` ignored", e.key, e.value)))
            }
        }
    }
    out
}

/// `KEY=VALUE` words (Environment=, Label=, Annotation=, network Options=) from every
/// entry, later keys replacing earlier ones, sorted by key as quadlet writes them. A word
/// without `=` (`Environment=FOO`) is `KEY` with no value: podman takes it from the host.
/// A value that cannot be split is skipped with a warning, as quadlet does.
///
/// The words themselves (`KEY=VALUE` is the word as written: not split and joined again).
pub fn key_values(
    src: &Source,
    entries: &[&Entry],
    warnings: &mut Vec<SourceError>,
) -> Vec<String> {
    fn key(w: &str) -> &str {
        w.split_once('=').map_or(w, |(k, _)| k)
    }
    let mut words: Vec<(usize, String)> = all_words(src, entries, Split::Args, warnings)
        .into_iter()
        .enumerate()
        .collect();
    // By key, the latest first within a key; then the first of each key is the one kept.
    words.sort_by(|(i, a), (j, b)| key(a).cmp(key(b)).then(j.cmp(i)));
    words.dedup_by(|(_, next), (_, kept)| key(next) == key(kept));
    words.into_iter().map(|(_, w)| w).collect()
}

/// `--flag KEY=VALUE` (or `--flag KEY`) for each of `kv` ([`key_values`]).
pub fn push_key_values(a: &mut Vec<Cow<'_, str>>, flag: &'static str, kv: Vec<String>) {
    for w in kv {
        a.push(flag.into());
        a.push(w.into());
    }
}

/// A value that must be a single, non-empty word without whitespace.
pub fn single(src: &Source, e: &Entry) -> Result<String, SourceError> {
    let v = unquote(&e.value);
    if v.is_empty() || v.contains(char::is_whitespace) {
        return Err(src.err(
            e.line,
            format!("{}: `{}` must be a single word", e.key, e.value),
        ));
    }
    Ok(v.to_owned())
}

/// `ContainersConfModule=` + `GlobalArgs=`: what every podman command of a source starts
/// with (quadlet's `createBasePodmanCommand`), after the podman path. `--module` came with
/// podman 4.7: on an older podman (asked only when the key is there) it is refused, naming
/// the version, instead of a unit that fails with `unknown flag: --module`.
pub fn global_args(
    src: &Source,
    ctx: &super::Context,
    sec: &Index,
    warnings: &mut Vec<SourceError>,
) -> Result<Vec<String>, SourceError> {
    let modules = sec.list("ContainersConfModule");
    // Its row of the version table (`podman::KEY_SINCE`, every kind).
    if let Some(e) = modules.first() {
        ctx.gate(src, e)?;
    }
    // A module name is passed as written: podman looks a relative one up in the
    // containers.conf.modules directories (containers.conf(5)), as quadlet leaves it.
    let mut global: Vec<String> = modules
        .iter()
        .map(|e| super::concat(&["--module=", &e.value]))
        .collect();
    global.extend(all_words(
        src,
        sec.list("GlobalArgs"),
        Split::Args,
        warnings,
    ));
    Ok(global)
}

/// `PodmanArgs=`: words put right before the image or resource name.
pub fn podman_args(src: &Source, sec: &Index, warnings: &mut Vec<SourceError>) -> Vec<String> {
    all_words(src, sec.list("PodmanArgs"), Split::Args, warnings)
}

/// An `io.containers.autoupdate` policy podman's `auto-update` knows (its
/// `supportedPolicies`, the same in 4.3.1 and 5.8.2): `registry`, `local`, `image` (the
/// older name of `registry`, still accepted) and `disabled`. quadlet passes any value on.
pub(crate) fn auto_update_policy(v: &str) -> bool {
    matches!(v, "registry" | "local" | "image" | "disabled")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_like_quadlet() {
        let args = |s| split(s, Split::Args);
        assert_eq!(args(r#"a "b c" 'd\n'"#).unwrap(), ["a", "b c", "d\n"]);
        assert_eq!(args(r"a\x41 \s").unwrap(), ["aA", " "]);
        assert_eq!(args(r"a\q"), Err("unsupported escape char"));
        assert_eq!(args(r#"a "" b"#).unwrap(), ["a"]);
        assert!(split_full(r#"a "" b"#, Split::Args).unwrap().1);
        assert!(!split_full(r#"a """#, Split::Args).unwrap().1);
        assert_eq!(args("%h/x $HOME").unwrap(), ["%h/x", "$HOME"]);
        assert_eq!(
            split(r#"a "b c" d\e"#, Split::Strv).unwrap(),
            ["a", "b c", "d\\e"]
        );
    }

    #[test]
    fn unquote_matched_pairs_only() {
        assert_eq!(unquote(r#""docker.io/x""#), "docker.io/x");
        assert_eq!(unquote(r#""a"b""#), r#"a"b"#);
        assert_eq!(unquote(r#""a"#), r#""a"#);
        assert_eq!(unquote(r#"""#), r#"""#);
        assert_eq!(unquote("x  "), "x");
    }
}
