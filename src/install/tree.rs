//! One of rootlet's directories on disk, read and changed only through a directory fd:
//! the last component of a name is never followed, nor is a symlinked subdirectory (a
//! planted `X.wants -> /elsewhere` is foreign), and writes are atomic (`fsutil`).

use super::manifest::{Digest, Item, Name};
use super::Error;
use crate::fsutil;
use rustix::fs::{AtFlags, FileType};
use rustix::io::Errno;
use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Files larger than this are not rootlet's units (the generator's sources are 16 MB at
/// most; units are not much larger).
const MAX_FILE: u64 = 64 << 20;

/// What is at a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    Nothing,
    File(Digest),
    Link(Vec<u8>),
    Dir,
    /// Anything else: a FIFO, a device, an unreadable file, a symlinked or non-directory
    /// parent.
    Other,
}

/// What rootlet would put at a name, to check an unverified claim against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    File(Digest),
    Link(Vec<u8>),
}

impl Found {
    /// Whether a manifest entry of this item still holds: the file is what rootlet wrote.
    pub fn matches(&self, item: &Item, expect: Option<&Expect>) -> bool {
        match (item, self) {
            (Item::File(Some(d)), Found::File(f)) => d == f,
            (Item::File(None), Found::File(f)) => expect == Some(&Expect::File(*f)),
            (Item::Link(Some(t)), Found::Link(l)) => t == l,
            (Item::Link(None), Found::Link(l)) => expect == Some(&Expect::Link(l.clone())),
            (Item::Dir, Found::Dir) => true,
            _ => false,
        }
    }
}

pub struct Tree {
    pub path: PathBuf,
    fd: Option<OwnedFd>,
}

fn io_err(path: &Path, e: impl Into<io::Error>) -> Error {
    Error::Io {
        path: path.to_owned(),
        source: e.into(),
    }
}

/// The missing directories of `dir`, outermost last: how many `create_base` would make.
pub fn missing_levels(dir: &Path) -> u8 {
    dir.ancestors()
        .take_while(|d| !d.as_os_str().is_empty() && std::fs::symlink_metadata(d).is_err())
        .count()
        .min(16) as u8
}

impl Tree {
    /// An existing directory (symlinks in its path followed: the user's layout), or a
    /// tree that does not exist yet.
    pub fn open(path: &Path) -> Result<Tree, Error> {
        let fd = match fsutil::open_dir(path) {
            Ok(fd) => Some(fd),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(io_err(path, e)),
        };
        Ok(Tree {
            path: path.to_owned(),
            fd,
        })
    }

    /// Create the directory and missing parents; returns how many levels it created.
    pub fn create(&mut self) -> Result<u8, Error> {
        if self.fd.is_some() {
            return Ok(0);
        }
        let n = create_base(&self.path)?;
        self.fd = Some(fsutil::open_dir(&self.path).map_err(|e| io_err(&self.path, e))?);
        Ok(n)
    }

    pub fn exists(&self) -> bool {
        self.fd.is_some()
    }

    pub fn join(&self, name: &Name) -> PathBuf {
        self.path.join(name.as_os_str())
    }

    /// The directory holding `name`, opened without following a symlink; `None` when it
    /// is missing, `Err(Found::Other)` when something else is there.
    fn parent(&self, name: &Name) -> Result<Option<ParentFd<'_>>, Found> {
        let Some(top) = &self.fd else {
            return Ok(None);
        };
        let (dir, _) = name.split();
        let Some(dir) = dir else {
            return Ok(Some(ParentFd::Top(top)));
        };
        match open_nofollow(top, dir) {
            Ok(fd) => Ok(Some(ParentFd::Sub(fd))),
            Err(Errno::NOENT) => Ok(None),
            Err(_) => Err(Found::Other),
        }
    }

    /// What is at `name`: files are read (bounded) and hashed, symlinks read, never followed.
    pub fn look(&self, name: &Name) -> Found {
        let parent = match self.parent(name) {
            Ok(Some(p)) => p,
            Ok(None) => return Found::Nothing,
            Err(f) => return f,
        };
        let (_, file) = name.split();
        let st = match rustix::fs::statat(parent.fd(), file, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(Errno::NOENT) => return Found::Nothing,
            Err(_) => return Found::Other,
        };
        match FileType::from_raw_mode(st.st_mode) {
            FileType::Symlink => match rustix::fs::readlinkat(parent.fd(), file, Vec::new()) {
                Ok(t) => Found::Link(t.into_bytes()),
                Err(_) => Found::Other,
            },
            FileType::Directory => Found::Dir,
            FileType::RegularFile => {
                let mut buf = Vec::new();
                match fsutil::read_regular_at(parent.fd(), file, MAX_FILE, &mut buf) {
                    Ok(_) => Found::File(Digest::of(&buf)),
                    Err(_) => Found::Other,
                }
            }
            _ => Found::Other,
        }
    }

    /// The content of `name` if it is a regular file (not a symlink).
    pub fn read(&self, name: &Name) -> Option<Vec<u8>> {
        let Ok(Some(parent)) = self.parent(name) else {
            return None;
        };
        let mut buf = Vec::new();
        fsutil::read_regular_at(parent.fd(), name.split().1, MAX_FILE, &mut buf).ok()?;
        Some(buf)
    }

    /// Whether `name` is a regular file (not a symlink) that begins with `prefix`.
    pub fn starts_with(&self, name: &Name, prefix: &[u8]) -> bool {
        self.read(name).is_some_and(|b| b.starts_with(prefix))
    }

    /// Make sure the subdirectory `dir` (one component) exists as a real directory.
    /// `Ok(true)`: created now; `Ok(false)`: it was there; `Err(None)`: something else is
    /// there (a symlink, a file): foreign.
    pub fn ensure_subdir(&self, dir: &OsStr) -> Result<bool, Option<Error>> {
        let top = self.fd.as_ref().ok_or(None)?;
        let created = fsutil::mkdir_at(top.as_fd(), dir, 0o755)
            .map_err(|e| Some(io_err(&self.path.join(dir), e)))?;
        match open_nofollow(top, dir) {
            Ok(_) => Ok(created),
            Err(_) => Err(None),
        }
    }

    /// Write `data` at `name` atomically (the parent must exist).
    pub fn write(&self, name: &Name, data: &[u8]) -> Result<(), Error> {
        let path = self.join(name);
        let parent = self.parent_for_write(name)?;
        let file = utf8(name, &path)?;
        fsutil::write_atomic_at(parent.fd(), file, data, 0o644, false).map_err(|e| io_err(&path, e))
    }

    /// Create or replace the symlink `name -> target` atomically.
    pub fn symlink(&self, name: &Name, target: &str) -> Result<(), Error> {
        let path = self.join(name);
        let parent = self.parent_for_write(name)?;
        let file = utf8(name, &path)?;
        fsutil::symlink_atomic_at(parent.fd(), file, target).map_err(|e| io_err(&path, e))
    }

    fn parent_for_write(&self, name: &Name) -> Result<ParentFd<'_>, Error> {
        let path = self.join(name);
        match self.parent(name) {
            Ok(Some(p)) => Ok(p),
            Ok(None) => Err(io_err(&path, Errno::NOENT)),
            Err(_) => Err(io_err(&path, Errno::NOTDIR)),
        }
    }

    /// Remove a file or symlink (`dir = false`) or an empty directory. Missing is fine;
    /// returns whether something was removed.
    pub fn remove(&self, name: &Name, dir: bool) -> Result<bool, Error> {
        let path = self.join(name);
        let parent = match self.parent(name) {
            Ok(Some(p)) => p,
            Ok(None) => return Ok(false),
            Err(_) => return Ok(false),
        };
        let (_, file) = name.split();
        let flags = if dir {
            AtFlags::REMOVEDIR
        } else {
            AtFlags::empty()
        };
        match rustix::fs::unlinkat(parent.fd(), file, flags) {
            Ok(()) => Ok(true),
            Err(Errno::NOENT) => Ok(false),
            Err(Errno::NOTEMPTY | Errno::EXIST | Errno::NOTDIR) if dir => Ok(false),
            Err(e) => Err(io_err(&path, e)),
        }
    }
}

fn utf8<'a>(name: &'a Name, path: &Path) -> Result<&'a str, Error> {
    let (_, file) = name.split();
    file.to_str()
        .ok_or_else(|| io_err(path, io::Error::from(io::ErrorKind::InvalidInput)))
}

enum ParentFd<'a> {
    Top(&'a OwnedFd),
    Sub(OwnedFd),
}

impl ParentFd<'_> {
    fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        match self {
            ParentFd::Top(f) => f.as_fd(),
            ParentFd::Sub(f) => f.as_fd(),
        }
    }
}

fn open_nofollow(dir: &OwnedFd, name: &OsStr) -> Result<OwnedFd, Errno> {
    use rustix::fs::{Mode, OFlags};
    rustix::fs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
}

/// `create_dir_all`, returning how many levels it created.
pub fn create_base(dir: &Path) -> Result<u8, Error> {
    let mut missing = Vec::new();
    for d in dir.ancestors() {
        if d.as_os_str().is_empty() || std::fs::symlink_metadata(d).is_ok() {
            break;
        }
        missing.push(d);
    }
    let mut n = 0u8;
    for m in missing.into_iter().rev() {
        match std::fs::create_dir(m) {
            Ok(()) => n = n.saturating_add(1),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io_err(m, e)),
        }
    }
    Ok(n.min(16))
}

/// The directories a `created BASE n` entry stands for, innermost first: the base and
/// the `n - 1` above it, never `/`, nor the home directory or one of its parents.
pub fn created_chain(base: &Path, n: u8, home: Option<&Path>) -> Vec<PathBuf> {
    base.ancestors()
        .take(usize::from(n))
        .take_while(|d| d.parent().is_some() && d.as_os_str().as_bytes() != b"/")
        .take_while(|d| !home.is_some_and(|h| h.starts_with(d)))
        .map(Path::to_owned)
        .collect()
}
