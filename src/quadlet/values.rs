//! Value parsers shared by the source kinds. Every error names the file, line and key.

use super::Source;
use crate::error::SourceError;
use crate::exec;
use crate::unit::Entry;
use std::collections::BTreeMap;

/// systemd's booleans: 1/yes/y/true/t/on and 0/no/n/false/f/off, any case.
pub fn boolean(src: &Source, e: &Entry) -> Result<bool, SourceError> {
    match e.value.to_ascii_lowercase().as_str() {
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

/// Split a value like a systemd command line (quotes, C escapes), `%` and `$` kept.
pub fn words(src: &Source, e: &Entry) -> Result<Vec<String>, SourceError> {
    exec::split(&e.value).map_err(|err| src.err(e.line, format!("{}: {err}", e.key)))
}

/// `KEY=VALUE` words (Environment=, Label=, Annotation=) from every entry, later keys
/// replacing earlier ones; returned sorted by key, as quadlet writes them.
pub fn key_values<'a>(
    src: &Source,
    entries: impl IntoIterator<Item = &'a Entry>,
) -> Result<BTreeMap<String, String>, SourceError> {
    let mut out = BTreeMap::new();
    for e in entries {
        for w in words(src, e)? {
            match w.split_once('=') {
                Some((k, v)) if !k.is_empty() => {
                    out.insert(k.to_owned(), v.to_owned());
                }
                _ => {
                    return Err(src.err(
                        e.line,
                        format!("{}: `{w}` is not of the form KEY=VALUE", e.key),
                    ))
                }
            }
        }
    }
    Ok(out)
}

/// A value that must be a single, non-empty word without whitespace.
pub fn single(src: &Source, e: &Entry) -> Result<String, SourceError> {
    if e.value.is_empty() || e.value.contains(char::is_whitespace) {
        return Err(src.err(
            e.line,
            format!("{}: `{}` must be a single word", e.key, e.value),
        ));
    }
    Ok(e.value.clone())
}

/// `PodmanArgs=` (after the subcommand) and `ContainersConfModule=` + `GlobalArgs=` (before
/// it), which every kind of source has: `(podman_args, global_args)`.
pub fn extra_args(
    src: &Source,
    sec: &crate::unit::Index,
) -> Result<(Vec<String>, Vec<String>), SourceError> {
    let mut podman = Vec::new();
    let mut global = Vec::new();
    for e in sec.list("PodmanArgs") {
        podman.extend(words(src, e)?);
    }
    for e in sec.list("ContainersConfModule") {
        global.push(format!("--module={}", super::host_path(src, &e.value)));
    }
    for e in sec.list("GlobalArgs") {
        global.extend(words(src, e)?);
    }
    Ok((podman, global))
}
