//! rootlet: dry-run generation and validation of quadlet-compatible sources.

use clap::{Parser, Subcommand};
use rootlet::error::SourceError;
use rootlet::generator::{self, Options, Run};
use std::path::PathBuf;
use std::process::ExitCode;
use ui::{out, say, shown, Exit};

mod docker;
mod install;
mod manage;
mod ui;

#[derive(Parser)]
#[command(
    name = "rootlet",
    version,
    about = "Rootless containers and daemons as reliable systemd user services"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Translate sources into units: print them (--dry-run) or write them (--output DIR).
    Generate {
        /// Print each unit (`# NAME` then its content) instead of writing.
        #[arg(long)]
        dry_run: bool,
        /// Write units and install symlinks into this directory. Files already there are
        /// replaced only if rootlet wrote them; nothing is removed.
        #[arg(long, short, value_name = "DIR", required_unless_present = "dry_run")]
        output: Option<PathBuf>,
        /// Source directories (default: quadlet's user search path).
        dirs: Vec<PathBuf>,
    },
    /// Validate sources; print `file:line: message` for each problem, exit 1 if any.
    Check {
        /// Source files (each checked with its drop-ins) or directories (default:
        /// quadlet's user search path).
        paths: Vec<PathBuf>,
    },
    /// Check this machine and account for everything rootless containers need; print each
    /// finding with its fix; exit 1 on errors.
    Doctor {
        /// Print the findings as a JSON array.
        #[arg(long)]
        json: bool,
    },
    /// No-root install: a path unit that regenerates units into ~/.local/share/systemd/user.
    Install {
        /// Install for the current user (the only mode; system-wide: `make install`).
        #[arg(long, required = true)]
        user: bool,
        /// Do not call `systemctl --user`; print the commands instead.
        #[arg(long)]
        no_systemctl: bool,
    },
    /// Remove what `install --user` and `regenerate` wrote, and nothing else.
    Uninstall {
        /// Uninstall the current user's no-root install.
        #[arg(long, required = true)]
        user: bool,
        /// Do not call `systemctl --user`; print the commands instead.
        #[arg(long)]
        no_systemctl: bool,
    },
    /// The rootless Docker daemon's user unit: wait for the network at boot.
    Docker {
        #[command(subcommand)]
        action: docker::DockerCmd,
    },
    /// Generate into ~/.local/share/systemd/user, prune stale units, reload, start new ones.
    Regenerate {
        /// Output directory (default: $XDG_DATA_HOME/systemd/user).
        #[arg(long, short, value_name = "DIR")]
        output: Option<PathBuf>,
        /// Do not call `systemctl --user`; print the commands instead.
        #[arg(long)]
        no_systemctl: bool,
    },
    /// Print a source with its drop-ins (`--unit`: the unit it becomes).
    #[command(alias = "cat")]
    Print(manage::PrintArgs),
    /// Remove sources or applications from your own search path and reload.
    Rm(manage::RmArgs),
    /// Check and copy quadlet files, directories, bundles or URLs into your sources; reload.
    Add(manage::AddArgs),
    /// List every source with its unit, application and state.
    List(manage::ListArgs),
}

fn doctor(json: bool) -> Exit {
    use rootlet::doctor;
    let env = match doctor::Env::from_process() {
        Ok(e) => e,
        Err(e) => {
            say!("rootlet: {e}");
            return Exit::Usage;
        }
    };
    let findings = doctor::run(&env);
    if json {
        out(&doctor::render_json(&findings));
    } else {
        out(&doctor::render_text(&findings));
    }
    Exit::failed_if(doctor::has_errors(&findings))
}

/// Print a run's notes, warnings and errors ([`Run::diagnostics`]); whether it failed.
fn report(run: &Run, defaults_err: Option<&SourceError>) -> bool {
    ui::err(&run.diagnostics(defaults_err));
    run.failed(defaults_err)
}

/// Source directories named on the command line must exist and be directories.
fn check_dirs(dirs: &[PathBuf]) -> bool {
    let mut ok = true;
    for d in dirs {
        match std::fs::metadata(d) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                say!("rootlet: {}: not a directory", shown(d));
                ok = false;
            }
            Err(e) => {
                say!("rootlet: {}: {e}", shown(d));
                ok = false;
            }
        }
    }
    ok
}

fn generate(
    opts: Options,
    defaults_err: Option<&SourceError>,
    dry_run: bool,
    output: Option<PathBuf>,
    dirs: Vec<PathBuf>,
) -> Exit {
    if !check_dirs(&dirs) {
        return Exit::Failed;
    }
    let opts = if dirs.is_empty() {
        opts
    } else {
        opts.with_dirs(&dirs)
    };
    let run = generator::run(&opts);
    let mut bad = report(&run, defaults_err);
    if dry_run {
        out(&generator::render(&run));
    } else if let Some(dir) = output {
        match generator::write_keeping(&run, &dir) {
            Ok(problems) => {
                for p in &problems {
                    say!("rootlet: {p}");
                }
                bad |= !problems.is_empty();
            }
            Err(e) => {
                say!("rootlet: writing to {}: {e}", shown(&dir));
                return Exit::Failed;
            }
        }
    }
    Exit::failed_if(bad)
}

fn check(opts: Options, defaults_err: Option<&SourceError>, paths: Vec<PathBuf>) -> Exit {
    let run = generator::check_paths(&opts, &paths);
    if report(&run, defaults_err) {
        say!("{}", run.summary(defaults_err));
        return Exit::Failed;
    }
    say!("rootlet: {} unit(s) OK", run.units.len());
    Exit::Ok
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let (opts, defaults_err) = Options::from_env();
    ui::finish(match cli.command {
        Command::Generate {
            dry_run,
            output,
            dirs,
        } => generate(opts, defaults_err.as_ref(), dry_run, output, dirs),
        Command::Check { paths } => check(opts, defaults_err.as_ref(), paths),
        Command::Doctor { json } => doctor(json),
        Command::Docker { action } => docker::run(action),
        Command::Install { no_systemctl, .. } => install::cmd_install(!no_systemctl),
        Command::Uninstall { no_systemctl, .. } => install::cmd_uninstall(!no_systemctl),
        Command::Regenerate {
            output,
            no_systemctl,
        } => install::cmd_regenerate(output, !no_systemctl),
        Command::Print(a) => manage::print(a),
        Command::Rm(a) => manage::rm(a),
        Command::Add(a) => manage::add(a),
        Command::List(a) => manage::list(a),
    })
}
