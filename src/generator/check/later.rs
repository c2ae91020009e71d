//! Every error of a file for `rootlet check`, not only the first, which translation
//! stops at ([`later_errors`]).

use crate::error::SourceError;
use crate::quadlet::{Generated, Source};

/// How many errors of one file `rootlet check` reports at most.
const MAX_ERRORS: usize = 20;

/// The errors of a source after its first (`first`, which `translate` returned for
/// `src`), for `rootlet check`, which reports every error of a file and not one per run
/// as translation (which stops at the first) does. The entry at the line of each error is
/// taken out of a copy of the source (a whole section for an error at its header) and the
/// copy translated again, until it translates or an error is not about a line of its own:
/// the file's as a whole (line 0), the same line again, or a key taken out (`Image=`
/// missing once the bad `Image=` is gone is not a second error of the user's). The
/// generator never calls this: its output is the same whatever `check` reports.
pub(in crate::generator) fn later_errors(
    src: &Source,
    first: &SourceError,
    translate: &dyn Fn(&Source) -> Result<Generated, SourceError>,
) -> Vec<SourceError> {
    let mut copy = src.clone();
    let mut removed: Vec<String> = Vec::new();
    let mut seen = vec![first.line];
    let mut err = first.clone();
    let mut out = Vec::new();
    while out.len() < MAX_ERRORS {
        if !take_out(&mut copy, err.line, &mut removed) {
            break;
        }
        err = match translate(&copy) {
            Ok(_) => break,
            Err(e) => e,
        };
        let about_removed = removed.iter().any(|k| {
            err.message.contains(&format!("{k}=")) || err.message.contains(&format!("`{k}`"))
        });
        if err.line == 0 || seen.contains(&err.line) || about_removed {
            break;
        }
        seen.push(err.line);
        out.push(err.clone());
    }
    out
}

/// Take the entries at `line` out of `src` (or the section whose header is there);
/// whether there was one. Their keys (or the section's name) go to `removed`.
fn take_out(src: &mut Source, line: usize, removed: &mut Vec<String>) -> bool {
    if line == 0 {
        return false;
    }
    let sections = &mut src.file.sections;
    if let Some(i) = sections.iter().position(|s| s.line == line) {
        removed.push(sections.remove(i).name);
        return true;
    }
    let mut found = false;
    for s in sections.iter_mut() {
        s.entries.retain(|e| {
            let hit = e.line == line;
            if hit {
                removed.push(e.key.to_string());
                found = true;
            }
            !hit
        });
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generator::check::tests::source;
    use crate::quadlet::{Context, Defaults};
    use std::collections::BTreeMap;

    /// Every error of a file, from its first; a key taken out that another needs ends
    /// the list (`Image=` missing once the bad `Image=` is gone is no second error).
    #[test]
    fn later_errors_are_every_independent_error_of_a_file() {
        let (defaults, none) = (Defaults::default(), BTreeMap::new());
        let newest = crate::podman::Lazy::new("/usr/bin/podman", crate::podman::Target::Newest);
        let sources = BTreeMap::new();
        let ctx = Context {
            podman: "/usr/bin/podman",
            podman_version: &newest,
            defaults: &defaults,
            sources: &sources,
            sockets_for: &none,
            load: None,
            pod_members: &none,
        };
        let translate = |s: &Source| crate::quadlet::translate(s, &ctx);
        let lines = |text: &str| {
            let src = source("a.container", text);
            let first = translate(&src).unwrap_err();
            let mut v = vec![first.line];
            v.extend(
                later_errors(&src, &first, &translate)
                    .iter()
                    .map(|e| e.line),
            );
            v
        };
        assert_eq!(
            lines("[Container]\nImagee=x\nImage=x\nPublishPorts=1:1\nNotify=maybe\n"),
            [2, 4, 5]
        );
        assert_eq!(
            lines("[Containr]\nImage=x\n[Container]\nImage=x\nRestart=always\n"),
            [1, 5]
        );
        // The one `Image=` is bad: without it, `Image=` missing is not reported.
        assert_eq!(lines("[Container]\nImage=\n").len(), 1);
        // A file-wide error (line 0) ends the list at once.
        let src = source("a.container", "[Container]\nImage=x\n");
        let whole = SourceError::new(&src.path, 0, "x");
        assert!(later_errors(&src, &whole, &translate).is_empty());
    }
}
