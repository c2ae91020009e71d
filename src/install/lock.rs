//! One run at a time: `regenerate`, `install --user` and `uninstall --user` hold an
//! exclusive `flock` on `STATE_DIR/lock` for the whole run. A second run waits, a bounded
//! time, then gives up having changed nothing.

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
        let mut created = if create {
            super::tree::create_base(state_dir)?
        } else {
            0
        };
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
                    created = created.max(super::tree::create_base(state_dir)?);
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

    /// [`Lock::release_if_last`], removing the files `last` (manifests) first, after the
    /// lock file: until the last of them goes, a rerun (`uninstall --user` looks for the
    /// manifests) finds them and finishes; only the removal of empty directories follows.
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
        if only_lock {
            let _ = std::fs::remove_file(&self.path);
        } else {
            self.record(n);
        }
        drop(self);
        for l in last {
            let _ = std::fs::remove_file(l);
        }
        if !only_lock {
            return;
        }
        for d in super::tree::created_chain(&dir, n, home) {
            if std::fs::remove_dir(d).is_err() {
                break;
            }
        }
    }

    /// Release after a run that changed nothing: as [`Lock::release_if_last`].
    pub fn release_unused(self, home: Option<&Path>) {
        self.release_if_last(home, 0);
    }
}
