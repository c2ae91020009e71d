//! `rootlet install --user`, `rootlet uninstall --user`, `rootlet regenerate`: the
//! library does the work ([`rootlet::install`]); here are the messages and exit codes.

use crate::ui::{say, shown, Exit};
use rootlet::env::{UserEnv, USER_GENERATOR_DIRS};
use rootlet::install::{
    self, lock, regenerate, Layout, Lock, Regenerated, Systemctl, PATH_UNIT, SERVICE_UNIT,
};
use rootlet::user_manager::{Op, Verb};
use std::path::{Path, PathBuf};
use std::time::Duration;

fn take_lock(layout: &Layout, create: bool) -> Result<Lock, install::Error> {
    Lock::acquire(
        &layout.state_dir,
        create,
        lock::DEFAULT_WAIT,
        crate::ui::lock_wait,
    )
}

fn layout() -> Option<Layout> {
    match Layout::from_env(None) {
        Ok(l) => Some(l),
        Err(e) => {
            say!("rootlet: {e}");
            None
        }
    }
}

/// Run `ops` in order; at the first that fails (or when the manager is not to be
/// reached), say why and the commands of the rest, to be run by hand after it.
fn sc_run(sc: &Systemctl, ops: &[Op]) -> bool {
    for (i, op) in ops.iter().enumerate() {
        if let Err(e) = sc.run(op) {
            say!("rootlet: {e}");
            for rest in &ops[i + 1..] {
                say!("rootlet: then run `{}`", rest.shown());
            }
            return false;
        }
    }
    true
}

/// Generate from the user's search path into `out` and prune; print what happened.
/// Calls no systemctl. Returns the exit status and what changed.
fn regenerate_now(layout: &Layout, out: &Path, lock: &Lock) -> (Exit, Option<Regenerated>) {
    let o = match regenerate::from_sources(layout, out, lock) {
        Ok(o) => o,
        Err(e) => {
            say!("rootlet: regenerating into {}: {e}", shown(out));
            return (Exit::Failed, None);
        }
    };
    crate::ui::err(&o.run.diagnostics(o.defaults_err.as_ref()));
    let mut status = Exit::failed_if(o.run.failed(o.defaults_err.as_ref()));
    let r = o.regenerated;
    if r.bad_lines > 0 {
        say!(
            "rootlet: note: {}: {} line(s) that are not rootlet entries ignored",
            shown(layout.generated_list_for(out)),
            r.bad_lines
        );
    }
    for f in &r.disowned {
        say!(
            "rootlet: note: {}: changed since rootlet wrote it: no longer rootlet's, left alone",
            shown(out.join(f))
        );
    }
    for f in &r.foreign_units {
        say!(
            "rootlet: {}: exists and was not written by rootlet: left alone, not generated",
            shown(out.join(f))
        );
        status = Exit::Failed;
    }
    for f in &r.foreign_links {
        say!(
            "rootlet: {}: exists (or its directory is a symlink) and was not written by \
             rootlet: left alone, link not made",
            shown(out.join(f))
        );
        status = Exit::Failed;
    }
    if out == layout.output_dir && !r.removed.is_empty() {
        note_dangling(layout);
    }
    say!(
        "rootlet: {} unit(s) generated into {}: {} written, {} removed",
        o.run.units.len().saturating_sub(r.foreign_units.len()),
        shown(out),
        r.written.len(),
        r.removed.len()
    );
    (status, Some(r))
}

/// Say which of the user's own links (`systemctl --user enable`) now point at a unit
/// rootlet removed: they are the user's, left alone.
fn note_dangling(layout: &Layout) {
    for (link, target) in install::dangling_links(&layout.unit_dir, &layout.output_dir) {
        let name = link.file_name().unwrap_or_default().to_string_lossy();
        say!(
            "rootlet: note: {} -> {}: your link (`systemctl --user enable`) to a unit that is \
             gone: left alone; `{}` removes it",
            shown(&link),
            shown(&target),
            Op::new(Verb::Disable, [name]).shown()
        );
    }
}

/// Reload the manager and start units newly wanted by a live target (plus `extra`).
fn reload_and_start(sc: &Systemctl, new_live: &[String], extra: &[&str]) {
    let mut ops = vec![Op::reload()];
    let units: Vec<&str> = extra
        .iter()
        .copied()
        .chain(new_live.iter().map(String::as_str))
        .collect();
    if !units.is_empty() {
        ops.push(Op::new(Verb::StartNoBlock, units));
    }
    sc_run(sc, &ops);
}

/// `rootlet regenerate`: generate into the output dir, prune, reload, start new units.
pub fn cmd_regenerate(output: Option<PathBuf>, systemctl: bool) -> Exit {
    let Some(layout) = layout() else {
        return Exit::Failed;
    };
    let out = match output.map(std::path::absolute).transpose() {
        Ok(o) => o.unwrap_or_else(|| layout.output_dir.clone()),
        Err(e) => {
            say!("rootlet: the output directory: {e}");
            return Exit::Failed;
        }
    };
    let lock = match take_lock(&layout, true) {
        Ok(l) => l,
        Err(e) => {
            say!("rootlet: {e}");
            return Exit::Failed;
        }
    };
    let user = UserEnv::from_process();
    // The path unit's trigger is lost while this service is still active (reloading,
    // starting units): look again at the end, after a moment for bursts of writes to
    // settle, and go round while something changed.
    let roots = || rootlet::generator::Options::from_env().0.roots;
    let mut status = Exit::Ok;
    for _ in 0..5 {
        let before = install::fingerprint(&roots());
        let (st, r) = regenerate_now(&layout, &out, &lock);
        status = st;
        if let Some(r) = r.filter(|r| r.changed()) {
            reload_and_start(&Systemctl::detect(systemctl, &user), &r.new_live, &[]);
        }
        std::thread::sleep(Duration::from_millis(150));
        if install::fingerprint(&roots()) == before {
            break;
        }
    }
    status
}

/// `rootlet install --user`.
pub fn cmd_install(systemctl: bool) -> Exit {
    let Some(layout) = layout() else {
        return Exit::Failed;
    };
    if !layout.bindir.join("rootlet").exists() {
        say!(
            "rootlet: warning: {} has no `rootlet`: the installed service would fail",
            shown(&layout.bindir)
        );
    }
    for d in USER_GENERATOR_DIRS {
        let g = Path::new(d).join("rootlet-user-generator");
        if g.exists() {
            say!(
                "rootlet: note: {} is installed: the user manager already generates these \
                 units at each daemon-reload; the no-root install is not needed",
                shown(g)
            );
        }
    }
    // Refuse values no unit file can carry before taking the lock (which creates the
    // state directory).
    if let Err(e) = layout.service_unit().and(layout.path_unit()) {
        say!("rootlet: install: {e}");
        return Exit::Failed;
    }
    let lock = match take_lock(&layout, true) {
        Ok(l) => l,
        Err(e) => {
            say!("rootlet: install: {e}");
            return Exit::Failed;
        }
    };
    let done = match install::install(&layout, &lock, install::system_wait_unit()) {
        Ok(d) => d,
        Err(e) => {
            say!("rootlet: install: {e}");
            lock.release_unused(Some(&layout.home));
            return Exit::Failed;
        }
    };
    for p in done.written.iter().chain(&done.unchanged) {
        say!("rootlet: installed {}", shown(p));
    }
    for p in &done.removed {
        say!(
            "rootlet: removed {} (rootlet's own; a system-wide copy or a newer install \
             replaces it)",
            shown(p)
        );
    }
    if let Some(p) = &done.shadowing {
        say!(
            "rootlet: note: {}: not rootlet's (changed or your own): it shadows the \
             system-wide {}; left alone",
            shown(p),
            rootlet::env::WAIT_UNIT
        );
    }
    let (status, r) = regenerate_now(&layout, &layout.output_dir, &lock);
    drop(lock);
    let new_live = r.map(|r| r.new_live).unwrap_or_default();
    let user = UserEnv::from_process();
    reload_and_start(
        &Systemctl::detect(systemctl, &user),
        &new_live,
        &[PATH_UNIT],
    );
    status
}

/// `rootlet uninstall --user`.
pub fn cmd_uninstall(systemctl: bool) -> Exit {
    let Some(layout) = layout() else {
        return Exit::Failed;
    };
    let lists = [layout.installed_list(), layout.generated_list()];
    if !lists
        .iter()
        .any(|l| l.exists() || install::pending_path(l).exists())
    {
        say!(
            "rootlet: nothing to uninstall ({} not found)",
            shown(layout.installed_list())
        );
        return Exit::Ok;
    }
    let sc = Systemctl::detect(systemctl, &UserEnv::from_process());
    if sc.enabled {
        // No new trigger, then let a regeneration under way finish (the lock below waits
        // for it too): stopping it would kill it between writing units and recording them.
        sc_run(&sc, &[Op::new(Verb::Stop, [PATH_UNIT])]);
        for _ in 0..300 {
            if !sc.is_active(SERVICE_UNIT) {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        sc_run(&sc, &[Op::new(Verb::Stop, [SERVICE_UNIT])]);
    }
    let lock = match take_lock(&layout, false) {
        Ok(l) => l,
        Err(e) => {
            say!("rootlet: uninstall: {e}");
            return Exit::Failed;
        }
    };
    let mut status = Exit::Ok;
    match install::uninstall(&layout, lock) {
        Ok(done) => {
            for p in done.removed {
                say!("rootlet: removed {}", shown(p));
            }
            for p in done.other_lists {
                say!(
                    "rootlet: note: {}: units generated with `regenerate -o DIR` stay; \
                     remove them and this list by hand",
                    shown(p)
                );
            }
            for p in done.left {
                say!(
                    "rootlet: {}: changed since rootlet wrote it: left alone",
                    shown(p)
                );
                status = Exit::Failed;
            }
        }
        Err(e) => {
            say!("rootlet: uninstall: {e}");
            return Exit::Failed;
        }
    }
    note_dangling(&layout);
    // Stopped above when the manager was reached; else the user stops them by hand too.
    let mut ops = Vec::new();
    if !sc.enabled {
        ops.push(Op::new(Verb::Stop, [PATH_UNIT, SERVICE_UNIT]));
    }
    ops.push(Op::reload());
    sc_run(&sc, &ops);
    say!("rootlet: running containers keep running until stopped (`systemctl --user stop NAME`)");
    status
}
