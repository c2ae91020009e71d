//! `rootlet rm NAME...`: remove sources from the user's own search path (never /etc or
//! /usr, nor anything reached through a symlinked directory in it), a whole application
//! when given one of its members or its name (`NAME/`: the application only), a socket with
//! the service it activates; a running unit only with `force`, which stops it first. Every
//! name is checked before anything is removed: one bad name removes nothing.

use super::{kind_of, resolve, socket_files, valid_app_name, Held, Made, ManageError, Places};
use crate::search::{Discovery, Found};
use crate::user_manager::{self as systemd, UnitState};
use rustix::fs::AtFlags;
use rustix::io::Errno;
use std::collections::BTreeSet;
use std::os::fd::{AsFd, OwnedFd};
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

/// `NAME/` names an application only (`rm web/`, as `add web/` made it): the way out when
/// `NAME` is also a source's name.
fn app_only(name: &str) -> Option<&str> {
    name.strip_suffix('/').filter(|a| valid_app_name(a))
}

/// Decide what `names` (or `all`) mean; removes nothing.
pub fn plan(places: &Places, names: &[String], opts: &RmOptions) -> Result<Plan, ManageError> {
    let disc = places.discover();
    let apps = places.apps()?;
    let mut plan = Plan::default();
    let install_fd = crate::fsutil::open_dir(&places.install_dir).ok();
    let add_app = |plan: &mut Plan, app: &str| {
        add_app_members(plan, places, &apps, install_fd.as_ref(), app);
    };
    if opts.all {
        add_own_sources(places, &disc, &mut plan);
        for app in apps.apps.keys() {
            add_app(&mut plan, app);
        }
    }
    for name in names {
        if let Some(app) = app_only(name) {
            if !apps.apps.contains_key(app) {
                if opts.ignore {
                    plan.ignored.push(name.clone());
                    continue;
                }
                return Err(ManageError::NotFound(format!(
                    "{name} (no such application)"
                )));
            }
            add_app(&mut plan, app);
            continue;
        }
        let found = resolve(&disc, name);
        let is_app = apps.apps.contains_key(name.as_str());
        // A source of the application of that name is the application: no ambiguity.
        let of_app = |f: &Found| {
            f.path.parent() == Some(places.install_dir.as_path())
                && apps.app_of(&f.name) == Some(name.as_str())
        };
        match found {
            Ok(f) if is_app && !of_app(f) => {
                return Err(ambiguous(name, &apps, std::slice::from_ref(&f.name)));
            }
            Err(ManageError::Ambiguous { candidates, .. }) if is_app => {
                return Err(ambiguous(name, &apps, &candidates));
            }
            Ok(f) => {
                if !places.is_own(&f.path) {
                    return Err(ManageError::NotRemovable {
                        path: f.path.clone(),
                        own: places.own_text(),
                    });
                }
                places.open_own(&f.path)?;
                plan.add(f.path.clone(), f.name.clone());
                if f.path.parent() == Some(places.install_dir.as_path()) {
                    // Its application goes with it while it is still what `add` wrote.
                    if let (Some((app, m)), Some(fd)) = (apps.member(&f.name), &install_fd) {
                        if m.state_in(fd.as_fd()) == Held::Written {
                            add_app(&mut plan, app);
                        }
                    }
                }
            }
            Err(ManageError::NotFound(_)) if is_app => add_app(&mut plan, name),
            // A file of an application that is no source (`notes.txt`): its application.
            Err(ManageError::NotFound(_)) if apps.app_of(name).is_some() => {
                let app = apps.app_of(name).unwrap_or_default().to_owned();
                add_app(&mut plan, &app);
            }
            Err(ManageError::NotFound(n)) if opts.ignore => plan.ignored.push(n),
            Err(e) => return Err(e),
        }
    }
    pair_sockets(places, &disc, &mut plan);
    let files = &plan.files;
    plan.kept
        .retain(|(p, _)| !files.iter().any(|(f, _)| f == p));
    plan.units = plan.units_of(&disc);
    Ok(plan)
}

/// Add the application `app` to the plan, and its members, each only while it is still
/// what `add` wrote there (the others are kept, saying why).
fn add_app_members(
    plan: &mut Plan,
    places: &Places,
    apps: &super::Apps,
    install_fd: Option<&OwnedFd>,
    app: &str,
) {
    plan.apps.insert(app.to_owned());
    let Some(fd) = install_fd else { return };
    for m in apps.apps.get(app).into_iter().flatten() {
        let p = places.install_dir.join(&m.file);
        match m.state_in(fd.as_fd()) {
            Held::Written => plan.add_member(p, m.file.clone()),
            Held::Gone => {}
            Held::Changed => {
                let why = format!(
                    "{}: changed since `rootlet add` wrote it for {app}: yours now, left alone",
                    p.display()
                );
                plan.kept.push((p, why));
            }
            Held::Unproven => {
                let why = format!(
                    "{}: recorded for {app} by an older rootlet without its content, so \
                     not provably what it wrote: left alone (`rootlet rm {}` removes it)",
                    p.display(),
                    m.file
                );
                plan.kept.push((p, why));
            }
        }
    }
}

/// `rm --all`: every source in the user's own directories (one that cannot be opened safely
/// is kept, saying why).
fn add_own_sources(places: &Places, disc: &Discovery, plan: &mut Plan) {
    for f in &disc.sources {
        if places.is_own(&f.path) {
            match places.open_own(&f.path) {
                Ok(_) => plan.add(f.path.clone(), f.name.clone()),
                Err(e) => plan.kept.push((f.path.clone(), format!("{e}: left alone"))),
            }
        }
    }
}

/// `NAME` is both an application and a source (or several): refuse, naming each and how to
/// pick one.
fn ambiguous(name: &str, apps: &super::Apps, sources: &[String]) -> ManageError {
    let files: Vec<&str> = apps
        .apps
        .get(name)
        .into_iter()
        .flatten()
        .map(|m| m.file.as_str())
        .collect();
    let mut candidates = vec![format!(
        "application {name} ({}; `rootlet rm {name}/` removes it)",
        files.join(", ")
    )];
    candidates.extend(
        sources
            .iter()
            .map(|s| format!("source {s} (`rootlet rm {s}` removes it)")),
    );
    ManageError::Ambiguous {
        name: name.to_owned(),
        candidates,
    }
}

/// A socket activates its service: removing the service alone would leave the socket
/// listening for a unit that is gone (the next connection fails). Every socket on the
/// search path whose service goes is removed with it (one of the user's own; another is
/// reported).
fn pair_sockets(places: &Places, disc: &Discovery, plan: &mut Plan) {
    let going: BTreeSet<String> = plan.units_of(disc).into_iter().collect();
    for (f, service) in socket_files(disc) {
        if plan.files.iter().any(|(p, _)| *p == f.path) || !going.contains(&service) {
            continue;
        }
        if places.is_own(&f.path) && places.open_own(&f.path).is_ok() {
            plan.add(f.path.clone(), f.name.clone());
            plan.paired.push((f.name.clone(), service));
        } else {
            let why = format!(
                "{}: activates {service}, which goes, but is not yours to remove: it stays",
                f.path.display()
            );
            plan.kept.push((f.path.clone(), why));
        }
    }
}

/// Check the units, stop them (`force`: sockets first, so that none starts its service
/// again meanwhile) or refuse, then remove the files and the applications' records. Does
/// not reload the manager (the caller does, unless told not to).
pub fn remove(places: &Places, plan: Plan, opts: &RmOptions) -> Result<Removed, ManageError> {
    let mut out = Removed {
        ignored: plan.ignored.clone(),
        notes: plan.kept.iter().map(|(_, why)| why.clone()).collect(),
        ..Removed::default()
    };
    out.notes
        .extend(plan.paired.iter().map(|(socket, service)| {
            format!("{socket} activates {service}: removed with it (the socket is stopped first)")
        }));
    let units = &plan.units;
    let states: Vec<(String, UnitState)> = if units.is_empty() {
        Vec::new()
    } else {
        match systemd::states(units) {
            Ok(states) => units.iter().cloned().zip(states).collect(),
            Err(e) => {
                let stop = systemd::Op::new(systemd::Verb::Stop, units);
                out.states_unknown = Some(format!("{e}; any still running: `{}`", stop.shown()));
                Vec::new()
            }
        }
    };
    stop_running(&states, opts, &mut out)?;
    // A failed unit whose source is gone would stay listed as failed: forget it.
    for (u, s) in &states {
        if s.active == "failed" {
            let _ = systemd::reset_failed(u);
        }
    }
    // From here on, under the lock (not while units stop): no `add` comes between the
    // last look at an application's files and their removal.
    let lock = places.lock()?;
    let mut apps = places.apps()?;
    let before = apps.clone();
    remove_files(places, &plan, &apps, &mut out)?;
    for a in &plan.apps {
        if apps.apps.remove(a).is_some() {
            out.apps.push(a.clone());
        }
    }
    for (p, n) in &plan.files {
        if p.parent() == Some(places.install_dir.as_path()) {
            apps.forget(n);
        }
    }
    if apps != before {
        if let Some(p) = &places.apps_file {
            apps.save(p)?;
        }
    }
    if let (Some(lock), false) = (&lock, out.files.is_empty()) {
        out.notes.extend(places.regenerate_user_install(lock));
    }
    Ok(out)
}

/// The running units of `states`: refuse unless `force`, else stop them, sockets first
/// (so that none starts its service again meanwhile), saying which were stopped.
fn stop_running(
    states: &[(String, UnitState)],
    opts: &RmOptions,
    out: &mut Removed,
) -> Result<(), ManageError> {
    let running: Vec<&(String, UnitState)> =
        states.iter().filter(|(_, s)| s.is_running()).collect();
    if !running.is_empty() {
        if !opts.force {
            return Err(ManageError::Running {
                units: running
                    .iter()
                    .map(|(u, s)| format!("{u} ({}/{})", s.active, s.sub))
                    .collect(),
            });
        }
        let (sockets, rest): (Vec<String>, Vec<String>) = running
            .iter()
            .map(|(u, _)| u.clone())
            .partition(|u| u.ends_with(".socket"));
        for batch in [sockets, rest] {
            for (u, r) in batch
                .iter()
                .zip(systemd::all(systemd::stop, &batch, opts.stop_wait))
            {
                let s = r?;
                if s.is_running() {
                    return Err(ManageError::Manager(format!(
                        "{u} did not stop (it is {}/{})",
                        s.active, s.sub
                    )));
                }
                if s.active == "failed" {
                    let _ = systemd::reset_failed(u);
                }
                out.stopped.push(u.clone());
            }
        }
    }
    Ok(())
}

/// Remove the plan's files (each relative to its opened directory), saying which went;
/// an application's member changed since the plan stays.
fn remove_files(
    places: &Places,
    plan: &Plan,
    apps: &super::Apps,
    out: &mut Removed,
) -> Result<(), ManageError> {
    for (p, n) in &plan.files {
        // Relative to its directory, opened without following a symlink below the root;
        // unlinkat removes a symlink itself, never its target.
        let (dir, name) = places.open_own(p)?;
        // A file that goes only as an application's must still be what `add` wrote
        // (units may have taken long to stop, and the user may have changed it meanwhile).
        if plan.members.contains(p) {
            let held = apps.member(n).map(|(_, m)| m.state_in(dir.as_fd()));
            if held != Some(Held::Written) {
                out.notes.push(format!(
                    "{}: changed while rm ran: yours now, left alone",
                    p.display()
                ));
                continue;
            }
        }
        match rustix::fs::unlinkat(dir.as_fd(), name.as_str(), AtFlags::empty()) {
            Ok(()) => out.files.push(p.clone()),
            Err(Errno::NOENT) => {}
            Err(e) => return Err(ManageError::io(p, e.into())),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::UserEnv;
    use crate::manage::{Apps, Member};

    /// A scratch home (emptied) and its places.
    fn scratch(tag: &str) -> (PathBuf, Places) {
        let home = std::env::temp_dir().join(format!("rootlet-rm-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&home);
        let places = Places::new(UserEnv {
            home: Some(home.clone()),
            ..UserEnv::default()
        })
        .unwrap();
        (home, places)
    }

    /// Issue 26: the units checked and stopped are every unit a source makes: the
    /// socket and the proxy of its own `[Socket]` (from a drop-in too), under the name
    /// `ServiceName=` gives; before, only `X.service`, and `rm --force` left the socket
    /// listening (a connection would start the unit again, or fail on its removed file).
    #[test]
    fn the_units_of_a_plan_are_every_unit_its_sources_make() {
        let (home, places) = scratch("units");
        let dir = &places.install_dir;
        std::fs::create_dir_all(dir.join("api.container.d")).unwrap();
        let w = |n: &str, t: &str| std::fs::write(dir.join(n), t).unwrap();
        w(
            "web.container",
            "[Container]\nImage=x\n[Socket]\nListenStream=127.0.0.1:1\nProxyTo=80\n",
        );
        w("api.container", "[Container]\nImage=x\nServiceName=svc\n");
        w(
            "api.container.d/s.conf",
            "[Socket]\nListenStream=127.0.0.1:2\n",
        );
        w("db.container", "[Container]\nImage=x\n");
        w("db.socket", "[Socket]\nListenStream=127.0.0.1:3\n");
        w("other.container", "[Container]\nImage=x\n");
        let opts = RmOptions::default();
        let names = ["web", "svc.socket", "db"].map(String::from);
        let plan = plan(&places, &names, &opts).unwrap();
        assert_eq!(
            plan.units,
            [
                "db.service",
                "db.socket",
                "svc.service",
                "svc.socket",
                "web-proxy.service",
                "web.service",
                "web.socket"
            ]
        );
        assert_eq!(plan.files.len(), 4, "{:?}", plan.files);
        std::fs::remove_dir_all(&home).unwrap();
    }

    /// A member changed between the plan and the removal (while units stopped) is the
    /// user's: checked again under the lock, left alone.
    #[test]
    fn a_member_changed_while_rm_runs_stays() {
        let (home, places) = scratch("member");
        let dir = &places.install_dir;
        std::fs::create_dir_all(dir).unwrap();
        let mut apps = Apps::default();
        let mut members = Vec::new();
        for f in ["notes.txt", "readme.txt"] {
            std::fs::write(dir.join(f), f).unwrap();
            members.push(Member::new(f, f.as_bytes()));
        }
        apps.apps.insert("shop".into(), members);
        apps.save(places.apps_file.as_ref().unwrap()).unwrap();
        let opts = RmOptions::default();
        let plan = plan(&places, &["shop".to_owned()], &opts).unwrap();
        assert_eq!(plan.files.len(), 2);
        std::fs::write(dir.join("notes.txt"), "mine now").unwrap();
        let out = remove(&places, plan, &opts).unwrap();
        assert_eq!(out.files, [dir.join("readme.txt")]);
        assert_eq!(
            std::fs::read_to_string(dir.join("notes.txt")).unwrap(),
            "mine now"
        );
        assert!(out.notes.iter().any(|n| n.contains("changed while rm ran")));
        assert!(places.apps().unwrap().apps.is_empty());
        std::fs::remove_dir_all(&home).unwrap();
    }
}
