//! rootlet: dry-run generation and validation of quadlet-compatible sources.

use clap::{Parser, Subcommand};
use rootlet::error::show_path;
use rootlet::generator::{self, Options, Run};
use rootlet::quadlet::SourceKind;
use std::collections::HashSet;
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

/// Print to stderr; a closed or broken stderr is no reason to fail (or to panic).
macro_rules! say {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($t)*);
    }};
}

/// Write to stdout. A reader that went away (`| head -1`: EPIPE) ends the output quietly;
/// any other error is reported. Returns false on error.
fn out(text: &str) -> bool {
    use std::io::Write as _;
    let mut o = std::io::stdout().lock();
    match o.write_all(text.as_bytes()).and_then(|()| o.flush()) {
        Ok(()) => true,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => true,
        Err(e) => {
            say!("rootlet: writing to stdout: {e}");
            false
        }
    }
}

fn doctor(json: bool) -> ExitCode {
    use rootlet::doctor;
    let env = match doctor::Env::from_process() {
        Ok(e) => e,
        Err(e) => {
            say!("rootlet: {e}");
            return ExitCode::from(2);
        }
    };
    let findings = doctor::run(&env);
    let printed = if json {
        out(&doctor::render_json(&findings))
    } else {
        out(&doctor::render_text(&findings))
    };
    if doctor::has_errors(&findings) || !printed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Print the notes and errors of a run; whether there was an error.
fn report(run: &Run, defaults_err: Option<&rootlet::error::SourceError>) -> bool {
    for n in &run.notes {
        say!("rootlet: note: {n}");
    }
    for w in &run.warnings {
        say!("warning: {w}");
    }
    let mut bad = false;
    if let Some(e) = defaults_err {
        say!("rootlet: {e}");
        bad = true;
    }
    for e in &run.errors {
        say!("{e}");
        bad = true;
    }
    bad
}

/// Source directories named on the command line must exist and be directories.
fn check_dirs(dirs: &[PathBuf]) -> bool {
    let mut ok = true;
    for d in dirs {
        match std::fs::metadata(d) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                say!("rootlet: {}: not a directory", show_path(d));
                ok = false;
            }
            Err(e) => {
                say!("rootlet: {}: {e}", show_path(d));
                ok = false;
            }
        }
    }
    ok
}

fn generate(
    opts: Options,
    defaults_err: Option<&rootlet::error::SourceError>,
    dry_run: bool,
    output: Option<PathBuf>,
    dirs: Vec<PathBuf>,
) -> ExitCode {
    if !check_dirs(&dirs) {
        return ExitCode::FAILURE;
    }
    let opts = if dirs.is_empty() {
        opts
    } else {
        opts.with_dirs(&dirs)
    };
    let run = generator::run(&opts);
    let mut bad = report(&run, defaults_err);
    if dry_run {
        bad |= !out(&generator::render(&run));
    } else if let Some(dir) = output {
        match generator::write_keeping(&run, &dir) {
            Ok(problems) => {
                for p in &problems {
                    say!("rootlet: {p}");
                }
                bad |= !problems.is_empty();
            }
            Err(e) => {
                say!("rootlet: writing to {}: {e}", show_path(&dir));
                return ExitCode::FAILURE;
            }
        }
    }
    if bad {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn check(
    opts: Options,
    defaults_err: Option<&rootlet::error::SourceError>,
    paths: Vec<PathBuf>,
) -> ExitCode {
    if paths.is_empty() {
        return check_report(&generator::check(&opts, None), defaults_err);
    }
    // Directories are checked whole; files one by one, each with its drop-ins.
    let mut dirs: Vec<PathBuf> = Vec::new();
    let mut files: HashSet<PathBuf> = HashSet::new();
    for p in &paths {
        let abs = std::path::absolute(p).unwrap_or_else(|_| p.clone());
        match std::fs::metadata(&abs) {
            Ok(m) if m.is_dir() => {
                if !dirs.contains(&abs) {
                    dirs.push(abs);
                }
            }
            Ok(m) => {
                let Some(name) = abs.file_name().and_then(|n| n.to_str()) else {
                    say!(
                        "{}: name is not valid UTF-8: rootlet skips such files",
                        show_path(p)
                    );
                    return ExitCode::FAILURE;
                };
                if SourceKind::from_file_name(name).is_none() {
                    say!(
                        "{}: not a {} file",
                        show_path(p),
                        rootlet::kind::extension_list(" or ")
                    );
                    return ExitCode::FAILURE;
                }
                if !m.is_file() {
                    say!("{}: not a regular file", show_path(p));
                    return ExitCode::FAILURE;
                }
                files.insert(abs);
            }
            Err(e) => {
                say!("{}: {e}", show_path(p));
                return ExitCode::FAILURE;
            }
        }
    }
    let mut bad = false;
    let mut units = 0;
    let mut defaults_err = defaults_err; // reported once
    if !dirs.is_empty() {
        let run = generator::check(&opts.clone().with_dirs(&dirs), None);
        bad |= report(&run, defaults_err.take());
        units += run.units.len();
    }
    // A file on the search path is checked as the generator sees it (drop-ins and
    // references from the whole search path); any other file with its own directory.
    // Files are grouped so that each search is walked once.
    let canon_roots: Vec<(PathBuf, PathBuf)> = (opts.roots.iter())
        .filter_map(|r| Some((r.path.canonicalize().ok()?, r.path.clone())))
        .collect();
    let mut groups: Vec<(Option<PathBuf>, HashSet<PathBuf>)> = Vec::new();
    for f in files {
        let on_path = f.canonicalize().ok().and_then(|c| {
            canon_roots
                .iter()
                .find_map(|(cr, r)| Some(r.join(c.strip_prefix(cr).ok()?)))
        });
        let (key, f) = match on_path {
            Some(p) => (None, p),
            None => (Some(f.parent().unwrap_or(Path::new("/")).to_owned()), f),
        };
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, set)) => {
                set.insert(f);
            }
            None => groups.push((key, HashSet::from([f]))),
        }
    }
    groups.sort_by(|a, b| a.0.cmp(&b.0));
    for (dir, set) in &groups {
        let run = match dir {
            Some(dir) => generator::check(
                &opts.clone().with_dirs(std::slice::from_ref(dir)),
                Some(set),
            ),
            None => generator::check(&opts, Some(set)),
        };
        let reported = report(&run, defaults_err.take());
        bad |= reported;
        units += run.units.len();
        // A file that yields no unit and no error was not read: its note says why.
        let mut files: Vec<&PathBuf> = set.iter().collect();
        files.sort();
        for f in files {
            let made = (f.file_name().and_then(|n| n.to_str()))
                .and_then(SourceKind::from_file_name)
                .is_some_and(|(k, stem)| {
                    let unit = rootlet::quadlet::unit_name_for(k, stem);
                    run.units.iter().any(|u| u.name == unit)
                });
            if !made && !reported {
                let shown = show_path(f);
                if !run
                    .notes
                    .iter()
                    .any(|n| n.starts_with(&format!("{shown}: ")))
                {
                    say!("{shown}: not read");
                }
                bad = true;
            }
        }
    }
    if bad {
        ExitCode::FAILURE
    } else {
        say!("rootlet: {units} unit(s) OK");
        ExitCode::SUCCESS
    }
}

fn check_report(run: &Run, defaults_err: Option<&rootlet::error::SourceError>) -> ExitCode {
    if report(run, defaults_err) {
        ExitCode::FAILURE
    } else {
        say!("rootlet: {} unit(s) OK", run.units.len());
        ExitCode::SUCCESS
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
        } => generate(opts, defaults_err.as_ref(), dry_run, output, dirs),
        Command::Check { paths } => check(opts, defaults_err.as_ref(), paths),
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
