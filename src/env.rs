//! The user's environment and systemd's paths, read in one place.
//!
//! The generator, `rootlet install --user`/`regenerate` and `rootlet doctor` all decide
//! where things are from the same variables (`HOME`, `XDG_*`, `ROOTLET_UNIT_DIRS`,
//! `PODMAN`, ...). They read them here, so that the three can never disagree about where
//! sources are found or where units go.

use crate::search::Root;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The unit every generated service wants and is ordered after.
pub const WAIT_UNIT: &str = "rootlet-wait-online.service";

/// podman in generated command lines when `PODMAN` is not set to an absolute path.
pub const DEFAULT_PODMAN: &str = "/usr/bin/podman";

/// System-wide directories of user units in systemd's user unit search path
/// (`systemd-analyze --user unit-paths` on systemd 252), highest precedence first: where
/// packages and `make install` put `rootlet-wait-online.service`.
pub const SYSTEM_USER_UNIT_DIRS: &[&str] = &[
    "/etc/xdg/systemd/user",
    "/etc/systemd/user",
    "/run/systemd/user",
    "/usr/local/share/systemd/user",
    "/usr/share/systemd/user",
    "/usr/local/lib/systemd/user",
    "/usr/lib/systemd/user",
];

/// Directories the user manager runs user generators from (`systemd.generator(7)`),
/// most important first.
pub const USER_GENERATOR_DIRS: &[&str] = &[
    "/run/systemd/user-generators",
    "/etc/systemd/user-generators",
    "/usr/local/lib/systemd/user-generators",
    "/usr/lib/systemd/user-generators",
];

/// The facts about the user that decide where sources, defaults and units are.
#[derive(Debug, Clone, Default)]
pub struct UserEnv {
    pub uid: u32,
    /// `HOME`, when absolute.
    pub home: Option<PathBuf>,
    /// `XDG_RUNTIME_DIR` exactly as set (a relative value is kept, for doctor to report;
    /// [`UserEnv::runtime`] gives only a usable one).
    pub runtime_dir: Option<PathBuf>,
    /// `XDG_CONFIG_HOME`, when absolute.
    pub config_home: Option<PathBuf>,
    /// `XDG_DATA_HOME`, when absolute.
    pub data_home: Option<PathBuf>,
    /// `PATH`, as set.
    pub path: Option<OsString>,
    /// `ROOTLET_UNIT_DIRS`, else quadlet's `QUADLET_UNIT_DIRS`: replaces the whole source
    /// search path (tools and scripts written for quadlet set the latter).
    pub unit_dirs: Option<String>,
    /// `PODMAN`, when absolute.
    pub podman: Option<String>,
}

/// An environment variable holding an absolute path; anything else counts as unset
/// (the XDG base directory specification says relative values are invalid).
pub fn var_abs(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
}

impl UserEnv {
    /// From the process environment.
    pub fn from_process() -> UserEnv {
        let var = |n: &str| std::env::var(n).ok().filter(|v| !v.is_empty());
        UserEnv {
            uid: rustix::process::getuid().as_raw(),
            home: var_abs("HOME"),
            runtime_dir: std::env::var_os("XDG_RUNTIME_DIR")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
            config_home: var_abs("XDG_CONFIG_HOME"),
            data_home: var_abs("XDG_DATA_HOME"),
            path: std::env::var_os("PATH"),
            unit_dirs: var("ROOTLET_UNIT_DIRS").or_else(|| var("QUADLET_UNIT_DIRS")),
            podman: var("PODMAN").filter(|p| p.starts_with('/')),
        }
    }

    /// The runtime directory if it is usable as one (absolute).
    pub fn runtime(&self) -> Option<&Path> {
        self.runtime_dir.as_deref().filter(|p| p.is_absolute())
    }

    /// `$XDG_CONFIG_HOME` or `~/.config`.
    pub fn config_dir(&self) -> Option<PathBuf> {
        self.config_home
            .clone()
            .or_else(|| self.home.as_ref().map(|h| h.join(".config")))
    }

    /// `$XDG_DATA_HOME` or `~/.local/share`.
    pub fn data_dir(&self) -> Option<PathBuf> {
        self.data_home
            .clone()
            .or_else(|| self.home.as_ref().map(|h| h.join(".local/share")))
    }

    /// The defaults file: `$XDG_CONFIG_HOME/rootlet/defaults.conf`.
    pub fn defaults_file(&self) -> Option<PathBuf> {
        self.config_dir().map(|d| d.join("rootlet/defaults.conf"))
    }

    /// podman in generated command lines.
    pub fn podman(&self) -> &str {
        self.podman.as_deref().unwrap_or(DEFAULT_PODMAN)
    }

    /// The source search roots, most important first (the first file of a name wins):
    /// quadlet's user search path, or the unit-dirs variable's list.
    pub fn search_roots(&self) -> Vec<Root> {
        if let Some(list) = &self.unit_dirs {
            return list
                .split(':')
                .filter(|p| p.starts_with('/'))
                .map(|p| Root::new(PathBuf::from(p)))
                .collect();
        }
        let mut v = Vec::new();
        if let Some(r) = self.runtime() {
            v.push(Root::new(r.join("containers/systemd")));
        }
        if let Some(c) = self.config_dir() {
            v.push(Root::new(c.join("containers/systemd")));
        }
        let uid = self.uid.to_string();
        for base in [
            "/etc/containers/systemd/users",
            "/usr/share/containers/systemd/users",
        ] {
            // Numeric subdirectories belong to other users; ours is added after.
            v.push(Root::shared(PathBuf::from(base), self.uid, true));
            v.push(Root::shared(Path::new(base).join(&uid), self.uid, false));
        }
        v
    }

    /// systemd's user unit search path, highest precedence first (generator output
    /// directories left out); `sys` maps a system path (doctor reads a fake root).
    pub fn unit_search_path(&self, sys: impl Fn(&str) -> PathBuf) -> Vec<PathBuf> {
        let mut v = Vec::new();
        if let Some(c) = self.config_dir() {
            v.push(c.join("systemd/user"));
        }
        let (before_runtime, after_runtime) = SYSTEM_USER_UNIT_DIRS.split_at(2);
        v.extend(before_runtime.iter().map(|d| sys(d)));
        if let Some(r) = self.runtime() {
            v.push(r.join("systemd/user"));
        }
        let (run, vendor) = after_runtime.split_at(1);
        v.extend(run.iter().map(|d| sys(d)));
        if let Some(d) = self.data_dir() {
            v.push(d.join("systemd/user"));
        }
        v.extend(vendor.iter().map(|d| sys(d)));
        v
    }

    /// Whether the user manager can be reached: its private socket or the user bus exists.
    pub fn user_manager_reachable(&self) -> bool {
        self.runtime()
            .is_some_and(|r| r.join("systemd/private").exists() || r.join("bus").exists())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_path_order() {
        let env = UserEnv {
            runtime_dir: Some("/run/user/7".into()),
            home: Some("/home/u".into()),
            uid: 7,
            ..UserEnv::default()
        };
        let roots: Vec<_> = env.search_roots().into_iter().map(|r| r.path).collect();
        assert_eq!(
            roots,
            vec![
                PathBuf::from("/run/user/7/containers/systemd"),
                "/home/u/.config/containers/systemd".into(),
                "/etc/containers/systemd/users".into(),
                "/etc/containers/systemd/users/7".into(),
                "/usr/share/containers/systemd/users".into(),
                "/usr/share/containers/systemd/users/7".into(),
            ]
        );
        let env = UserEnv {
            unit_dirs: Some("/a:relative:/b".into()),
            ..env
        };
        assert_eq!(env.search_roots().len(), 2);
    }

    #[test]
    fn unit_search_path_order() {
        let env = UserEnv {
            runtime_dir: Some("/run/user/7".into()),
            home: Some("/home/u".into()),
            ..UserEnv::default()
        };
        let got: Vec<String> = env
            .unit_search_path(|d| PathBuf::from(d))
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        assert_eq!(
            got,
            [
                "/home/u/.config/systemd/user",
                "/etc/xdg/systemd/user",
                "/etc/systemd/user",
                "/run/user/7/systemd/user",
                "/run/systemd/user",
                "/home/u/.local/share/systemd/user",
                "/usr/local/share/systemd/user",
                "/usr/share/systemd/user",
                "/usr/local/lib/systemd/user",
                "/usr/lib/systemd/user",
            ]
        );
    }

    #[test]
    fn relative_runtime_dir_is_kept_but_not_used() {
        let env = UserEnv {
            runtime_dir: Some("run/user/7".into()),
            ..UserEnv::default()
        };
        assert!(env.runtime().is_none());
        assert!(env.search_roots().iter().all(|r| r.path.is_absolute()));
    }
}
