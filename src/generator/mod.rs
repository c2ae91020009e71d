//! One generator run: find sources, parse them with their drop-ins, translate each on its
//! own (a broken file costs only its own unit), then write units and install symlinks.
//!
//! One job per file:
//! - `load.rs`: reading a source with its drop-ins (bounded, regular files only, the
//!   ownership rules of shared directories);
//! - `translate.rs`: the run itself, and the table of how each kind of source is treated
//!   (a new kind of source is a new file in `quadlet/` and a line there);
//! - `settle.rs`: clashes between sources (same unit, same link);
//! - `check.rs`: what systemd would refuse in a generated unit;
//! - `output.rs`: writing units and links (atomic, never through a symlink, never outside
//!   the output directory, and never over a user's own files in `generate -o DIR`);
//! - `par.rs`: `par_map_with`, the only parallelism.

mod check;
mod load;
mod output;
mod par;
mod settle;
mod translate;

pub use check::RESERVED_UNITS;
pub use load::{load_found_source, load_source, MAX_SOURCE};
pub use output::{Existing, Output, WriteError, HEADER};
pub use par::par_map_with;

use crate::error::SourceError;
use crate::quadlet::{Defaults, Generated, Source};
use crate::search::{self, Root};
use std::collections::{BTreeMap, HashSet};
use std::io;
use std::path::{Path, PathBuf};
use translate::{process, Plan};

/// Settings of a run.
#[derive(Debug, Clone)]
pub struct Options {
    pub roots: Vec<Root>,
    /// Path of podman in the generated command lines (`PODMAN`, default `/usr/bin/podman`).
    pub podman: String,
    /// The podman version to generate for (`ROOTLET_PODMAN_VERSION`, else asked of
    /// `podman` only when a source needs it).
    pub podman_version: crate::podman::Target,
    pub defaults: Defaults,
}

impl Options {
    /// From the process environment, as a generator run by the user manager sees it.
    /// An unreadable or broken defaults file is an error of its own; the built-in defaults
    /// are then used.
    pub fn from_env() -> (Options, Option<SourceError>) {
        Self::from_user_env(&crate::env::UserEnv::from_process())
    }

    /// From a user's environment (doctor passes the one it was given).
    pub fn from_user_env(env: &crate::env::UserEnv) -> (Options, Option<SourceError>) {
        let (defaults, err) = match env.defaults_file() {
            Some(p) => match Defaults::load(&p) {
                Ok(d) => (d, None),
                Err(e) => (Defaults::default(), Some(e)),
            },
            None => (Defaults::default(), None),
        };
        let podman = env.podman().to_owned();
        (
            Options {
                roots: env.search_roots(),
                podman,
                podman_version: crate::podman::Target::from_env(),
                defaults,
            },
            err,
        )
    }

    /// Sources from the given directories only (for `rootlet generate DIR...`).
    pub fn with_dirs(mut self, dirs: &[PathBuf]) -> Options {
        self.roots = dirs
            .iter()
            .map(|d| Root::new(std::path::absolute(d).unwrap_or_else(|_| d.clone())))
            .collect();
        self
    }
}

/// The outcome of a run: units (by name) and every error and note.
#[derive(Debug, Default)]
pub struct Run {
    /// The units, sorted by name ([`generate`] leaves out those it already wrote).
    pub units: Vec<Generated>,
    pub errors: Vec<SourceError>,
    /// What quadlet warns about (the unit is still made), sorted like `errors`.
    pub warnings: Vec<SourceError>,
    pub notes: Vec<String>,
}

/// Find, parse and translate everything. Writes nothing.
pub fn run(opts: &Options) -> Run {
    let disc = search::discover(&opts.roots);
    process(&plan(&disc, &[], opts, None)).0
}

fn plan<'a>(
    disc: &'a search::Discovery,
    parsed: &'a [&'a Source],
    opts: &'a Options,
    out: Option<&'a Output>,
) -> Plan<'a> {
    Plan {
        disc,
        parsed,
        opts,
        out,
        only: None,
        strict: false,
    }
}

/// What `rootlet check` reports: [`run`], with `%` specifiers checked too, and, with
/// `only`, just the sources at those paths (with their drop-ins; the other sources of the
/// roots are read only as far as those refer to them).
pub fn check(opts: &Options, only: Option<&HashSet<PathBuf>>) -> Run {
    let disc = search::discover(&opts.roots);
    let mut p = plan(&disc, &[], opts, None);
    p.only = only;
    p.strict = true;
    process(&p).0
}

/// Find, parse and translate everything, and write the units and their symlinks into
/// `dir` (a generator's NORMAL directory): what the generator does. A unit that no other
/// can clash with is written by the thread that made it, at once (the sources, units and
/// text of a run are then never all in memory); the others (names two sources share,
/// `Alias=`, instances) are settled after all are made, exactly as [`run`] settles them.
/// The returned [`Run`] has the errors and the units written last.
pub fn generate(opts: &Options, dir: &Path) -> (Run, io::Result<()>) {
    let out = match Output::open(dir) {
        Ok(o) => o,
        Err(e) => return (Run::default(), Err(e)),
    };
    let disc = search::discover(&opts.roots);
    process(&plan(&disc, &[], opts, Some(&out)))
}

/// Translate parsed sources (no search path, nothing written): sockets first, so that the
/// services they activate are wired to exactly the sockets that were generated.
pub fn translate_all(sources: &BTreeMap<String, Source>, opts: &Options, out: &mut Run) {
    let parsed: Vec<&Source> = sources.values().collect();
    let disc = search::Discovery::default();
    let r = process(&plan(&disc, &parsed, opts, None)).0;
    out.units.extend(r.units);
    out.errors.extend(r.errors);
    out.warnings.extend(r.warnings);
}

/// Write the units of `run` and their symlinks into `dir` (a generator's NORMAL
/// directory: anything there is replaced), on up to 4 threads. Names were checked to be
/// valid unit names, so nothing lands outside `dir`.
pub fn write(run: &Run, dir: &Path) -> io::Result<()> {
    let out = Output::open(dir)?;
    par_map_with(&run.units, String::new, |text, g| out.write(g, text))
        .into_iter()
        .collect()
}

/// Write the units of `run` and their symlinks into a directory of the user's
/// (`rootlet generate -o DIR`): what is there already is replaced only if rootlet wrote
/// it ([`Existing::KeepForeign`]); nothing is removed. Every path left alone or not
/// written is returned; `Err` when the directory itself cannot be used.
pub fn write_keeping(run: &Run, dir: &Path) -> io::Result<Vec<WriteError>> {
    let out = Output::open_with(dir, Existing::KeepForeign)?;
    let mut problems = Vec::new();
    let mut text = String::new();
    for g in &run.units {
        out.write_each(g, &mut text, &mut |e| {
            problems.push(e);
            Ok(())
        })?;
    }
    Ok(problems)
}

/// The dry-run listing: `# NAME` then the unit, and `# LINK -> TARGET` for symlinks.
pub fn render(run: &Run) -> String {
    let mut s = String::new();
    for g in &run.units {
        s.push_str(&format!("# {}\n{}", g.name, g.text()));
        for l in &g.links {
            s.push_str(&format!("# {} -> {}\n", l.path, l.target));
        }
        s.push('\n');
    }
    s
}
