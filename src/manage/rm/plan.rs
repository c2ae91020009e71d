//! What `rm`'s names mean ([`plan`]): the files, the applications, the sockets that go
//! with their service and the units of it all; every name checked, nothing removed.

use super::{Plan, RmOptions};
use crate::manage::{resolve, socket_files, valid_app_name, Apps, Held, ManageError, Places};
use crate::search::{Discovery, Found};
use std::collections::BTreeSet;
use std::os::fd::{AsFd, OwnedFd};

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
    apps: &Apps,
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
fn ambiguous(name: &str, apps: &Apps, sources: &[String]) -> ManageError {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manage::rm::tests::scratch;

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
}
