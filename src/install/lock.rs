//! One run at a time: `regenerate`, `install --user` and `uninstall --user` hold an
//! exclusive `flock` on `STATE_DIR/lock` for the whole run. A second run waits, a bounded
//! time, then gives up having changed nothing.
//!
//! The lock also keeps the record of the state directory itself: how many levels of it
//! and its parents rootlet created (`created N` in the lock file), for whoever leaves last
//! ([`Lock::release_if_last`]). That chain is made and taken away in one step each, so
//! that no kill leaves a directory of it without that record: built under a temporary
//! name beside its outermost level (the lock file and its record inside) and renamed into
//! place; renamed away to such a name before it is emptied. A temporary of a run that was
//! killed meanwhile (its process gone, nothing in it but the chain and rootlet's own
//! files) is removed by the next run that takes the lock.

use super::Error;
use rustix::fs::{FlockOperation, Mode, OFlags};
use rustix::io::Errno;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub const LOCK_FILE: &str = "lock";

/// How long a run waits for another one by default: well below the regenerate service's
/// start timeout, well above a run over thousands of units.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(120);

/// The lock, held until dropped.
#[derive(Debug)]
pub struct Lock {
    _fd: OwnedFd,
    path: PathBuf,
    /// How many directories (the state directory and its parents) taking the lock created.
    pub created: u8,
}

impl Lock {
    /// Take the lock in `state_dir` (created first when `create`), waiting at most `wait`;
    /// `on_wait` is called once if another run holds it.
    pub fn acquire(
        state_dir: &Path,
        create: bool,
        wait: Duration,
        on_wait: impl FnOnce(&Path),
    ) -> Result<Lock, Error> {
        let path = state_dir.join(LOCK_FILE);
        let io = |e: std::io::Error| Error::Io {
            path: path.clone(),
            source: e,
        };
        let mut created = if create { create_chain(state_dir)? } else { 0 };
        let start = Instant::now();
        let mut on_wait = Some(on_wait);
        loop {
            let fd = match rustix::fs::open(
                &path,
                OFlags::RDWR
                    | OFlags::CREATE
                    | OFlags::NOFOLLOW
                    | OFlags::CLOEXEC
                    | OFlags::NONBLOCK,
                Mode::from_raw_mode(0o600),
            ) {
                Ok(fd) => fd,
                // Removed by an uninstall that held the lock meanwhile.
                Err(Errno::NOENT) if create && start.elapsed() < wait => {
                    // What this run created counts, even when made again.
                    created = created.max(create_chain(state_dir)?);
                    continue;
                }
                Err(Errno::LOOP) => return Err(Error::Foreign(path)),
                Err(e) => return Err(io(e.into())),
            };
            let st = rustix::fs::fstat(&fd).map_err(|e| io(e.into()))?;
            if rustix::fs::FileType::from_raw_mode(st.st_mode) != rustix::fs::FileType::RegularFile
            {
                return Err(Error::Foreign(path));
            }
            match rustix::fs::flock(&fd, FlockOperation::NonBlockingLockExclusive) {
                Ok(()) => {
                    // Still the file at the path (not one an uninstall removed meanwhile)?
                    match rustix::fs::stat(&path) {
                        Ok(now) if now.st_ino == st.st_ino && now.st_dev == st.st_dev => {
                            let lock = Lock {
                                _fd: fd,
                                path,
                                created,
                            };
                            lock.record(created);
                            return Ok(lock);
                        }
                        _ => continue,
                    }
                }
                Err(Errno::WOULDBLOCK) => {}
                Err(e) => return Err(io(e.into())),
            }
            if let Some(f) = on_wait.take() {
                f(&path);
            }
            if start.elapsed() >= wait {
                return Err(Error::Locked {
                    path,
                    secs: wait.as_secs(),
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How many levels (the state directory and its parents) rootlet created, as the lock
    /// file records it: the lock lives as long as the state directory, whichever of
    /// rootlet's users (`install --user`, `regenerate`, `docker enable`) made it, so the
    /// last one out knows what to remove.
    fn recorded(&self) -> u8 {
        // Read through the open file, not the path (which another run may replace).
        let mut buf = [0u8; 64];
        let n = rustix::io::pread(&self._fd, &mut buf, 0).unwrap_or(0);
        std::str::from_utf8(&buf[..n])
            .ok()
            .and_then(|t| t.trim().strip_prefix("created "))
            .and_then(|n| n.parse::<u8>().ok())
            .map_or(0, |n| n.min(16))
    }

    /// Record that rootlet created `n` levels, when more than the lock file says.
    fn record(&self, n: u8) {
        if n > self.recorded() {
            let text = format!("created {n}\n");
            let _ = rustix::io::pwrite(&self._fd, text.as_bytes(), 0);
        }
    }

    /// Release, the last one out: when the state directory holds nothing but the lock,
    /// remove the lock file and the directories rootlet created (the most of the lock
    /// file's record, this run's and `also`, a manifest's `created state n`), those still
    /// empty. Otherwise keep the lock, recording `also` in it for whoever comes last.
    pub fn release_if_last(self, home: Option<&Path>, also: u8) {
        self.release_after(home, also, &[]);
    }

    /// [`Lock::release_if_last`], removing the files `last` (manifests) first. Until they
    /// go, a rerun (`uninstall --user` looks for them) finds them and finishes; after, the
    /// lock file keeps the record of the chain until the chain is renamed away (the record
    /// inside) and emptied: whatever a kill leaves, the next run that takes the lock finds
    /// recorded and removes.
    pub fn release_after(self, home: Option<&Path>, also: u8, last: &[PathBuf]) {
        let n = self.recorded().max(self.created).max(also);
        let Some(dir) = self.path.parent().map(Path::to_owned) else {
            return;
        };
        let names: Vec<&std::ffi::OsStr> = last.iter().filter_map(|p| p.file_name()).collect();
        let only_lock = std::fs::read_dir(&dir)
            .map(|rd| {
                rd.flatten().all(|e| {
                    e.file_name() == LOCK_FILE || names.contains(&e.file_name().as_os_str())
                })
            })
            .unwrap_or(false);
        // Held to the end: a run waiting for it then finds the lock file gone (renamed
        // away) and starts over, never inside what this removes.
        self.record(n);
        for l in last {
            let _ = std::fs::remove_file(l);
        }
        if !only_lock {
            return;
        }
        // The levels to remove: the state directory, then each parent rootlet created that
        // holds nothing else.
        let chain = super::tree::created_chain(&dir, n, home);
        let mut top = 0;
        while top + 1 < chain.len() && holds_only(&chain[top + 1], &chain[top]) {
            top += 1;
        }
        let lock = dir.join(LOCK_FILE);
        let (Some(outer), Some(away)) =
            (chain.get(top), chain.get(top).and_then(|o| temp_beside(o)))
        else {
            // None of it rootlet's (or no temporary name for it: not UTF-8): the lock file,
            // then the levels one by one.
            let _ = std::fs::remove_file(&lock);
            for d in &chain {
                if std::fs::remove_dir(d).is_err() {
                    break;
                }
            }
            return;
        };
        let Ok(rel) = dir.strip_prefix(outer) else {
            return;
        };
        if rename_noreplace(outer, &away).is_ok() {
            remove_state_chain(&away, rel);
        }
    }

    /// Release after a run that changed nothing: as [`Lock::release_if_last`].
    pub fn release_unused(self, home: Option<&Path>) {
        self.release_if_last(home, 0);
    }
}

/// `dir` holds nothing but `child` (a real directory).
fn holds_only(dir: &Path, child: &Path) -> bool {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return false;
    };
    let names: Vec<_> = rd.flatten().map(|e| e.file_name()).collect();
    names.len() == 1
        && child.file_name() == Some(names[0].as_os_str())
        && std::fs::symlink_metadata(child).is_ok_and(|m| m.is_dir())
}

/// `rename`, refused (`EEXIST`) when something is at `to`.
fn rename_noreplace(from: &Path, to: &Path) -> rustix::io::Result<()> {
    use rustix::fs::{renameat_with, RenameFlags, CWD};
    renameat_with(CWD, from, CWD, to, RenameFlags::NOREPLACE)
}

/// A temporary name beside `path` (`fsutil`'s `.#NAME.PID.N.tmp`).
fn temp_beside(path: &Path) -> Option<PathBuf> {
    let name = path.file_name()?.to_str()?;
    Some(path.with_file_name(crate::fsutil::temp_name(name)))
}

/// Create `state_dir` and its missing parents in one step (see the module doc); returns
/// how many levels it created.
fn create_chain(state_dir: &Path) -> Result<u8, Error> {
    sweep_chain_temporaries(state_dir);
    let missing: Vec<&Path> = state_dir
        .ancestors()
        .take_while(|d| !d.as_os_str().is_empty() && std::fs::symlink_metadata(d).is_err())
        .collect();
    let Some(&outer) = missing.last() else {
        return Ok(0);
    };
    let n = missing.len().min(16) as u8;
    let (Some(tmp), Ok(rel)) = (temp_beside(outer), state_dir.strip_prefix(outer)) else {
        return super::tree::create_base(state_dir);
    };
    if std::fs::create_dir(&tmp).is_err() {
        // Not this run's to build in (or to clean up after): made the plain way.
        return super::tree::create_base(state_dir);
    }
    let build = || -> std::io::Result<()> {
        std::fs::create_dir_all(tmp.join(rel))?;
        let dir = crate::fsutil::open_dir(&tmp.join(rel))?;
        crate::fsutil::create_new_at(
            std::os::fd::AsFd::as_fd(&dir),
            LOCK_FILE,
            format!("created {n}\n").as_bytes(),
            0o600,
        )?;
        // Never over a directory someone made meanwhile.
        Ok(rename_noreplace(&tmp, outer)?)
    };
    match build() {
        Ok(()) => Ok(n),
        Err(e) => {
            remove_state_chain(&tmp, rel);
            match e.raw_os_error() {
                // Made meanwhile (another run), or a file system without NOREPLACE.
                Some(c) if c == Errno::EXIST.raw_os_error() || c == Errno::INVAL.raw_os_error() => {
                    super::tree::create_base(state_dir)
                }
                _ => Err(Error::Io {
                    path: outer.to_owned(),
                    source: e,
                }),
            }
        }
    }
}

/// Remove the temporaries of [`create_chain`] and [`Lock::release_after`] that a killed
/// run left beside a level of `state_dir`'s chain.
fn sweep_chain_temporaries(state_dir: &Path) {
    use std::os::unix::ffi::OsStrExt;
    // Levels rootlet may have created: below the home directory (never it, nor above).
    let home = crate::env::var_abs("HOME");
    let levels = state_dir
        .ancestors()
        .take(16)
        .take_while(|l| !home.as_deref().is_some_and(|h| h.starts_with(l)));
    for level in levels {
        let (Some(parent), Some(name), Ok(rel)) = (
            level.parent(),
            level.file_name(),
            state_dir.strip_prefix(level),
        ) else {
            break;
        };
        let Ok(rd) = std::fs::read_dir(parent) else {
            continue;
        };
        let stem = crate::fsutil::temp_stem(name.as_bytes());
        for e in rd.flatten() {
            let f = e.file_name();
            if crate::fsutil::stale_temp_stem(f.as_bytes()) == Some(stem)
                && e.file_type().is_ok_and(|t| t.is_dir())
            {
                remove_state_chain(&e.path(), rel);
            }
        }
    }
}

/// Remove `top` when it is rootlet's state directory's chain under a temporary name:
/// every level down to `top/rel` holds only the next (or nothing, where a killed run had
/// not made or had already removed the rest), and `top/rel` only regular files of
/// rootlet's (the lock, manifests and their pending lists). Anything else: left alone.
fn remove_state_chain(top: &Path, rel: &Path) {
    let mut levels = vec![top.to_owned()];
    for c in rel.components() {
        let Some(cur) = levels.last() else { return };
        let next = cur.join(c);
        let Ok(mut rd) = std::fs::read_dir(cur) else {
            return;
        };
        if rd.next().is_none() {
            break; // Cut short.
        }
        if !holds_only(cur, &next) {
            return;
        }
        levels.push(next);
    }
    let Some(deepest) = levels.last() else { return };
    let Ok(rd) = std::fs::read_dir(deepest) else {
        return;
    };
    let files: Vec<_> = rd.flatten().collect();
    let ours = files.iter().all(|e| {
        let n = e.file_name();
        let n = n.to_string_lossy();
        e.file_type().is_ok_and(|t| t.is_file())
            && (n == LOCK_FILE || n.ends_with(".list") || n.ends_with(".pending"))
    });
    if !ours || (!files.is_empty() && *deepest != top.join(rel)) {
        return;
    }
    for e in files {
        let _ = std::fs::remove_file(e.path());
    }
    for d in levels.iter().rev() {
        if std::fs::remove_dir(d).is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A killed run's temporary of the state directory's chain goes at the next lock;
    /// one that holds anything else, or whose process still runs, stays.
    #[test]
    fn chain_temporaries_are_swept_only_when_provably_rootlets() {
        let tmp = tempfile::tempdir().unwrap();
        let state = tmp.path().join(".local/share/rootlet");
        let dead = |tag: &str| tmp.path().join(format!(".#.local.2147483000.{tag}.tmp"));
        // Killed while building the chain, and while taking it away (a list inside).
        std::fs::create_dir_all(dead("0").join("share/rootlet")).unwrap();
        std::fs::write(dead("0").join("share/rootlet/lock"), "created 3\n").unwrap();
        std::fs::create_dir_all(dead("1").join("share/rootlet")).unwrap();
        std::fs::write(dead("1").join("share/rootlet/generated.list"), "").unwrap();
        std::fs::create_dir_all(dead("2").join("share")).unwrap();
        // Not rootlet's: a file of the user's inside, another directory beside the chain,
        // a process that still runs.
        std::fs::create_dir_all(dead("3").join("share/rootlet")).unwrap();
        std::fs::write(dead("3").join("share/rootlet/notes.txt"), "mine").unwrap();
        std::fs::create_dir_all(dead("4").join("share/rootlet")).unwrap();
        std::fs::create_dir_all(dead("4").join("bin")).unwrap();
        let alive = tmp
            .path()
            .join(format!(".#.local.{}.0.tmp", std::process::id()));
        std::fs::create_dir_all(alive.join("share/rootlet")).unwrap();

        let lock = Lock::acquire(&state, true, Duration::from_secs(30), |_| {}).unwrap();
        assert_eq!(lock.created, 3);
        for gone in ["0", "1", "2"] {
            assert!(!dead(gone).exists(), "{gone}");
        }
        for kept in ["3", "4"] {
            assert!(dead(kept).exists(), "{kept}");
        }
        assert!(alive.exists());
        // The last one out takes the chain away, and only it.
        lock.release_if_last(Some(tmp.path()), 0);
        assert!(!tmp.path().join(".local").exists());
        assert!(dead("3").join("share/rootlet/notes.txt").is_file());
    }
}
