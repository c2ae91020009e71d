//! `rootlet rm NAME...`: remove sources from the user's own search path (never /etc or
//! /usr), a whole application when given one of its members or its name; a running unit
//! only with `force`, which stops it first. Every name is checked before anything is
//! removed: one bad name removes nothing.

use super::{kind_of, resolve, unit_of, ManageError, Places};
use crate::user_manager::{self as systemd, UnitState};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

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
    /// Units stopped first (`force`).
    pub stopped: Vec<String>,
    /// Names given that were not found (`ignore`).
    pub ignored: Vec<String>,
    /// Why the units' states could not be read (they were then not checked).
    pub states_unknown: Option<String>,
}

/// What would be removed: files (with their file names) and the applications among them.
#[derive(Debug, Default)]
pub struct Plan {
    pub files: Vec<(PathBuf, String)>,
    pub apps: BTreeSet<String>,
    pub ignored: Vec<String>,
}

impl Plan {
    fn add(&mut self, path: PathBuf, name: String) {
        if !self.files.iter().any(|(p, _)| *p == path) {
            self.files.push((path, name));
        }
    }

    /// The units of the sources among the files.
    pub fn units(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .files
            .iter()
            .filter_map(|(path, name)| {
                let kind = kind_of(name)?;
                Some(unit_of(&crate::search::Found {
                    path: path.clone(),
                    name: name.clone(),
                    kind,
                    trusted_uid: None,
                    listed_regular: false,
                }))
            })
            .collect();
        v.sort();
        v.dedup();
        v
    }
}

/// Decide what `names` (or `all`) mean; removes nothing.
pub fn plan(places: &Places, names: &[String], opts: &RmOptions) -> Result<Plan, ManageError> {
    let disc = places.discover();
    let apps = places.apps()?;
    let mut plan = Plan::default();
    let add_app = |plan: &mut Plan, app: &str| {
        plan.apps.insert(app.to_owned());
        for f in apps.apps.get(app).into_iter().flatten() {
            let p = places.install_dir.join(f);
            if std::fs::symlink_metadata(&p).is_ok() {
                plan.add(p, f.clone());
            }
        }
    };
    if opts.all {
        for f in &disc.sources {
            if places.is_own(&f.path) {
                plan.add(f.path.clone(), f.name.clone());
            }
        }
        for app in apps.apps.keys() {
            add_app(&mut plan, app);
        }
    }
    for name in names {
        match resolve(&disc, name) {
            Ok(f) => {
                if !places.is_own(&f.path) {
                    let own: Vec<String> = places
                        .own_roots()
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect();
                    return Err(ManageError::NotRemovable {
                        path: f.path.clone(),
                        own: own.join(" and "),
                    });
                }
                plan.add(f.path.clone(), f.name.clone());
                if f.path.parent() == Some(places.install_dir.as_path()) {
                    if let Some(app) = apps.app_of(&f.name) {
                        add_app(&mut plan, app);
                    }
                }
            }
            Err(ManageError::NotFound(_)) if apps.apps.contains_key(name.as_str()) => {
                add_app(&mut plan, name);
            }
            // A file of an application that is no source (`notes.txt`): its application.
            Err(ManageError::NotFound(_)) if apps.app_of(name).is_some() => {
                let app = apps.app_of(name).unwrap_or_default().to_owned();
                add_app(&mut plan, &app);
            }
            Err(ManageError::NotFound(n)) if opts.ignore => plan.ignored.push(n),
            Err(e) => return Err(e),
        }
    }
    Ok(plan)
}

/// Check the units, stop them (`force`) or refuse, then remove the files and the
/// applications' records. Does not reload the manager (the caller does, unless told not to).
pub fn remove(places: &Places, plan: Plan, opts: &RmOptions) -> Result<Removed, ManageError> {
    let mut out = Removed {
        ignored: plan.ignored.clone(),
        ..Removed::default()
    };
    let units = plan.units();
    let states: Vec<(String, UnitState)> = if units.is_empty() {
        Vec::new()
    } else {
        match systemd::states(&units) {
            Ok(states) => units.iter().cloned().zip(states).collect(),
            Err(e) => {
                out.states_unknown = Some(e.to_string());
                Vec::new()
            }
        }
    };
    let running: Vec<String> = states
        .iter()
        .filter(|(_, s)| s.is_running())
        .map(|(u, _)| u.clone())
        .collect();
    if !running.is_empty() {
        if !opts.force {
            return Err(ManageError::Running { units: running });
        }
        for (u, r) in running
            .iter()
            .zip(systemd::all(systemd::stop, &running, opts.stop_wait))
        {
            let s = r?;
            if s.is_running() {
                return Err(ManageError::Manager(format!(
                    "{u} did not stop (it is {})",
                    s.active
                )));
            }
            if s.active == "failed" {
                let _ = systemd::reset_failed(u);
            }
            out.stopped.push(u.clone());
        }
    }
    for (p, _) in &plan.files {
        // remove_file unlinks a symlink itself, never its target.
        match std::fs::remove_file(p) {
            Ok(()) => out.files.push(p.clone()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(ManageError::io(p, e)),
        }
    }
    // A failed unit whose source is gone would stay listed as failed: forget it.
    for (u, s) in &states {
        if s.active == "failed" {
            let _ = systemd::reset_failed(u);
        }
    }
    let _lock = places.lock()?;
    let mut apps = places.apps()?;
    let before = apps.clone();
    for a in &plan.apps {
        if apps.apps.remove(a).is_some() {
            out.apps.push(a.clone());
        }
    }
    let gone: BTreeSet<&str> = plan
        .files
        .iter()
        .filter(|(p, _)| p.parent() == Some(places.install_dir.as_path()))
        .map(|(_, n)| n.as_str())
        .collect();
    for files in apps.apps.values_mut() {
        files.retain(|f| !gone.contains(f.as_str()));
    }
    apps.apps.retain(|_, f| !f.is_empty());
    if apps != before {
        if let Some(p) = &places.apps_file {
            apps.save(p)?;
        }
    }
    Ok(out)
}
