//! `rootlet rm NAME...`: remove sources from the user's own search path (never /etc or
//! /usr, nor anything reached through a symlinked directory in it), a whole application
//! when given one of its members or its name (`NAME/`: the application only), a socket with
//! the service it activates; a running unit only with `force`, which stops it first. Every
//! name is checked before anything is removed: one bad name removes nothing.
//!
//! Two steps: what the names mean, checked, removing nothing ([`plan`], in `plan.rs`), then
//! the units stopped or refused and the files removed ([`remove`], in `remove.rs`).

use super::{kind_of, Made};
use crate::search::{Discovery, Found};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

mod plan;
mod remove;
pub use plan::plan;
pub use remove::remove;

#[derive(Debug, Clone, Default)]
pub struct RmOptions {
    /// Every source on the user's own search path, and every application.
    pub all: bool,
    /// Stop running units first instead of refusing.
    pub force: bool,
    /// Unknown names are not an error.
    pub ignore: bool,
    /// How long to wait for a unit to stop.
    pub stop_wait: Duration,
}

/// What `rm` did.
#[derive(Debug, Default)]
pub struct Removed {
    pub files: Vec<PathBuf>,
    /// Applications whose record was removed.
    pub apps: Vec<String>,
    /// Units stopped first (`force`), sockets before the services they activate.
    pub stopped: Vec<String>,
    /// Names given that were not found (`ignore`).
    pub ignored: Vec<String>,
    /// Why the units' states could not be read (they were then not checked).
    pub states_unknown: Option<String>,
    /// What else the user should know, a line each: files left alone and why (a changed
    /// member of an application, a file reached through a symlinked directory under
    /// `--all`), sockets removed with their service, the units generated (the no-root
    /// install).
    pub notes: Vec<String>,
}

/// What would be removed: files (with their file names) and the applications among them.
#[derive(Debug, Default)]
pub struct Plan {
    pub files: Vec<(PathBuf, String)>,
    pub apps: BTreeSet<String>,
    pub ignored: Vec<String>,
    /// Files left alone, with why (none that is removed all the same, being named or a
    /// source under `--all`).
    pub kept: Vec<(PathBuf, String)>,
    /// Sockets added because the service they activate goes: (socket file, service).
    pub paired: Vec<(String, String)>,
    /// Files that go only as members of an application (not named, not under `--all`):
    /// checked again, under the lock, just before they are removed.
    pub members: BTreeSet<PathBuf>,
    /// The units of the sources that go (sockets and proxies their `[Socket]` makes too),
    /// sorted: checked for running, stopped with `force`.
    pub units: Vec<String>,
}

impl Plan {
    /// A file named, or a source under `--all`: it goes as it is.
    fn add(&mut self, path: PathBuf, name: String) {
        self.members.remove(&path);
        if !self.files.iter().any(|(p, _)| *p == path) {
            self.files.push((path, name));
        }
    }

    /// A file that goes as a member of an application (unless it goes anyway).
    fn add_member(&mut self, path: PathBuf, name: String) {
        if !self.files.iter().any(|(p, _)| *p == path) {
            self.members.insert(path.clone());
            self.files.push((path, name));
        }
    }

    /// The units of the sources among the files: each source's own, and those its own
    /// `[Socket]` makes (the socket, the proxy: [`Made`]), sorted.
    fn units_of(&self, disc: &Discovery) -> Vec<String> {
        let mut v: Vec<String> = (self.files.iter())
            .filter_map(|(path, name)| {
                let f = match disc.sources.iter().find(|f| f.path == *path) {
                    Some(f) => f.clone(),
                    None => Found {
                        path: path.clone(),
                        name: name.clone(),
                        kind: kind_of(name)?,
                        trusted_uid: None,
                        listed_regular: false,
                    },
                };
                Some(Made::of_found(&f, disc).all())
            })
            .flatten()
            .collect();
        v.sort();
        v.dedup();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::UserEnv;
    use crate::manage::Places;

    /// A scratch home (emptied) and its places.
    pub(super) fn scratch(tag: &str) -> (PathBuf, Places) {
        let home = std::env::temp_dir().join(format!("rootlet-rm-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&home);
        let places = Places::new(UserEnv {
            home: Some(home.clone()),
            ..UserEnv::default()
        })
        .unwrap();
        (home, places)
    }
}
