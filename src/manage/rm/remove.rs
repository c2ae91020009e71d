//! The removal of a [`Plan`] ([`remove`]): the running units refused or stopped, then,
//! under the lock, the files and the applications' records.

use super::{Plan, Removed, RmOptions};
use crate::manage::{Apps, Held, ManageError, Places};
use crate::user_manager::{self as systemd, UnitState};
use rustix::fs::AtFlags;
use rustix::io::Errno;
use std::os::fd::AsFd;

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
    apps: &Apps,
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
    use crate::manage::rm::plan;
    use crate::manage::rm::tests::scratch;
    use crate::manage::{Apps, Member};

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
