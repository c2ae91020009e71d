//! The incoming sources translated in memory beside the sources already on the search
//! path, with the `rootlet check` rules; their errors named as the files were given.

use super::{bad, Incoming, Input};
use crate::error::SourceError;
use crate::generator::{self, Options, Run};
use crate::manage::{kind_of, Places};
use crate::quadlet::{self, Source, SourceKind};
use crate::search::Discovery;
use crate::unit::UnitFile;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

/// Translate the incoming sources beside the ones already on the search path (those of
/// the same names replaced); the incoming sources' errors, against their origins.
pub(super) fn translate(places: &Places, opts: &Options, inputs: &[Input]) -> Vec<SourceError> {
    let mut errors = Vec::new();
    // Synthetic path (where it will be written) -> (origin, line offset).
    let mut origin_of: HashMap<PathBuf, (PathBuf, usize)> = HashMap::new();
    let mut sources: BTreeMap<String, Source> = BTreeMap::new();
    let disc = places.discover();
    for input in inputs {
        for f in &input.files {
            let Some(kind) = kind_of(&f.name) else {
                continue;
            };
            let path = places.install_dir.join(&f.name);
            match incoming(f, kind, path.clone(), &disc) {
                Ok(src) => {
                    origin_of.insert(path, (f.origin.clone(), f.line_offset));
                    sources.insert(f.name.clone(), src);
                }
                Err(e) => errors.push(e),
            }
        }
    }
    if sources.is_empty() {
        return errors;
    }
    for found in &disc.sources {
        if sources.contains_key(&found.name) {
            continue;
        }
        if let Ok(s) =
            generator::load_source(&found.path, &found.name, found.kind, &disc.dropin_dirs)
        {
            sources.insert(found.name.clone(), s);
        }
    }
    let mut run = Run::default();
    generator::translate_all(&sources, opts, &mut run);
    let theirs = |e: &SourceError| !origin_of.contains_key(&e.path);
    let broken = broken_by_added(run.errors.iter().filter(|e| theirs(e)), &disc, opts);
    for e in run.errors.into_iter().filter(|e| !theirs(e)).chain(broken) {
        // Files added are named as given (a bundle's part by its own lines), wherever
        // the message names them.
        let message = given_paths(&e.message, &origin_of);
        match origin_of.get(&e.path) {
            Some((origin, offset)) => {
                let line = if e.line > 0 { e.line + offset } else { 0 };
                errors.push(SourceError::new(origin, line, message));
            }
            None => errors.push(SourceError::new(&e.path, e.line, message)),
        }
    }
    errors.sort_by(|a, b| (&a.path, a.line).cmp(&(&b.path, b.line)));
    errors.dedup();
    errors
}

/// An incoming file parsed, with the drop-ins already on the search path merged into it
/// as they will be; an error of its own syntax against the file as given.
fn incoming(
    f: &Incoming,
    kind: SourceKind,
    path: PathBuf,
    disc: &Discovery,
) -> Result<Source, SourceError> {
    match UnitFile::parse_bytes_with(&f.data, &quadlet::known_key) {
        Ok(mut file) => {
            // Drop-ins already on the search path apply to it as they will.
            for d in crate::search::dropins(&f.name, &disc.dropin_dirs) {
                let mut buf = Vec::new();
                if crate::fsutil::read_regular(&d, generator::MAX_SOURCE, &mut buf).is_ok() {
                    if let Ok(df) = UnitFile::parse_bytes_with(&buf, &quadlet::known_key) {
                        file.merge(df);
                    }
                }
            }
            Ok(Source {
                path,
                name: f.name.clone(),
                kind,
                file,
            })
        }
        Err(e) => Err(bad(
            &f.origin,
            if e.line() > 0 {
                e.line() + f.line_offset
            } else {
                0
            },
            e.message(),
        )),
    }
}

/// A source already there that the files added break (a `.socket` added for a
/// container whose own `[Socket]` makes that socket): an error of that source (of
/// `errors`, the run's with the files added) which it does not have without them. Asked
/// only when such a source has errors at all.
fn broken_by_added<'a>(
    errors: impl Iterator<Item = &'a SourceError>,
    disc: &Discovery,
    opts: &Options,
) -> Vec<SourceError> {
    let mut broken: Vec<SourceError> = errors.cloned().collect();
    if !broken.is_empty() {
        // What is there now (the files replaced as they are).
        let mut before = Run::default();
        let existing: BTreeMap<String, Source> = (disc.sources.iter())
            .filter_map(|f| Some((f.name.clone(), generator::load_found_source(f, disc).ok()?)))
            .collect();
        generator::translate_all(&existing, opts, &mut before);
        broken.retain(|e| !before.errors.contains(e));
    }
    broken
}

/// `message` with each path where a file added will be written (a key of `origin_of`)
/// replaced by the file as given, `PATH:LINE` by its own line there (a bundle's part).
fn given_paths(message: &str, origin_of: &HashMap<PathBuf, (PathBuf, usize)>) -> String {
    let mut out = message.to_owned();
    // Longest first, so that no path is taken for a shorter one it starts with.
    let mut paths: Vec<(&PathBuf, &(PathBuf, usize))> = origin_of.iter().collect();
    paths.sort_by_key(|(p, _)| std::cmp::Reverse(p.as_os_str().len()));
    for (path, (origin, offset)) in paths {
        let (from, to) = (path.display().to_string(), origin.display().to_string());
        let mut rest = out.as_str();
        let mut done = String::with_capacity(out.len());
        while let Some(at) = rest.find(&from) {
            let after = &rest[at + from.len()..];
            // A longer path (`web.container.d/x.conf`) is not this one.
            if after.starts_with(|c: char| c.is_alphanumeric() || "._-@/".contains(c)) {
                done.push_str(&rest[..at + from.len()]);
                rest = after;
                continue;
            }
            done.push_str(&rest[..at]);
            done.push_str(&to);
            let digits = (after.strip_prefix(':'))
                .map(|a| &a[..a.find(|c: char| !c.is_ascii_digit()).unwrap_or(a.len())]);
            rest = match digits.and_then(|d| Some((d.len(), d.parse::<usize>().ok()?))) {
                Some((len, line)) if line > 0 => {
                    done.push_str(&format!(":{}", line + offset));
                    &after[1 + len..]
                }
                _ => after,
            };
        }
        done.push_str(rest);
        out = done;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The paths `add` checks files at are named as the files were given, a bundle's
    /// part at the bundle's line; a longer path that starts with one is left alone.
    #[test]
    fn messages_name_the_files_as_given() {
        let mut m = HashMap::new();
        m.insert(
            PathBuf::from("/d/a.socket"),
            (PathBuf::from("in/b.quadlets"), 7),
        );
        m.insert(
            PathBuf::from("/d/a.container"),
            (PathBuf::from("dir/a.container"), 0),
        );
        assert_eq!(
            given_paths(
                "x /d/a.socket:1 y /d/a.container z /d/a.container.d/s.conf:3 /d/a.socket",
                &m
            ),
            "x in/b.quadlets:8 y dir/a.container z /d/a.container.d/s.conf:3 in/b.quadlets"
        );
        assert_eq!(given_paths("/d/a.socket:x", &m), "in/b.quadlets:x");
    }
}
