//! `rootlet docker enable|disable|status`: printing and exit codes around
//! `rootlet::docker`.

use clap::Subcommand;
use rootlet::docker::{self, Change};
use rootlet::env::UserEnv;
use std::path::PathBuf;
use std::process::ExitCode;

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
    if let Err(e) = rootlet::user_manager::reload() {
        eprintln!("rootlet: {e}: run `systemctl --user daemon-reload` in your session");
    }
}

fn print(changes: &[Change]) {
    for c in changes {
        match c {
            Change::Written(p) => eprintln!("rootlet: wrote {}", p.display()),
            Change::Unchanged(p) => eprintln!("rootlet: up to date: {}", p.display()),
            Change::Removed(p) => eprintln!("rootlet: removed {}", p.display()),
            Change::LeftAlone(p) => eprintln!(
                "rootlet: {} changed since rootlet wrote it: left alone",
                p.display()
            ),
        }
    }
}

pub fn run(cmd: DockerCmd) -> ExitCode {
    let env = UserEnv::from_process();
    let unit = match &cmd {
        DockerCmd::Enable { unit, .. }
        | DockerCmd::Disable { unit, .. }
        | DockerCmd::Status { unit } => unit.clone(),
    };
    if !valid_unit(&unit) {
        eprintln!("rootlet: --unit must name a service unit, like docker.service");
        return ExitCode::from(2);
    }
    match cmd {
        DockerCmd::Enable {
            exec, no_reload, ..
        } => {
            let bindir = std::env::current_exe()
                .ok()
                .and_then(|e| e.parent().map(PathBuf::from));
            let Some(bindir) = bindir.filter(|b| b.join("rootlet-wait-online").is_file()) else {
                eprintln!(
                    "rootlet: rootlet-wait-online is not beside this rootlet: install rootlet \
                     completely (make install, or the package) first"
                );
                return ExitCode::FAILURE;
            };
            let found = match docker::find(&env, &unit) {
                Ok(u) => u,
                Err(e) => {
                    eprintln!("rootlet: {e}");
                    return ExitCode::FAILURE;
                }
            };
            match docker::enable(&env, &found, &bindir, exec) {
                Ok(changes) => {
                    print(&changes);
                    if !no_reload {
                        reload();
                    }
                    eprintln!(
                        "rootlet: {unit} ({}) waits for the network from its next start; \
                         `systemctl --user restart {unit}` applies it now",
                        found.fragment.display()
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("rootlet: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        DockerCmd::Disable { no_reload, .. } => match docker::disable(&env, &unit) {
            Ok(changes) => {
                if changes.is_empty() {
                    eprintln!("rootlet: nothing of rootlet's for {unit}");
                }
                print(&changes);
                if !no_reload && changes.iter().any(|c| matches!(c, Change::Removed(_))) {
                    reload();
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("rootlet: {e}");
                ExitCode::FAILURE
            }
        },
        DockerCmd::Status { .. } => match docker::status(&env, &unit) {
            Ok(s) => {
                match &s.unit {
                    Ok(u) => {
                        println!("unit: {}", u.fragment.display());
                        for d in &u.dropins {
                            println!("drop-in: {}", d.display());
                        }
                        println!("type: {}", u.unit_type.as_deref().unwrap_or("simple"));
                        println!("restart: {}", u.restart.as_deref().unwrap_or("no"));
                        for e in &u.exec_start {
                            println!("exec-start: {e}");
                        }
                    }
                    Err(e) => println!("unit: not found ({e})"),
                }
                println!(
                    "rootlet drop-in: {}",
                    match (s.dropin, s.exec_form) {
                        (None, _) => "absent (rootlet docker enable adds it)",
                        (Some(true), false) => "enabled (ordered after the wait)",
                        (Some(true), true) => "enabled (exec form)",
                        (Some(false), _) => "present, changed since rootlet wrote it",
                    }
                );
                match &s.wait_unit {
                    Some(p) => println!("wait unit: {}", p.display()),
                    None => println!(
                        "wait unit: missing (the drop-in's Wants= would be ignored: \
                         rootlet docker enable installs it)"
                    ),
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("rootlet: {e}");
                ExitCode::FAILURE
            }
        },
    }
}
