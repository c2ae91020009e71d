//! Where sources are found: quadlet's user search path, walked the way quadlet walks it,
//! and the drop-in directories of each source.

use crate::quadlet::{SourceKind, UNSUPPORTED_EXTENSIONS};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

/// One directory of the search path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Root {
    pub path: PathBuf,
    pub skip_numeric_subdirs: bool,
    /// In a directory shared by all users, only files owned by root or by this uid are
    /// read: a file another user could write must not become one of our units.
    pub trusted_uid: Option<u32>,
}

impl Root {
    pub fn new(path: PathBuf) -> Root {
        Root {
            path,
            skip_numeric_subdirs: false,
            trusted_uid: None,
        }
    }

    pub fn shared(path: PathBuf, uid: u32, skip_numeric_subdirs: bool) -> Root {
        Root {
            path,
            skip_numeric_subdirs,
            trusted_uid: Some(uid),
        }
    }
}

/// A source file found on the search path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub path: PathBuf,
    pub name: String,
    pub kind: SourceKind,
}

/// What a walk of the search path found.
#[derive(Debug, Default)]
pub struct Discovery {
    /// Sources in a deterministic order (by file name).
    pub sources: Vec<Found>,
    /// Every directory walked, in search order.
    pub dirs: Vec<PathBuf>,
    /// Drop-in directories found in them (`web.container.d` -> its paths, in search order).
    pub dropin_dirs: HashMap<String, Vec<PathBuf>>,
    /// Files skipped, with the reason (shadowed names, unsupported kinds).
    pub notes: Vec<String>,
    /// Files refused (owned by another user in a shared directory).
    pub errors: Vec<crate::error::SourceError>,
}

/// Walk the roots: recursive, symlinks followed, loops avoided, `*.d` directories skipped.
pub fn discover(roots: &[Root]) -> Discovery {
    let mut d = Discovery::default();
    let mut seen_dirs = HashSet::new();
    let mut by_name: BTreeMap<String, Found> = BTreeMap::new();
    for root in roots {
        walk(root, &root.path, &mut seen_dirs, &mut d, &mut by_name, 0);
    }
    d.sources = by_name.into_values().collect();
    d
}

const MAX_DEPTH: usize = 32;

fn walk(
    root: &Root,
    dir: &Path,
    seen: &mut HashSet<PathBuf>,
    d: &mut Discovery,
    by_name: &mut BTreeMap<String, Found>,
    depth: usize,
) {
    if depth > MAX_DEPTH {
        return;
    }
    let Ok(canon) = std::fs::canonicalize(dir) else {
        return;
    };
    if !seen.insert(canon) {
        return; // already walked (symlink loop or the same directory twice)
    }
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    d.dirs.push(dir.to_owned());
    let mut entries: Vec<(String, PathBuf, std::fs::FileType)> = rd
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            Some((
                e.file_name().into_string().ok()?,
                e.path(),
                e.file_type().ok()?,
            ))
        })
        .collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    let mut subdirs = Vec::new();
    for (name, path, ft) in entries {
        // The entry's own type, or its target's for a symlink (dangling ones are skipped).
        let (is_dir, is_file) = if ft.is_symlink() {
            match std::fs::metadata(&path) {
                Ok(m) => (m.is_dir(), m.is_file()),
                Err(_) => continue,
            }
        } else {
            (ft.is_dir(), ft.is_file())
        };
        if is_dir {
            if name.ends_with(".d") {
                d.dropin_dirs.entry(name).or_default().push(path);
                continue;
            }
            if name.starts_with('.') {
                continue;
            }
            if dir == root.path
                && root.skip_numeric_subdirs
                && name.bytes().all(|b| b.is_ascii_digit())
            {
                continue;
            }
            subdirs.push(path);
            continue;
        }
        if !is_file {
            continue;
        }
        match SourceKind::from_file_name(&name) {
            Some((kind, _)) => {
                if let Some(uid) = root.trusted_uid {
                    use std::os::unix::fs::MetadataExt;
                    let owner = std::fs::metadata(&path)
                        .map(|m| m.uid())
                        .unwrap_or(u32::MAX);
                    if owner != 0 && owner != uid {
                        d.errors.push(crate::error::SourceError::new(
                            &path,
                            0,
                            format!("owned by uid {owner}, neither root nor you, in a directory shared by all users: not read"),
                        ));
                        continue;
                    }
                }
                if let Some(first) = by_name.get(&name) {
                    d.notes.push(format!(
                        "{}: shadowed by {}, skipped",
                        path.display(),
                        first.path.display()
                    ));
                } else {
                    by_name.insert(name.clone(), Found { path, name, kind });
                }
            }
            None => {
                if let Some((_, ext)) = name.rsplit_once('.') {
                    if UNSUPPORTED_EXTENSIONS.contains(&ext) {
                        d.notes.push(format!(
                            "{}: .{ext} files are not translated by rootlet yet, skipped",
                            path.display()
                        ));
                    }
                }
            }
        }
    }
    for sub in subdirs {
        walk(root, &sub, seen, d, by_name, depth + 1);
    }
}

/// Drop-in directory names for a source, most specific first: for `foo-bar@i.container`:
/// `foo-bar@i.container.d`, `foo-bar@.container.d`, `foo-@.container.d`,
/// `foo-.container.d`, `container.d`.
pub fn dropin_dir_names(file_name: &str) -> Vec<String> {
    let Some((stem, ext)) = file_name.rsplit_once('.') else {
        return Vec::new();
    };
    let mut v = vec![format!("{stem}.{ext}.d")];
    let (prefix, templated) = match stem.split_once('@') {
        Some((p, inst)) => {
            if !inst.is_empty() {
                v.push(format!("{p}@.{ext}.d"));
            }
            (p, true)
        }
        None => (stem, false),
    };
    let mut cut = prefix.len();
    while let Some(i) = prefix[..cut].rfind('-') {
        let p = &prefix[..=i];
        if templated {
            v.push(format!("{p}@.{ext}.d"));
        }
        v.push(format!("{p}.{ext}.d"));
        cut = i;
    }
    v.push(format!("{ext}.d"));
    v
}

/// The drop-in files of a source, in the order they apply: the first file of a name
/// wins (most specific directory, then search order), the winners sorted by name.
/// `dropin_dirs` is [`Discovery::dropin_dirs`]: only directories that exist are read.
pub fn dropins(file_name: &str, dropin_dirs: &HashMap<String, Vec<PathBuf>>) -> Vec<PathBuf> {
    if dropin_dirs.is_empty() {
        return Vec::new();
    }
    let mut chosen: BTreeMap<String, PathBuf> = BTreeMap::new();
    let mut seen = BTreeSet::new();
    for dname in dropin_dir_names(file_name) {
        for dd in dropin_dirs.get(&dname).into_iter().flatten() {
            let Ok(rd) = std::fs::read_dir(dd) else {
                continue;
            };
            let mut names: Vec<String> = rd
                .filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| n.ends_with(".conf"))
                .collect();
            names.sort();
            for n in names {
                if seen.insert(n.clone()) {
                    chosen.insert(n.clone(), dd.join(&n));
                }
            }
        }
    }
    chosen.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropin_names() {
        assert_eq!(
            dropin_dir_names("foo-bar@i.container"),
            vec![
                "foo-bar@i.container.d",
                "foo-bar@.container.d",
                "foo-@.container.d",
                "foo-.container.d",
                "container.d"
            ]
        );
        assert_eq!(
            dropin_dir_names("a-b-c.network"),
            vec![
                "a-b-c.network.d",
                "a-b-.network.d",
                "a-.network.d",
                "network.d"
            ]
        );
    }
}
