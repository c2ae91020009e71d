//! Where sources are found: quadlet's user search path, walked the way quadlet walks it,
//! and the drop-in directories of each source.

use crate::kind::SourceKind;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

mod dropin;
pub use dropin::{dropin_dir_names, dropins, list_dropins, Dropins};

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
    /// Its [`Trust`] ([`Trust::from_uid`]): `Some(uid)` in a shared directory, one others
    /// can write, or through a symlink; read only if the file opened is owned by root or
    /// this uid and not writable by others ([`Trust::read`]).
    pub trusted_uid: Option<u32>,
    /// Listed as a regular file, not a symlink, where everything listed is read
    /// ([`Trust::ANY`]): read without an `fstat` ([`crate::fsutil::read_listed`]).
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
    /// Files and directories that could not be used.
    pub errors: Vec<crate::error::SourceError>,
    /// Files and directories refused for their owner or mode ([`Trust`]): another user's
    /// file must not change the user's units, nor fail the user's run; each is named, with
    /// its owner, and left out.
    pub refused: Vec<crate::error::SourceError>,
}

/// Why a file or directory of a shared directory (or one reached through a symlink) must
/// not be read: owned by neither root nor `uid`, or writable by others (world, or a group
/// other than root's and the caller's; a sticky directory is fine, its entries are checked
/// one by one). `None`: it may be read.
fn untrusted(meta: &std::fs::Metadata, uid: u32) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let owner = meta.uid();
    if owner != 0 && owner != uid {
        return Some(format!(
            "owned by uid {owner}, neither root nor you: not read (in a directory shared by \
             all users or others can write, or reached through a symlink, only root's files \
             and yours are read)"
        ));
    }
    if meta.file_type().is_symlink() || (meta.is_dir() && meta.mode() & 0o1000 != 0) {
        return None;
    }
    if writable_by_others(meta) {
        return Some(format!(
            "writable by other users (mode {:o}): not read (in a directory shared by all \
             users or others can write, or reached through a symlink, only files no one else \
             can change are read)",
            meta.mode() & 0o7777
        ));
    }
    None
}

/// Whether users other than root and the caller may write to it: world-writable, or
/// group-writable by a group other than root's and the caller's (user private groups).
fn writable_by_others(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    let group_ok = meta.gid() == 0 || meta.gid() == rustix::process::getegid().as_raw();
    meta.mode() & 0o002 != 0 || (meta.mode() & 0o020 != 0 && !group_ok)
}

/// Whose files are read at a place of the search path: the one rule for the directories
/// walked, sources, drop-in directories and drop-in files.
///
/// - [`Trust::ANY`]: the user's own directories, which only the user (and root) can
///   change: whatever is listed there.
/// - [`Trust::only`]`(uid)`: only what root or `uid` own and no one else can change. It
///   holds in a directory shared by all users (quadlet's `users` directories), in a
///   directory others can write (sticky, like `/tmp`: its entries are checked one by one;
///   not sticky: refused, anyone could swap an entry), and for anything reached through
///   a symlink: the target is judged by its owner, and a link others could have made by
///   the link's own owner (`lstat`), since anyone can link to root's files.
///
/// A file judged here is judged again on the file actually opened (its `fstat`), so a link
/// changed in between gains nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trust(Option<u32>);

impl Trust {
    /// Everything listed is read.
    pub const ANY: Trust = Trust(None);

    /// Root's and `uid`'s files only, and only those no one else can change.
    pub fn only(uid: u32) -> Trust {
        Trust(Some(uid))
    }

    /// From the `trusted_uid` fields of [`Root`] and [`Found`].
    pub fn from_uid(uid: Option<u32>) -> Trust {
        Trust(uid)
    }

    /// The uid whose files (beside root's) are read, when not [`Trust::ANY`].
    pub fn uid(self) -> Option<u32> {
        self.0
    }

    /// This trust, or the effective user's files only when it was [`Trust::ANY`].
    fn strict(self) -> Trust {
        Trust(Some(self.0.unwrap_or_else(euid)))
    }

    /// Why a file or directory (as opened: its `fstat`, or a link's `lstat`) must not be
    /// read under this trust.
    pub fn refuse(self, meta: &std::fs::Metadata) -> Option<String> {
        self.0.and_then(|uid| untrusted(meta, uid))
    }

    /// A directory to list (`meta`: itself, followed): why it must not be listed, or the
    /// trust of its entries (strict when others can write into it).
    pub fn dir(self, meta: &std::fs::Metadata) -> Result<Trust, String> {
        let t = if writable_by_others(meta) {
            self.strict()
        } else {
            self
        };
        t.refuse(meta).map_or(Ok(t), Err)
    }

    /// An entry of a directory listed under this trust, of type `ft` as listed (not
    /// followed): why it must not be read (a link owned by neither root nor the user,
    /// where others could have made it), or the trust its target is read with.
    pub fn entry(self, path: &Path, ft: std::fs::FileType) -> Result<Trust, String> {
        if !ft.is_symlink() {
            return Ok(self);
        }
        if self.0.is_some() {
            let link =
                std::fs::symlink_metadata(path).map_err(|e| format!("cannot be read: {e}"))?;
            if let Some(why) = self.refuse(&link) {
                return Err(why);
            }
        }
        Ok(self.strict())
    }

    /// Read a file (regular only, bounded: [`crate::fsutil::read_regular`]) into `buf` if
    /// the file opened is allowed under this trust (its `fstat`). `Err`: why not, never
    /// anything of its content.
    pub fn read(self, path: &Path, limit: u64, buf: &mut Vec<u8>) -> Result<(), String> {
        let meta = crate::fsutil::read_regular(path, limit, buf)
            .map_err(|e| format!("cannot read: {e}"))?;
        match self.refuse(&meta) {
            Some(why) => {
                buf.clear();
                Err(why)
            }
            None => Ok(()),
        }
    }

    /// [`Trust::entry`] for a file (a source, a drop-in), then the file it is: both judged
    /// as listed, so that one refused is left out (and said) before anything reads it.
    pub fn file(self, path: &Path, ft: std::fs::FileType) -> Result<Trust, String> {
        let t = self.entry(path, ft)?;
        if t.0.is_none() {
            return Ok(t);
        }
        let meta = std::fs::metadata(path).map_err(|e| format!("cannot be read: {e}"))?;
        t.refuse(&meta).map_or(Ok(t), Err)
    }
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
            trust: Trust::from_uid(root.trusted_uid),
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

/// Where a walk is: the directory, its depth below the root, and whose files are read
/// there (the trust of the root, or of the link that led here).
#[derive(Clone, Copy)]
struct Walk<'a> {
    dir: &'a Path,
    depth: usize,
    trust: Trust,
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
    let Some(trust) = enter(root, at, seen, d) else {
        return;
    };
    let Some(entries) = list(at.dir, d) else {
        return;
    };
    let mut subdirs = Vec::new();
    for (name, path, ft) in entries {
        let Some(is_dir) = resolve(&name, &path, ft, d) else {
            continue;
        };
        if is_dir {
            let hidden = name.starts_with('.') && !name.ends_with(".d");
            let numeric = at.dir == root.path
                && root.skip_numeric_subdirs
                && name.bytes().all(|b| b.is_ascii_digit());
            if hidden || numeric {
                continue;
            }
            let Some(t) = admit(Trust::entry, trust, &path, ft, d) else {
                continue;
            };
            if name.ends_with(".d") {
                dropin_dir(name, path, t, d);
            } else {
                subdirs.push((path, t));
            }
            continue;
        }
        let Some((kind, _)) = SourceKind::from_file_name(&name) else {
            continue;
        };
        let Some(t) = admit(Trust::file, trust, &path, ft, d) else {
            continue;
        };
        if let Some(first) = by_name.get(&name) {
            let (p, f) = (show(&path), show(&first.path));
            d.notes.push(format!("{p}: shadowed by {f}, skipped"));
            continue;
        }
        let found = Found {
            path,
            name: name.clone(),
            kind,
            trusted_uid: t.uid(),
            listed_regular: t == Trust::ANY && ft.is_file(),
        };
        by_name.insert(name, found);
    }
    for (sub, trust) in subdirs {
        let depth = at.depth + 1;
        walk(
            root,
            Walk {
                dir: &sub,
                depth,
                trust,
            },
            seen,
            d,
            by_name,
        );
    }
}

/// Enter a directory of the walk: within [`MAX_DEPTH`], not walked yet, and allowed by
/// its trust ([`Trust::dir`]). Returns the trust of its entries.
fn enter(
    root: &Root,
    at: Walk<'_>,
    seen: &mut HashSet<PathBuf>,
    d: &mut Discovery,
) -> Option<Trust> {
    let dir = at.dir;
    if at.depth > MAX_DEPTH {
        d.notes.push(format!(
            "{}: more than {MAX_DEPTH} directories below {}: not searched",
            show(dir),
            show(&root.path)
        ));
        return None;
    }
    let canon = match std::fs::canonicalize(dir) {
        Ok(c) => c,
        // A root that does not exist is the usual case (most of the search path is empty).
        Err(e) if at.depth == 0 && e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => return cannot_search(d, dir, e),
    };
    if !seen.insert(canon) {
        return None; // already walked (symlink loop or the same directory twice)
    }
    let meta = match std::fs::metadata(dir) {
        Ok(m) => m,
        Err(e) => return cannot_search(d, dir, e),
    };
    match at.trust.dir(&meta) {
        Ok(t) => Some(t),
        Err(why) => {
            d.refused.push(crate::error::SourceError::new(dir, 0, why));
            None
        }
    }
}

fn cannot_search<T>(d: &mut Discovery, dir: &Path, e: std::io::Error) -> Option<T> {
    d.notes
        .push(format!("{}: cannot be searched: {e}", show(dir)));
    None
}

/// The entries of `dir` with UTF-8 names, by name, with their types as listed.
fn list(dir: &Path, d: &mut Discovery) -> Option<Vec<(String, PathBuf, std::fs::FileType)>> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) => return cannot_search(d, dir, e),
    };
    d.dirs.push(dir.to_owned());
    let mut entries = Vec::new();
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
    // Names in one directory are unique: an unstable sort gives the same order, and is
    // the smaller code.
    entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    Some(entries)
}

/// Whether an entry is a directory (`Some(true)`) or a regular file (`Some(false)`), its
/// target's type for a symlink; `None` (with a note for a source-like name) for anything
/// else and for a link that cannot be followed.
fn resolve(name: &str, path: &Path, ft: std::fs::FileType, d: &mut Discovery) -> Option<bool> {
    let (is_dir, is_file) = if ft.is_symlink() {
        match std::fs::metadata(path) {
            Ok(m) => (m.is_dir(), m.is_file()),
            Err(e) => {
                if source_like(name.as_bytes()) {
                    d.notes.push(format!(
                        "{}: symlink that cannot be followed ({e}): skipped",
                        show(path)
                    ));
                }
                return None;
            }
        }
    } else {
        (ft.is_dir(), ft.is_file())
    };
    if !is_dir && !is_file {
        if source_like(name.as_bytes()) {
            d.notes
                .push(format!("{}: not a regular file: skipped", show(path)));
        }
        return None;
    }
    Some(is_dir)
}

/// The trust an entry is read with (`judge`: [`Trust::entry`] for a directory, whose
/// own trust is judged as it is entered; [`Trust::file`] for a source, judged before it
/// is read), or `None` with the refusal in `d.refused`.
fn admit(
    judge: fn(Trust, &Path, std::fs::FileType) -> Result<Trust, String>,
    trust: Trust,
    path: &Path,
    ft: std::fs::FileType,
    d: &mut Discovery,
) -> Option<Trust> {
    match judge(trust, path, ft) {
        Ok(t) => Some(t),
        Err(why) => {
            d.refused.push(crate::error::SourceError::new(path, 0, why));
            None
        }
    }
}

/// A drop-in directory found by the walk, kept if its trust allows it ([`Trust::dir`]).
fn dropin_dir(name: String, path: PathBuf, trust: Trust, d: &mut Discovery) {
    let checked = std::fs::metadata(&path)
        .map_err(|e| format!("cannot be read: {e}"))
        .and_then(|m| trust.dir(&m));
    match checked {
        Ok(t) => {
            if let Some(uid) = t.uid() {
                d.shared_dropin_dirs.insert(path.clone(), uid);
            }
            d.dropin_dirs.entry(name).or_default().push(path);
        }
        Err(why) => d
            .refused
            .push(crate::error::SourceError::new(&path, 0, why)),
    }
}
