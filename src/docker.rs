//! `rootlet docker`: the rootless Docker daemon's user unit made to wait for the network.
//!
//! `dockerd-rootless-setuptool.sh install` writes `~/.config/systemd/user/docker.service`.
//! At linger boot that unit starts before the system's network is online; rootlesskit's
//! pasta then fails ("External interface not usable") and systemd gives up after three
//! quick restarts. `enable` adds a drop-in that orders the daemon after
//! `rootlet-wait-online.service` and spaces its restarts, keeping everything of the unit
//! itself (its `ExecStart=` and flags, `Restart=`, `Type=`); `--exec` instead runs the
//! daemon through `rootlet-wait-online -- ...`, built from the unit's real `ExecStart=`.
//!
//! Ownership: every file `enable` writes is also kept, as written, in rootlet's state
//! directory. `disable` removes a file only while it is still exactly that; anything else
//! at those paths is the user's and is left alone.

use crate::env::{UserEnv, SYSTEM_USER_UNIT_DIRS, WAIT_UNIT};
use crate::exec;
use crate::fsutil;
use crate::install::shared::{self, User};
use std::io;
use std::path::{Path, PathBuf};
use thiserror::Error;

mod daemon;
use daemon::split_exec;
pub use daemon::{find, find_in, DaemonUnit};

/// The drop-in `enable` writes into `UNIT.d/`. After the setup tool's own files (none use
/// a number) and before `override.conf`, so a user's `systemctl --user edit` still wins.
pub const DROPIN: &str = "50-rootlet.conf";

/// First line of every file rootlet writes here: says who wrote it and how to undo it.
const HEADER: &str = "# Written by `rootlet docker enable`; `rootlet docker disable` removes it.\n";

/// The largest unit file read: real ones are a few hundred bytes.
const MAX_UNIT: u64 = 1024 * 1024;

#[derive(Debug, Error)]
pub enum DockerError {
    #[error("no {unit} in the user unit directories ({searched}): run `dockerd-rootless-setuptool.sh install` first")]
    NotFound { unit: String, searched: String },
    #[error("{}: {message}", path.display())]
    Unit { path: PathBuf, message: String },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{}: not written by rootlet (or changed since): left alone; remove it yourself, or move it away, then run this again", path.display())]
    Foreign { path: PathBuf },
    #[error("HOME is not set to an absolute path")]
    NoHome,
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Install(#[from] crate::install::Error),
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> DockerError + '_ {
    move |source| DockerError::Io {
        path: path.to_owned(),
        source,
    }
}

/// What `enable` writes as the drop-in.
pub fn dropin_text(
    unit: &DaemonUnit,
    bindir: &Path,
    exec_form: bool,
) -> Result<String, DockerError> {
    let mut s = String::from(HEADER);
    s.push_str(
        "# The daemon starts once the system's network is online (or a default route is up where\n\
         # nothing pulls network-online.target in): rootlesskit's network driver needs an\n\
         # external interface when it starts. Restarts are spaced out so that a late network,\n\
         # a slow registry or a slow disk is ridden out instead of systemd giving up.\n",
    );
    s.push_str(&format!(
        "[Unit]\nWants={WAIT_UNIT}\nAfter={WAIT_UNIT}\n\n[Service]\nRestartSec=10\n"
    ));
    if exec_form {
        let [line] = unit.exec_start.as_slice() else {
            return Err(DockerError::Unit {
                path: unit.fragment.clone(),
                message: format!(
                    "--exec needs exactly one ExecStart= in effect, found {}",
                    unit.exec_start.len()
                ),
            });
        };
        let (prefix, program, rest) = split_exec(line).ok_or_else(|| DockerError::Unit {
            path: unit.fragment.clone(),
            message: format!("cannot read ExecStart={line}"),
        })?;
        if prefix.contains('@') {
            return Err(DockerError::Unit {
                path: unit.fragment.clone(),
                message: "--exec cannot wrap an ExecStart= with the @ prefix".into(),
            });
        }
        let helper = bindir.join("rootlet-wait-online");
        let helper = helper
            .to_str()
            .ok_or_else(|| DockerError::Usage("the bindir is not UTF-8".into()))?;
        let helper = crate::install::layout::exec_program_word(helper)?;
        s.push_str(
            "# The wait runs in the daemon's own process, which then execs the daemon: same pid,\n\
             # NOTIFY_SOCKET and sockets passed on, and the journal keeps the daemon's name.\n",
        );
        s.push_str("ExecStart=\n");
        s.push_str(&format!(
            "ExecStart={prefix}{helper} -- {}{rest}\n",
            exec::quote_word(&program)
        ));
        if unit.syslog_identifier.is_none() {
            let base = Path::new(&program)
                .file_name()
                .map(|b| b.to_string_lossy().into_owned())
                .unwrap_or(program.clone());
            s.push_str(&format!("SyslogIdentifier={}\n", base.replace('%', "%%")));
        }
        if !unit.start_timeout_set {
            // The wait (up to its own 90 s) now counts against the start timeout, whose
            // default is 90 s; a timeout the unit sets itself is kept.
            s.push_str("TimeoutStartSec=180s\n");
        }
    }
    Ok(s)
}

/// Where `enable` writes, and where it keeps copies of what it wrote: one record
/// directory per unit (`STATE/docker/UNIT/`, [`crate::install::shared::docker_record`]),
/// so that `enable --unit A` and `--unit B` never share a record.
#[derive(Debug, Clone)]
pub struct Paths {
    pub unit: String,
    pub unit_dir: PathBuf,
    pub dropin_dir: PathBuf,
    /// rootlet's state directory (`$XDG_DATA_HOME/rootlet`): the lock shared with
    /// `install --user`, which shares the wait unit.
    pub state_dir: PathBuf,
    /// This unit's record directory.
    pub record: PathBuf,
}

impl Paths {
    pub fn new(env: &UserEnv, unit: &str) -> Result<Paths, DockerError> {
        let config = env.config_dir().ok_or(DockerError::NoHome)?;
        let data = env.data_dir().ok_or(DockerError::NoHome)?;
        let unit_dir = config.join("systemd/user");
        let state_dir = data.join("rootlet");
        Ok(Paths {
            unit: unit.to_owned(),
            dropin_dir: unit_dir.join(format!("{unit}.d")),
            unit_dir,
            record: shared::docker_record(&state_dir, unit),
            state_dir,
        })
    }

    fn copy_of(&self, name: &str) -> PathBuf {
        shared::copy_in(&self.record, name)
    }

    /// Where the first record layout (one for every unit) kept the copy of `name`.
    fn legacy_copy_of(&self, name: &str) -> PathBuf {
        shared::copy_in(&self.state_dir.join("docker"), name)
    }

    /// Take over the records of the first layout when they are this unit's: the drop-in
    /// copy is exactly this unit's drop-in (then the wait unit's copy and the directory
    /// marker beside it came with it), or only a wait unit's copy is left.
    fn adopt_legacy(&self) -> Result<(), DockerError> {
        let dropin = self.legacy_copy_of(DROPIN);
        let mine = match read_small(&dropin) {
            Some(c) => is_exactly(&self.dropin_dir.join(DROPIN), &c),
            None => self.legacy_copy_of(WAIT_UNIT).is_file(),
        };
        if !mine {
            return Ok(());
        }
        std::fs::create_dir_all(&self.record).map_err(io_err(&self.record))?;
        for name in [DROPIN, WAIT_UNIT, DIR_MARKER] {
            let from = self.legacy_copy_of(name);
            if from.is_file() && !self.copy_of(name).exists() {
                std::fs::rename(&from, self.copy_of(name)).map_err(io_err(&from))?;
            }
        }
        Ok(())
    }

    /// Remove the temporaries a killed `enable` left (`fsutil`'s `.#NAME.PID.N.tmp`, its
    /// process gone): in the record directory any (rootlet's own directory); at the
    /// drop-in and the wait unit only one that is empty or holds exactly this unit's copy
    /// (the copy is written first, so it is what the temporary was to become).
    fn sweep(&self) {
        fsutil::sweep_stale_temporaries(&self.record, |stem, _| stem.ends_with(b".written"));
        for (dir, name) in [(&self.dropin_dir, DROPIN), (&self.unit_dir, WAIT_UNIT)] {
            let copy = read_small(&self.copy_of(name));
            fsutil::sweep_stale_temporaries(dir, |stem, text| {
                stem == name.as_bytes() && (text.is_empty() || copy.as_deref() == Some(text))
            });
        }
    }

    /// After `disable`: the record directory and `docker/` when empty, then the state
    /// directory and the parents rootlet created when nothing else is left in it.
    fn release(&self, lock: crate::install::Lock, env: &UserEnv) {
        let _ = std::fs::remove_dir(&self.record);
        let _ = std::fs::remove_dir(self.state_dir.join("docker"));
        lock.release_if_last(env.home.as_deref(), 0);
    }
}

/// The marker of a drop-in directory `enable` created (removed by `disable` when empty).
const DIR_MARKER: &str = "dropin-dir-created";

/// What happened to one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Written(PathBuf),
    Unchanged(PathBuf),
    Removed(PathBuf),
    /// Not ours (or changed since we wrote it): left alone.
    LeftAlone(PathBuf),
}

/// A regular file rootlet may have written (a drop-in, a state copy), read bounded and
/// non-blocking (`fsutil::read_regular`): a FIFO or a symlink to `/dev/zero` put there
/// is `None`, never a hang or an endless read.
fn read_small(path: &Path) -> Option<Vec<u8>> {
    let mut buf = Vec::new();
    fsutil::read_regular(path, MAX_UNIT, &mut buf).ok()?;
    Some(buf)
}

/// True when `path` is a regular file (not a symlink) whose content is `text`.
fn is_exactly(path: &Path, text: &[u8]) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_file())
        && read_small(path).is_some_and(|c| c == text)
}

/// Whether a file at `path` may be (over)written by rootlet: absent, already exactly
/// `text`, or exactly what rootlet wrote before (its copy in the state directory).
fn ours_or_absent(path: &Path, copy: &Path, text: &[u8]) -> bool {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => true,
        Err(_) => false,
        Ok(m) if !m.file_type().is_file() => false,
        Ok(_) => is_exactly(path, text) || read_small(copy).is_some_and(|c| is_exactly(path, &c)),
    }
}

/// Write `text` at `path` (rootlet's, per the rules above) and keep its copy.
fn put(path: &Path, copy: &Path, text: &str) -> Result<Change, DockerError> {
    if is_exactly(path, text.as_bytes()) {
        fsutil::write_atomic(copy, text.as_bytes(), 0o644, true).map_err(io_err(copy))?;
        return Ok(Change::Unchanged(path.to_owned()));
    }
    if !ours_or_absent(path, copy, text.as_bytes()) {
        return Err(DockerError::Foreign {
            path: path.to_owned(),
        });
    }
    // The copy first: a run killed between the two writes leaves a copy of a file that
    // is not there, which a later run simply writes; never a file without its copy.
    fsutil::write_atomic(copy, text.as_bytes(), 0o644, true).map_err(io_err(copy))?;
    fsutil::write_atomic(path, text.as_bytes(), 0o644, true).map_err(io_err(path))?;
    Ok(Change::Written(path.to_owned()))
}

/// Remove `path` if it is still exactly what rootlet wrote; drop the copy either way.
fn take_back(path: &Path, copy: &Path) -> Result<Option<Change>, DockerError> {
    let Some(written) = read_small(copy) else {
        return Ok(None);
    };
    let change = if is_exactly(path, &written) {
        std::fs::remove_file(path).map_err(io_err(path))?;
        Some(Change::Removed(path.to_owned()))
    } else if std::fs::symlink_metadata(path).is_ok() {
        Some(Change::LeftAlone(path.to_owned()))
    } else {
        None
    };
    std::fs::remove_file(copy).map_err(io_err(copy))?;
    Ok(change)
}

/// A system-wide copy of the wait unit, if one exists (packages, `make install`).
pub fn system_wait_unit() -> Option<PathBuf> {
    SYSTEM_USER_UNIT_DIRS
        .iter()
        .map(|d| Path::new(d).join(WAIT_UNIT))
        .find(|p| p.exists())
}

/// The wait unit rootlet ships, for the user's own unit directory: exactly what
/// `rootlet install --user` writes there.
pub fn wait_unit_text(bindir: &Path) -> Result<String, DockerError> {
    Ok(crate::install::layout::wait_unit_for(bindir)?)
}

/// One run at a time, and one lock for every user of the shared wait unit: the lock of
/// rootlet's state directory, which `install --user`, `uninstall --user` and `regenerate`
/// take. A second run waits, a bounded time, after `on_wait(lock file)`.
fn lock(paths: &Paths, on_wait: fn(&Path)) -> Result<crate::install::Lock, DockerError> {
    Ok(crate::install::Lock::acquire(
        &paths.state_dir,
        true,
        crate::install::lock::DEFAULT_WAIT,
        on_wait,
    )?)
}

/// `rootlet docker enable`: the drop-in, and the wait unit when no system-wide copy exists.
/// `on_wait` is called when another run holds the lock.
pub fn enable(
    env: &UserEnv,
    unit: &DaemonUnit,
    bindir: &Path,
    exec_form: bool,
    on_wait: fn(&Path),
) -> Result<Vec<Change>, DockerError> {
    let paths = Paths::new(env, &unit.name)?;
    let lock = lock(&paths, on_wait)?;
    let r = enable_locked(&paths, unit, bindir, exec_form);
    if r.is_err() {
        // Nothing of this run stays (the record directory only when empty).
        paths.release(lock, env);
    }
    r
}

fn enable_locked(
    paths: &Paths,
    unit: &DaemonUnit,
    bindir: &Path,
    exec_form: bool,
) -> Result<Vec<Change>, DockerError> {
    paths.adopt_legacy()?;
    paths.sweep();
    let text = dropin_text(unit, bindir, exec_form)?;
    let dropin = paths.dropin_dir.join(DROPIN);
    // Refuse before writing anything: a foreign drop-in means nothing of this run lands.
    if !ours_or_absent(&dropin, &paths.copy_of(DROPIN), text.as_bytes()) {
        return Err(DockerError::Foreign { path: dropin });
    }
    std::fs::create_dir_all(&paths.record).map_err(io_err(&paths.record))?;
    let mut changes = Vec::new();
    let wait_path = paths.unit_dir.join(WAIT_UNIT);
    let wait_copy = paths.copy_of(WAIT_UNIT);
    if system_wait_unit().is_none() {
        let text = wait_unit_text(bindir)?;
        if is_exactly(&wait_path, text.as_bytes()) && !wait_copy.exists() {
            // There and right, and not this unit's yet: claimed too when another user
            // claims it (shared, see `install::shared`); otherwise the user's own, used
            // as it is and never claimed.
            let others = shared::wait_unit_claims(&paths.state_dir, User::Docker(&paths.unit));
            if !others.is_empty() {
                fsutil::write_atomic(&wait_copy, text.as_bytes(), 0o644, true)
                    .map_err(io_err(&wait_copy))?;
            }
            changes.push(Change::Unchanged(wait_path.clone()));
        } else {
            std::fs::create_dir_all(&paths.unit_dir).map_err(io_err(&paths.unit_dir))?;
            changes.push(put(&wait_path, &wait_copy, &text)?);
        }
    } else if let Some(c) = take_back(&wait_path, &wait_copy)? {
        // A packaged copy appeared: ours would shadow it (and every user's Wants= is
        // met by the packaged one).
        changes.push(c);
    }
    if !paths.dropin_dir.exists() {
        // The marker first: a kill between the two leaves a marker of a directory that
        // is not there (harmless), never a directory nobody removes.
        let marker = paths.copy_of(DIR_MARKER);
        fsutil::write_atomic(&marker, b"", 0o644, true).map_err(io_err(&marker))?;
        std::fs::create_dir_all(&paths.dropin_dir).map_err(io_err(&paths.dropin_dir))?;
    }
    changes.push(put(&dropin, &paths.copy_of(DROPIN), &text)?);
    Ok(changes)
}

/// `rootlet docker disable`: exactly what `enable` wrote for this unit, and nothing else.
/// The wait unit stays while another user (`install --user`, another unit's `enable`)
/// claims it. `on_wait` is called when another run holds the lock.
pub fn disable(
    env: &UserEnv,
    unit_name: &str,
    on_wait: fn(&Path),
) -> Result<Vec<Change>, DockerError> {
    let paths = Paths::new(env, unit_name)?;
    let lock = lock(&paths, on_wait)?;
    let r = disable_locked(&paths);
    paths.release(lock, env);
    r
}

fn disable_locked(paths: &Paths) -> Result<Vec<Change>, DockerError> {
    paths.adopt_legacy()?;
    paths.sweep();
    let mut changes = Vec::new();
    changes.extend(take_back(
        &paths.dropin_dir.join(DROPIN),
        &paths.copy_of(DROPIN),
    )?);
    let wait_copy = paths.copy_of(WAIT_UNIT);
    let others = shared::wait_unit_claims(&paths.state_dir, User::Docker(&paths.unit));
    if system_wait_unit().is_none() && !others.is_empty() {
        // Still wanted by another user: only this unit's claim goes.
        match std::fs::remove_file(&wait_copy) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(io_err(&wait_copy)(e)),
            _ => {}
        }
    } else {
        changes.extend(take_back(&paths.unit_dir.join(WAIT_UNIT), &wait_copy)?);
    }
    let marker = paths.copy_of(DIR_MARKER);
    if marker.exists() {
        // Only when empty: anything the user put there stays, and so does the directory.
        let _ = std::fs::remove_dir(&paths.dropin_dir);
        std::fs::remove_file(&marker).map_err(io_err(&marker))?;
    }
    Ok(changes)
}

/// What `status` reports.
#[derive(Debug, Clone)]
pub struct Status {
    pub unit: Result<DaemonUnit, String>,
    /// The drop-in: `None` absent, `Some(true)` rootlet's as written, `Some(false)` changed.
    pub dropin: Option<bool>,
    pub exec_form: bool,
    pub wait_unit: Option<PathBuf>,
}

pub fn status(env: &UserEnv, unit_name: &str) -> Result<Status, DockerError> {
    let paths = Paths::new(env, unit_name)?;
    let path = paths.dropin_dir.join(DROPIN);
    let text = read_small(&path);
    let copy = [paths.copy_of(DROPIN), paths.legacy_copy_of(DROPIN)]
        .iter()
        .find_map(|c| read_small(c));
    // Something that cannot be read there (a FIFO, a device) is not rootlet's drop-in.
    let dropin = match &text {
        Some(text) => Some(copy.is_some_and(|c| &c == text)),
        None => std::fs::symlink_metadata(&path).is_ok().then_some(false),
    };
    let exec_form = text.is_some_and(|t| {
        String::from_utf8_lossy(&t)
            .lines()
            .any(|l| l.contains("rootlet-wait-online") && l.starts_with("ExecStart="))
    });
    let wait_unit = env
        .unit_search_path(|d| PathBuf::from(d))
        .into_iter()
        .map(|d| d.join(WAIT_UNIT))
        .find(|p| p.exists());
    Ok(Status {
        unit: find(env, unit_name).map_err(|e| e.to_string()),
        dropin,
        exec_form,
        wait_unit,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_split_keeps_the_rest_as_written() {
        let (p, prog, rest) =
            split_exec("/usr/share/docker.io/contrib/dockerd-rootless.sh --experimental $X")
                .unwrap();
        assert_eq!(p, "");
        assert_eq!(prog, "/usr/share/docker.io/contrib/dockerd-rootless.sh");
        assert_eq!(rest, " --experimental $X");
        let (p, prog, rest) = split_exec("-\"/home/a b/bin/dockerd-rootless.sh\" --x").unwrap();
        assert_eq!(p, "-");
        assert_eq!(prog, "/home/a b/bin/dockerd-rootless.sh");
        assert_eq!(rest, " --x");
        let (_, prog, rest) = split_exec("/bin/d").unwrap();
        assert_eq!(prog, "/bin/d");
        assert_eq!(rest, "");
    }
}
