//! Where the user's sources are and where the day-2 commands write ([`Places`]): the
//! search path, the user's own roots (the only ones `rm` removes from), the one way a file
//! in them is reached without going through a symlink ([`Places::open_own`]), the state
//! directory's lock, and the no-root install's regeneration after a change.

use super::{Apps, ManageError};
use crate::env::UserEnv;
use crate::search::{self, Discovery, Root};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

/// Where the user's sources are and where the day-2 commands write.
#[derive(Debug, Clone)]
pub struct Places {
    pub env: UserEnv,
    /// The whole search path, as the generator reads it.
    pub roots: Vec<Root>,
    /// Where `add` writes: `$XDG_CONFIG_HOME/containers/systemd` (the first root when the
    /// unit-dirs variable replaces the search path).
    pub install_dir: PathBuf,
    /// The record of applications.
    pub apps_file: Option<PathBuf>,
    /// Called with the lock file when [`Places::lock`] has to wait for another run: the
    /// binary says so (the library prints nothing). Does nothing by default.
    pub on_lock_wait: fn(&Path),
}

impl Places {
    pub fn new(env: UserEnv) -> Result<Places, ManageError> {
        let roots = env.search_roots();
        let install_dir = if env.unit_dirs.is_some() {
            roots.first().map(|r| r.path.clone())
        } else {
            env.config_dir().map(|c| c.join("containers/systemd"))
        }
        .ok_or(ManageError::NoConfigDir)?;
        let apps_file = env.data_dir().map(|d| d.join("rootlet/apps"));
        Ok(Places {
            env,
            roots,
            install_dir,
            apps_file,
            on_lock_wait: |_| {},
        })
    }

    pub fn from_process() -> Result<Places, ManageError> {
        Places::new(UserEnv::from_process())
    }

    /// The roots that are the user's own (not shared with other users, not under /etc or
    /// /usr): the only places `rm` removes from.
    pub fn own_roots(&self) -> Vec<&Path> {
        self.roots
            .iter()
            .filter(|r| r.trusted_uid.is_none())
            .map(|r| r.path.as_path())
            .filter(|p| {
                // A root that is itself a link into /etc or /usr is not the user's either.
                let real = std::fs::canonicalize(p);
                let real = real.as_deref().unwrap_or(p);
                [*p, real]
                    .iter()
                    .all(|p| !p.starts_with("/etc") && !p.starts_with("/usr"))
            })
            .collect()
    }

    /// Whether `path` (as found on the search path) is in one of the user's own roots.
    pub fn is_own(&self, path: &Path) -> bool {
        self.own_roots().iter().any(|r| path.starts_with(r))
    }

    /// The directory holding `path`, opened, and the file's name in it: the one way every
    /// delete, rename and write of the day-2 commands reaches a file in the user's
    /// directories. The own root `path` lies in is opened as it is (the user may have made
    /// it a link); every directory below it is opened with `O_NOFOLLOW`, so a symlinked
    /// subdirectory (`system -> /etc/containers/systemd`) is never gone through. The
    /// caller then acts relative to the directory (`unlinkat`, `renameat`), which never
    /// follows the last component either.
    pub fn open_own(&self, path: &Path) -> Result<(OwnedFd, String), ManageError> {
        use std::path::Component;
        let root = self
            .own_roots()
            .into_iter()
            .filter(|r| path.starts_with(r))
            .max_by_key(|r| r.as_os_str().len())
            .ok_or_else(|| ManageError::NotRemovable {
                path: path.to_owned(),
                own: self.own_text(),
            })?;
        let rel = path.strip_prefix(root).unwrap_or(path);
        let mut parts = Vec::new();
        for c in rel.components() {
            match c.as_os_str().to_str() {
                Some(n) if matches!(c, Component::Normal(_)) => parts.push(n),
                _ => {
                    return Err(ManageError::NotRemovable {
                        path: path.to_owned(),
                        own: self.own_text(),
                    })
                }
            }
        }
        let Some(name) = parts.pop() else {
            return Err(ManageError::BadInput(format!(
                "{}: a directory of the search path, not a file",
                path.display()
            )));
        };
        let mut dir = crate::fsutil::open_dir(root).map_err(|e| ManageError::io(root, e))?;
        let mut at = root.to_owned();
        for p in parts {
            at.push(p);
            dir = crate::fsutil::open_subdir_nofollow(dir.as_fd(), p).map_err(|e| {
                // ELOOP: a symlink; ENOTDIR: a symlink to something else, or a file.
                let link = std::fs::symlink_metadata(&at).is_ok_and(|m| m.file_type().is_symlink());
                if link {
                    ManageError::ThroughSymlink {
                        path: path.to_owned(),
                        link: at.clone(),
                    }
                } else {
                    ManageError::io(&at, e)
                }
            })?;
        }
        Ok((dir, name.to_owned()))
    }

    /// The own roots, for messages.
    pub fn own_text(&self) -> String {
        let own: Vec<String> = self
            .own_roots()
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        own.join(" and ")
    }

    pub fn discover(&self) -> Discovery {
        search::discover(&self.roots)
    }

    pub fn apps(&self) -> Result<Apps, ManageError> {
        match &self.apps_file {
            Some(p) => Apps::load(p),
            None => Ok(Apps::default()),
        }
    }

    /// The lock of rootlet's state directory (the one `install --user` and `regenerate`
    /// take), held while the applications file is read, changed and written, so that two
    /// `add`/`rm` at once lose no update. Held briefly: never while units start or stop.
    pub fn lock(&self) -> Result<Option<crate::install::Lock>, ManageError> {
        let Some(dir) = self.apps_file.as_deref().and_then(Path::parent) else {
            return Ok(None);
        };
        crate::install::Lock::acquire(
            dir,
            true,
            crate::install::lock::DEFAULT_WAIT,
            self.on_lock_wait,
        )
        .map(Some)
        .map_err(ManageError::from)
    }
}

impl Places {
    /// Under the no-root install (`install --user`: its manifest is in the state
    /// directory), generate the units now, holding `lock`, instead of leaving it to the path
    /// unit's `rootlet regenerate`, which runs some time later: a reload and a start that
    /// follow `add` or `rm` then see the units as they are. `None` without that install;
    /// else a line saying what was done, or why it could not be (the files are in place
    /// then, and the path unit's run comes later as before).
    pub fn regenerate_user_install(&self, lock: &crate::install::Lock) -> Option<String> {
        let layout = crate::install::Layout::new(&self.env, None).ok()?;
        if std::fs::symlink_metadata(layout.installed_list()).is_err()
            || lock.path().parent() != Some(layout.state_dir.as_path())
        {
            return None;
        }
        let out = &layout.output_dir;
        Some(
            match crate::install::regenerate::from_sources(&layout, out, lock) {
                Ok(o) => format!(
                    "units generated into {} (the no-root install): {} written, {} removed",
                    out.display(),
                    o.regenerated.written.len(),
                    o.regenerated.removed.len()
                ),
                Err(e) => format!(
                    "generating the units into {} failed ({e}): the path unit's \
                     `rootlet regenerate` will try again",
                    out.display()
                ),
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_users_own_roots_are_removable() {
        let env = UserEnv {
            uid: 7,
            home: Some("/home/u".into()),
            runtime_dir: Some("/run/user/7".into()),
            ..UserEnv::default()
        };
        let p = Places::new(env.clone()).unwrap();
        assert_eq!(
            p.install_dir,
            PathBuf::from("/home/u/.config/containers/systemd")
        );
        assert!(p.is_own(Path::new(
            "/home/u/.config/containers/systemd/a/web.container"
        )));
        assert!(p.is_own(Path::new("/run/user/7/containers/systemd/web.container")));
        assert!(!p.is_own(Path::new("/etc/containers/systemd/users/7/web.container")));
        assert!(!p.is_own(Path::new(
            "/usr/share/containers/systemd/users/web.container"
        )));
        assert!(!p.is_own(Path::new(
            "/home/u/.config/containers/systemdx/web.container"
        )));
        let p = Places::new(UserEnv {
            unit_dirs: Some("/srv/q:/etc/q".into()),
            ..env
        })
        .unwrap();
        assert_eq!(p.install_dir, PathBuf::from("/srv/q"));
        assert!(p.is_own(Path::new("/srv/q/a.container")));
        assert!(!p.is_own(Path::new("/etc/q/a.container")));
        assert!(matches!(
            Places::new(UserEnv::default()),
            Err(ManageError::NoConfigDir)
        ));
        // A root that is a link to /etc is not the user's own.
        let d = std::env::temp_dir().join(format!("rootlet-own-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        std::os::unix::fs::symlink("/etc", d.join("q")).unwrap();
        let p = Places::new(UserEnv {
            unit_dirs: Some(format!("{}", d.join("q").display())),
            ..UserEnv::default()
        })
        .unwrap();
        assert!(!p.is_own(&d.join("q/a.container")));
        std::fs::remove_dir_all(&d).unwrap();
    }
}
