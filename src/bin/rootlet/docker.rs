//! `rootlet docker enable|disable|status`: printing and exit codes around
//! `rootlet::docker`.

use crate::ui::{out, say, shown, Exit};
use clap::Subcommand;
use rootlet::docker::{self, Change};
use rootlet::env::UserEnv;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum DockerCmd {
    /// Make the rootless Docker daemon's user unit wait for the network (a drop-in).
    Enable {
        /// Run the daemon through `rootlet-wait-online -- ...` (same pid) instead of
        /// ordering it after rootlet-wait-online.service.
        #[arg(long)]
        exec: bool,
        /// Do not run `systemctl --user daemon-reload`.
        #[arg(long)]
        no_reload: bool,
        /// The daemon's unit.
        #[arg(long, default_value = "docker.service", value_name = "UNIT")]
        unit: String,
    },
    /// Remove exactly what `enable` wrote.
    Disable {
        /// Do not run `systemctl --user daemon-reload`.
        #[arg(long)]
        no_reload: bool,
        #[arg(long, default_value = "docker.service", value_name = "UNIT")]
        unit: String,
    },
    /// Show the daemon's unit and whether rootlet's drop-in and the wait unit are in place.
    Status {
        #[arg(long, default_value = "docker.service", value_name = "UNIT")]
        unit: String,
    },
}

fn valid_unit(unit: &str) -> bool {
    unit.ends_with(".service") && !unit.starts_with('-') && !unit.contains('/')
}

/// Reload the user manager (`rootlet::user_manager`, within its deadline); says what to
/// run when it cannot.
fn reload() {
    let op = rootlet::user_manager::Op::reload();
    if let Err(e) = rootlet::user_manager::run(&op) {
        say!("rootlet: {e}: run `{}` in your session", op.shown());
    }
}

fn print(changes: &[Change]) {
    for c in changes {
        match c {
            Change::Written(p) => say!("rootlet: wrote {}", shown(p)),
            Change::Unchanged(p) => say!("rootlet: up to date: {}", shown(p)),
            Change::Removed(p) => say!("rootlet: removed {}", shown(p)),
            Change::LeftAlone(p) => say!(
                "rootlet: {} changed since rootlet wrote it: left alone",
                shown(p)
            ),
        }
    }
}

pub fn run(cmd: DockerCmd) -> Exit {
    let env = UserEnv::from_process();
    let unit = match &cmd {
        DockerCmd::Enable { unit, .. }
        | DockerCmd::Disable { unit, .. }
        | DockerCmd::Status { unit } => unit.clone(),
    };
    if !valid_unit(&unit) {
        say!("rootlet: --unit must name a service unit, like docker.service");
        return Exit::Usage;
    }
    match cmd {
        DockerCmd::Enable {
            exec, no_reload, ..
        } => enable(&env, &unit, exec, no_reload),
        DockerCmd::Disable { no_reload, .. } => disable(&env, &unit, no_reload),
        DockerCmd::Status { .. } => status(&env, &unit),
    }
}

/// `rootlet docker enable`: the drop-in for `unit`, with the `rootlet-wait-online` beside
/// this binary.
fn enable(env: &UserEnv, unit: &str, exec: bool, no_reload: bool) -> Exit {
    let bindir = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(PathBuf::from));
    let Some(bindir) = bindir.filter(|b| b.join("rootlet-wait-online").is_file()) else {
        say!(
            "rootlet: rootlet-wait-online is not beside this rootlet: install rootlet \
             completely (make install, or the package) first"
        );
        return Exit::Failed;
    };
    let found = match docker::find(env, unit) {
        Ok(u) => u,
        Err(e) => {
            say!("rootlet: {e}");
            return Exit::Failed;
        }
    };
    match docker::enable(env, &found, &bindir, exec, crate::ui::lock_wait) {
        Ok(changes) => {
            print(&changes);
            if !no_reload {
                reload();
            }
            say!(
                "rootlet: {} ({}) waits for the network from its next start; `{}` applies it now",
                shown(unit),
                shown(&found.fragment),
                rootlet::user_manager::Op::new(rootlet::user_manager::Verb::Restart, [unit])
                    .shown()
            );
            Exit::Ok
        }
        Err(e) => {
            say!("rootlet: {e}");
            Exit::Failed
        }
    }
}

/// `rootlet docker disable`: remove exactly what `enable` wrote for `unit`.
fn disable(env: &UserEnv, unit: &str, no_reload: bool) -> Exit {
    match docker::disable(env, unit, crate::ui::lock_wait) {
        Ok(changes) => {
            if changes.is_empty() {
                say!("rootlet: nothing of rootlet's for {unit}");
            }
            print(&changes);
            if !no_reload && changes.iter().any(|c| matches!(c, Change::Removed(_))) {
                reload();
            }
            Exit::Ok
        }
        Err(e) => {
            say!("rootlet: {e}");
            Exit::Failed
        }
    }
}

/// `rootlet docker status`: the daemon's unit, rootlet's drop-in and the wait unit, one
/// `key: value` line each.
fn status(env: &UserEnv, unit: &str) -> Exit {
    let s = match docker::status(env, unit) {
        Ok(s) => s,
        Err(e) => {
            say!("rootlet: {e}");
            return Exit::Failed;
        }
    };
    let mut t = String::new();
    let mut line = |l: String| {
        t.push_str(&l);
        t.push('\n');
    };
    match &s.unit {
        Ok(u) => {
            line(format!("unit: {}", shown(&u.fragment)));
            for d in &u.dropins {
                line(format!("drop-in: {}", shown(d)));
            }
            line(format!(
                "type: {}",
                u.unit_type.as_deref().unwrap_or("simple")
            ));
            line(format!("restart: {}", u.restart.as_deref().unwrap_or("no")));
            // A command line, not a name: its backslashes stay as they are.
            for e in &u.exec_start {
                let e = rootlet::error::escape_bounded(e, usize::MAX);
                line(format!("exec-start: {e}"));
            }
        }
        Err(e) => line(format!("unit: not found ({e})")),
    }
    line(format!(
        "rootlet drop-in: {}",
        match (s.dropin, s.exec_form) {
            (None, _) => "absent (rootlet docker enable adds it)",
            (Some(true), false) => "enabled (ordered after the wait)",
            (Some(true), true) => "enabled (exec form)",
            (Some(false), _) => "present, changed since rootlet wrote it",
        }
    ));
    line(match &s.wait_unit {
        Some(p) => format!("wait unit: {}", shown(p)),
        None => "wait unit: missing (the drop-in's Wants= would be ignored: \
                 rootlet docker enable installs it)"
            .to_owned(),
    });
    out(&t);
    Exit::Ok
}
