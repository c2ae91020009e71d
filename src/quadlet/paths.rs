//! Host paths written in sources: relative ones taken against the source's directory
//! and cleaned, as quadlet does.

use super::{concat, Source};
use std::path::Path;

/// Absolute host path for a user-written path: relative ones are taken against the source
/// file's directory and cleaned (`./src/` -> `DIR/src`), as quadlet does; `%` specifiers
/// and `~` are left to systemd/podman.
pub(crate) fn host_path(src: &Source, p: &str) -> String {
    if p.starts_with('/') || (p.starts_with('%') && !p.starts_with("%%")) || p.starts_with('~') {
        return p.to_owned();
    }
    let dir = src.path.parent().unwrap_or(Path::new("/"));
    // The directory is literal text: a `%` in it must not read as a specifier.
    let dir = dir.to_string_lossy().replace('%', "%%");
    clean_path(&concat(&[&dir, "/", p]))
}

/// Lexical clean of an absolute path (Go's `filepath.Clean`): no `//`, `.`, `..` or
/// trailing `/`.
pub(crate) fn clean_path(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    let mut out = String::with_capacity(p.len());
    for c in &parts {
        out.push('/');
        out.push_str(c);
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}
