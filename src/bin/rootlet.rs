//! rootlet: dry-run generation and validation of quadlet-compatible sources.

use clap::{Parser, Subcommand};
use rootlet::generator::{self, Options, Run};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[path = "rootlet/docker.rs"]
mod docker;
#[path = "rootlet/install.rs"]
mod install;
#[path = "rootlet/manage.rs"]
mod manage;

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
        /// Write units and install symlinks into this directory.
        #[arg(long, short, value_name = "DIR", required_unless_present = "dry_run")]
        output: Option<PathBuf>,
        /// Source directories (default: quadlet's user search path).
        dirs: Vec<PathBuf>,
    },
    /// Validate sources; print `file:line: message` for each problem, exit 1 if any.
    Check {
        /// Source files or directories (default: quadlet's user search path).
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

fn doctor(json: bool) -> ExitCode {
    use rootlet::doctor;
    let env = match doctor::Env::from_process() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("rootlet: {e}");
            return ExitCode::from(2);
        }
    };
    let findings = doctor::run(&env);
    if json {
        print!("{}", doctor::render_json(&findings));
    } else {
        print!("{}", doctor::render_text(&findings));
    }
    if doctor::has_errors(&findings) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn report(
    run: &Run,
    defaults_err: Option<&rootlet::error::SourceError>,
    only: Option<&[PathBuf]>,
) -> bool {
    for n in &run.notes {
        eprintln!("rootlet: note: {n}");
    }
    for w in &run.warnings {
        if only.is_some_and(|files| !files.iter().any(|f| same_file(f, &w.path))) {
            continue;
        }
        eprintln!("warning: {w}");
    }
    let mut bad = false;
    if let Some(e) = defaults_err {
        eprintln!("rootlet: {e}");
        bad = true;
    }
    for e in &run.errors {
        if only.is_some_and(|files| !files.iter().any(|f| same_file(f, &e.path))) {
            continue;
        }
        eprintln!("{e}");
        bad = true;
    }
    bad
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let (opts, defaults_err) = Options::from_env();
    match cli.command {
        Command::Generate {
            dry_run,
            output,
            dirs,
        } => {
            let opts = if dirs.is_empty() {
                opts
            } else {
                opts.with_dirs(&dirs)
            };
            let run = generator::run(&opts);
            let bad = report(&run, defaults_err.as_ref(), None);
            if dry_run {
                print!("{}", generator::render(&run));
            } else if let Some(out) = output {
                if let Err(e) = generator::write(&run, &out) {
                    eprintln!("rootlet: writing to {}: {e}", out.display());
                    return ExitCode::FAILURE;
                }
            }
            if bad {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
        Command::Check { paths } => {
            let (opts, files) = if paths.is_empty() {
                (opts, None)
            } else {
                let mut dirs: Vec<PathBuf> = Vec::new();
                let mut files = Vec::new();
                for p in &paths {
                    let d = if p.is_dir() {
                        p.clone()
                    } else {
                        files.push(p.clone());
                        p.parent()
                            .filter(|d| !d.as_os_str().is_empty())
                            .unwrap_or(Path::new("."))
                            .to_owned()
                    };
                    if !p.exists() {
                        eprintln!("{}: no such file or directory", p.display());
                        return ExitCode::FAILURE;
                    }
                    if !dirs.contains(&d) {
                        dirs.push(d);
                    }
                }
                let only = if paths.iter().all(|p| !p.is_dir()) {
                    Some(files)
                } else {
                    None
                };
                (opts.with_dirs(&dirs), only)
            };
            let run = generator::run(&opts);
            let bad = report(&run, defaults_err.as_ref(), files.as_deref());
            if bad {
                ExitCode::FAILURE
            } else {
                eprintln!("rootlet: {} unit(s) OK", run.units.len());
                ExitCode::SUCCESS
            }
        }
        Command::Doctor { json } => doctor(json),
        Command::Docker { action } => docker::run(action),
        Command::Install { no_systemctl, .. } => {
            ExitCode::from(install::cmd_install(!no_systemctl))
        }
        Command::Uninstall { no_systemctl, .. } => {
            ExitCode::from(install::cmd_uninstall(!no_systemctl))
        }
        Command::Regenerate {
            output,
            no_systemctl,
        } => ExitCode::from(install::cmd_regenerate(output, !no_systemctl)),
        Command::Print(a) => manage::print(a),
        Command::Rm(a) => manage::rm(a),
        Command::Add(a) => manage::add(a),
        Command::List(a) => manage::list(a),
    }
}
