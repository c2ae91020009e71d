//! Where sources are found: quadlet's user search path, walked the way quadlet walks it,
//! and the drop-in directories of each source.

use crate::kind::SourceKind;
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
    /// Found in a shared directory: read only if the file opened is owned by root or this
    /// uid and not writable by others ([`untrusted`] on its `fstat`).
    pub trusted_uid: Option<u32>,
    /// Listed as a regular file, not a symlink, in a directory not shared by all users:
    /// read without an `fstat` ([`crate::fsutil::read_listed`]).
    pub listed_regular: bool,
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
    /// Drop-in directories of shared directories, with the uid whose files (besides
    /// root's) are read there.
    pub shared_dropin_dirs: HashMap<PathBuf, u32>,
    /// Files skipped, with the reason (shadowed names, unsupported kinds, names that are
    /// not UTF-8, directories too deep or unreadable): one line each.
    pub notes: Vec<String>,
    /// Files refused (owned by another user in a shared directory).
    pub errors: Vec<crate::error::SourceError>,
}

/// Why a file or directory of a shared directory (or one reached through a symlink) must
/// not be read: owned by neither root nor `uid`, or writable by others (world, or a group
/// other than root's and the caller's; a sticky directory is fine, its entries are checked
/// one by one). `None`: it may be read.
pub fn untrusted(meta: &std::fs::Metadata, uid: u32) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let owner = meta.uid();
    if owner != 0 && owner != uid {
        return Some(format!(
            "owned by uid {owner}, neither root nor you: not read (in a directory shared by \
             all users, or reached through a symlink, only root's files and yours are read)"
        ));
    }
    if meta.file_type().is_symlink() || (meta.is_dir() && meta.mode() & 0o1000 != 0) {
        return None;
    }
    // Group-writable is fine for root's group and your own (user private groups).
    let group_ok = meta.gid() == 0 || meta.gid() == rustix::process::getegid().as_raw();
    if meta.mode() & 0o002 != 0 || (meta.mode() & 0o020 != 0 && !group_ok) {
        return Some(format!(
            "writable by other users (mode {:o}): not read (in a directory shared by all \
             users, or reached through a symlink, only files no one else can change are read)",
            meta.mode() & 0o7777
        ));
    }
    None
}

/// Walk the roots: recursive, symlinks followed, loops avoided, `*.d` directories skipped.
pub fn discover(roots: &[Root]) -> Discovery {
    let mut d = Discovery::default();
    let mut seen_dirs = HashSet::new();
    let mut by_name: BTreeMap<String, Found> = BTreeMap::new();
    for root in roots {
        let at = Walk {
            dir: &root.path,
            depth: 0,
            trust: root.trusted_uid,
        };
        walk(root, at, &mut seen_dirs, &mut d, &mut by_name);
    }
    d.sources = by_name.into_values().collect();
    d
}

/// How deep below a root sources are searched (quadlet has no limit; loops are avoided
/// anyway, this bounds the work).
pub const MAX_DEPTH: usize = 32;

/// Extensions of files that are worth a note when they cannot be used.
fn source_like(name: &[u8]) -> bool {
    let ext = match name.iter().rposition(|&b| b == b'.') {
        Some(i) => &name[i + 1..],
        None => return false,
    };
    crate::kind::KINDS
        .iter()
        .any(|k| k.extension.as_bytes() == ext)
}

fn show(p: &Path) -> String {
    crate::error::show_path(p)
}

/// Where a walk is: the directory, its depth below the root, and whose files are
/// trusted there (`Some(uid)`: root's and uid's only, as in a shared directory, or below
/// a symlink).
#[derive(Clone, Copy)]
struct Walk<'a> {
    dir: &'a Path,
    depth: usize,
    trust: Option<u32>,
}

/// The effective uid: whose files are trusted when reached through a symlink.
fn euid() -> u32 {
    rustix::process::geteuid().as_raw()
}

fn walk(
    root: &Root,
    at: Walk<'_>,
    seen: &mut HashSet<PathBuf>,
    d: &mut Discovery,
    by_name: &mut BTreeMap<String, Found>,
) {
    let Walk { dir, depth, trust } = at;
    if depth > MAX_DEPTH {
        d.notes.push(format!(
            "{}: more than {MAX_DEPTH} directories below {}: not searched",
            show(dir),
            show(&root.path)
        ));
        return;
    }
    let canon = match std::fs::canonicalize(dir) {
        Ok(c) => c,
        // A root that does not exist is the usual case (most of the search path is empty).
        Err(e) if depth == 0 && e.kind() == std::io::ErrorKind::NotFound => return,
        Err(e) => {
            d.notes
                .push(format!("{}: cannot be searched: {e}", show(dir)));
            return;
        }
    };
    if !seen.insert(canon) {
        return; // already walked (symlink loop or the same directory twice)
    }
    if let Some(uid) = trust {
        // The directory itself (and, below the root, the link that led here).
        let link = (depth > 0)
            .then(|| std::fs::symlink_metadata(dir).ok())
            .flatten()
            .filter(|m| m.file_type().is_symlink());
        let bad = link
            .as_ref()
            .and_then(|m| untrusted(m, uid))
            .or_else(|| std::fs::metadata(dir).ok().and_then(|m| untrusted(&m, uid)));
        if let Some(why) = bad {
            d.errors.push(crate::error::SourceError::new(dir, 0, why));
            return;
        }
    }
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) => {
            d.notes
                .push(format!("{}: cannot be searched: {e}", show(dir)));
            return;
        }
    };
    d.dirs.push(dir.to_owned());
    let mut entries: Vec<(String, PathBuf, std::fs::FileType)> = Vec::new();
    for e in rd {
        let Ok(e) = e else { continue };
        let Ok(ft) = e.file_type() else { continue };
        match e.file_name().into_string() {
            Ok(name) => entries.push((name, e.path(), ft)),
            Err(raw) => {
                use std::os::unix::ffi::OsStrExt;
                if ft.is_dir() || source_like(raw.as_bytes()) {
                    d.notes.push(format!(
                        "{}: name is not valid UTF-8: skipped",
                        show(&e.path())
                    ));
                }
            }
        }
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    let mut subdirs = Vec::new();
    for (name, path, ft) in entries {
        // The entry's own type, or its target's for a symlink (dangling ones are skipped).
        let (is_dir, is_file) = if ft.is_symlink() {
            match std::fs::metadata(&path) {
                Ok(m) => (m.is_dir(), m.is_file()),
                Err(e) => {
                    if source_like(name.as_bytes()) {
                        d.notes.push(format!(
                            "{}: symlink that cannot be followed ({e}): skipped",
                            show(&path)
                        ));
                    }
                    continue;
                }
            }
        } else {
            (ft.is_dir(), ft.is_file())
        };
        // In a shared directory, a symlink is trusted no more than its owner.
        let foreign_link = |d: &mut Discovery| -> bool {
            let Some(uid) = trust.filter(|_| ft.is_symlink()) else {
                return false;
            };
            let why = match std::fs::symlink_metadata(&path) {
                Ok(m) => untrusted(&m, uid),
                Err(e) => Some(format!("cannot be read: {e}")),
            };
            match why {
                Some(why) => {
                    d.errors.push(crate::error::SourceError::new(&path, 0, why));
                    true
                }
                None => false,
            }
        };
        if is_dir {
            if name.ends_with(".d") {
                // A drop-in directory reached through a symlink is trusted like one in a
                // shared directory.
                if let Some(uid) = trust.or_else(|| ft.is_symlink().then(euid)) {
                    if foreign_link(d) {
                        continue;
                    }
                    match std::fs::metadata(&path) {
                        Ok(m) => {
                            if let Some(why) = untrusted(&m, uid) {
                                d.errors.push(crate::error::SourceError::new(&path, 0, why));
                                continue;
                            }
                        }
                        Err(_) => continue,
                    }
                    d.shared_dropin_dirs.insert(path.clone(), uid);
                }
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
            subdirs.push((path, trust.or_else(|| ft.is_symlink().then(euid))));
            continue;
        }
        if !is_file {
            if source_like(name.as_bytes()) {
                d.notes
                    .push(format!("{}: not a regular file: skipped", show(&path)));
            }
            continue;
        }
        let Some((kind, _)) = SourceKind::from_file_name(&name) else {
            continue;
        };
        if foreign_link(d) {
            continue;
        }
        if let Some(first) = by_name.get(&name) {
            d.notes.push(format!(
                "{}: shadowed by {}, skipped",
                show(&path),
                show(&first.path)
            ));
        } else {
            by_name.insert(
                name.clone(),
                Found {
                    path,
                    name,
                    kind,
                    // A file reached through a symlink must be root's or yours.
                    trusted_uid: trust.or_else(|| ft.is_symlink().then(euid)),
                    listed_regular: trust.is_none() && ft.is_file(),
                },
            );
        }
    }
    for (sub, trust) in subdirs {
        let at = Walk {
            dir: &sub,
            depth: depth + 1,
            trust,
        };
        walk(root, at, seen, d, by_name);
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
/// Directories that cannot be read are left out; [`try_dropins`] says which.
pub fn dropins(file_name: &str, dropin_dirs: &HashMap<String, Vec<PathBuf>>) -> Vec<PathBuf> {
    try_dropins(file_name, dropin_dirs).unwrap_or_else(|(files, _)| files)
}

/// [`dropins`], or, when a drop-in directory cannot be read (or holds a `.conf` name
/// that is not UTF-8), the files found and that error: the unit would lack part of its
/// configuration.
#[allow(clippy::type_complexity)]
pub fn try_dropins(
    file_name: &str,
    dropin_dirs: &HashMap<String, Vec<PathBuf>>,
) -> Result<Vec<PathBuf>, (Vec<PathBuf>, crate::error::SourceError)> {
    if dropin_dirs.is_empty() {
        return Ok(Vec::new());
    }
    let mut chosen: BTreeMap<String, PathBuf> = BTreeMap::new();
    let mut seen = BTreeSet::new();
    let mut error = None;
    for dname in dropin_dir_names(file_name) {
        for dd in dropin_dirs.get(&dname).into_iter().flatten() {
            let rd = match std::fs::read_dir(dd) {
                Ok(rd) => rd,
                Err(e) => {
                    error.get_or_insert_with(|| {
                        crate::error::SourceError::new(
                            dd,
                            0,
                            format!("drop-in directory cannot be read: {e}"),
                        )
                    });
                    continue;
                }
            };
            let mut names: Vec<String> = Vec::new();
            for e in rd.filter_map(|e| e.ok()) {
                match e.file_name().into_string() {
                    Ok(n) if n.ends_with(".conf") => names.push(n),
                    Ok(_) => {}
                    Err(raw) => {
                        use std::os::unix::ffi::OsStrExt;
                        if raw.as_bytes().ends_with(b".conf") {
                            error.get_or_insert_with(|| {
                                crate::error::SourceError::new(
                                    &e.path(),
                                    0,
                                    "drop-in name is not valid UTF-8: not read",
                                )
                            });
                        }
                    }
                }
            }
            names.sort();
            for n in names {
                if seen.insert(n.clone()) {
                    chosen.insert(n.clone(), dd.join(&n));
                }
            }
        }
    }
    let files = chosen.into_values().collect();
    match error {
        None => Ok(files),
        Some(e) => Err((files, e)),
    }
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
