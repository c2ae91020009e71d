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
use crate::kind::KINDS;
use crate::quadlet::{Defaults, Generated, Source, SourceKind};
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
    /// Where the version asked of podman is kept between runs
    /// (`$XDG_RUNTIME_DIR/rootlet/podman-version`; see [`crate::podman::Lazy::cached_in`]).
    pub version_cache: Option<PathBuf>,
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
                version_cache: env.runtime().map(|r| r.join("rootlet/podman-version")),
                defaults,
            },
            err,
        )
    }

    /// A run over `roots` for `podman_version`, podman at its usual path, its version not
    /// kept between runs, the built-in defaults (set a field to change one): the runs of
    /// tests and properties, which must not depend on the caller's environment.
    pub fn new(roots: Vec<Root>, podman_version: crate::podman::Target) -> Options {
        Options {
            roots,
            podman: crate::env::DEFAULT_PODMAN.into(),
            podman_version,
            version_cache: None,
            defaults: Defaults::default(),
        }
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
    /// The run's podman, when it is older than some kinds of its sources need: its message
    /// is the first of `errors`.
    pub too_old: Option<crate::podman::TooOld>,
}

impl Run {
    /// Every note, warning and error of the run, one line each, in the one format every
    /// command prints them in (the generator into the journal, `rootlet check`,
    /// `generate` and `regenerate`): `rootlet: note: ...`, `rootlet: warning:
    /// file:line: ...`, and errors as `file:line: message`. A broken defaults file
    /// (`defaults_err`, from [`Options::from_env`]) is an error of its own: the run used
    /// the built-in defaults.
    pub fn diagnostics(&self, defaults_err: Option<&SourceError>) -> String {
        let mut s = String::new();
        for n in &self.notes {
            s.push_str(&format!("rootlet: note: {n}\n"));
        }
        if let Some(e) = defaults_err {
            s.push_str(&format!("{e} (using the built-in defaults)\n"));
        }
        for w in &self.warnings {
            s.push_str(&format!("rootlet: warning: {w}\n"));
        }
        for e in &self.errors {
            s.push_str(&format!("{e}\n"));
        }
        s
    }

    /// The last line `rootlet check` prints when the run failed: how many errors in how
    /// many files, and how many units were made all the same (`rootlet: 3 error(s) in 2
    /// file(s); 4 unit(s) OK`).
    pub fn summary(&self, defaults_err: Option<&SourceError>) -> String {
        // The podman's one message (first) is about the run, not a file.
        let own = (self.errors)
            .get(usize::from(self.too_old.is_some())..)
            .unwrap_or_default();
        let files: HashSet<&Path> = (own.iter().chain(defaults_err))
            .map(|e| e.path.as_path())
            .collect();
        let errors = own.len() + usize::from(defaults_err.is_some());
        format!(
            "rootlet: {errors} error(s) in {} file(s); {} unit(s) OK",
            files.len(),
            self.units.len()
        )
    }

    /// Whether the run failed: an error, or a broken defaults file.
    pub fn failed(&self, defaults_err: Option<&SourceError>) -> bool {
        defaults_err.is_some() || !self.errors.is_empty()
    }
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

/// `rootlet check PATH...`: directories are checked whole, files one by one, each with
/// its drop-ins; no path means the whole search path ([`check`]). A file on the search
/// path is checked as the generator sees it (drop-ins and references from the whole
/// search path), any other file with its own directory; files are grouped so that each
/// search is walked once. A path that is not a directory or a source file is an error,
/// and then nothing is checked. A file that yields no unit, no error and no note was not
/// read: that is an error too.
pub fn check_paths(opts: &Options, paths: &[PathBuf]) -> Run {
    if paths.is_empty() {
        return check(opts, None);
    }
    let mut dirs: Vec<PathBuf> = Vec::new();
    let mut files: HashSet<PathBuf> = HashSet::new();
    let mut bad = Run::default();
    for p in paths {
        let abs = std::path::absolute(p).unwrap_or_else(|_| p.clone());
        let why = match std::fs::metadata(&abs) {
            Ok(m) if m.is_dir() => {
                if !dirs.contains(&abs) {
                    dirs.push(abs);
                }
                continue;
            }
            Ok(m) => match abs.file_name().and_then(|n| n.to_str()) {
                None => "name is not valid UTF-8: rootlet skips such files".to_owned(),
                Some(name) if SourceKind::from_file_name(name).is_none() => {
                    let exts: Vec<String> =
                        KINDS.iter().map(|k| format!(".{}", k.extension)).collect();
                    format!("not a source file ({})", exts.join(", "))
                }
                Some(_) if !m.is_file() => "not a regular file".to_owned(),
                Some(_) => {
                    files.insert(abs);
                    continue;
                }
            },
            Err(e) => e.to_string(),
        };
        bad.errors.push(SourceError::new(p, 0, why));
    }
    if !bad.errors.is_empty() {
        return bad;
    }
    let mut all = Run::default();
    if !dirs.is_empty() {
        all.absorb(check(&opts.clone().with_dirs(&dirs), None));
    }
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
        let mut run = match dir {
            Some(dir) => check(
                &opts.clone().with_dirs(std::slice::from_ref(dir)),
                Some(set),
            ),
            None => check(opts, Some(set)),
        };
        if run.errors.is_empty() {
            let mut files: Vec<&PathBuf> = set.iter().collect();
            files.sort();
            for f in files {
                let made = (f.file_name().and_then(|n| n.to_str()))
                    .and_then(SourceKind::from_file_name)
                    .is_some_and(|(k, stem)| {
                        let unit = crate::quadlet::unit_name_for(k, stem);
                        run.units.iter().any(|u| u.name == unit)
                    });
                if made {
                    continue;
                }
                // Its note (shadowed, say) becomes its error; without one, it was not read.
                let shown = format!("{}: ", crate::error::show_path(f));
                let why = match run.notes.iter().position(|n| n.starts_with(&shown)) {
                    Some(i) => run.notes.remove(i)[shown.len()..].to_owned(),
                    None => "not read".to_owned(),
                };
                run.errors.push(SourceError::new(f, 0, why));
            }
        }
        all.absorb(run);
    }
    all
}

impl Run {
    /// Add another run's units, errors, warnings and notes to this one.
    fn absorb(&mut self, mut other: Run) {
        // The podman's message stays one, first, for the kinds of both.
        if let Some(t) = other.too_old.take() {
            other.errors.remove(0);
            let t = match self.too_old.take() {
                Some(mut mine) => {
                    self.errors.remove(0);
                    mine.kinds.extend(t.kinds);
                    mine
                }
                None => t,
            };
            self.errors.insert(0, t.error());
            self.too_old = Some(t);
        }
        self.units.extend(other.units);
        self.errors.extend(other.errors);
        self.warnings.extend(other.warnings);
        self.notes.extend(other.notes);
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The one format of a run's messages, as the journal, `check` and `regenerate` show
    /// them: notes, the defaults file, warnings, errors; one line each.
    #[test]
    fn diagnostics_are_one_line_each_in_one_format() {
        let e = |p: &str, line, m: &str| SourceError::new(Path::new(p), line, m);
        let run = Run {
            units: Vec::new(),
            errors: vec![e("/s/a.container", 3, "unknown key `X`")],
            warnings: vec![e("/s/b.container", 2, "Image=: short\nname")],
            notes: vec!["/s/k.kube: not translated".into()],
            too_old: None,
        };
        let defaults = e("/c/defaults.conf", 1, "bad");
        assert_eq!(
            run.diagnostics(Some(&defaults)),
            "rootlet: note: /s/k.kube: not translated\n\
             /c/defaults.conf:1: bad (using the built-in defaults)\n\
             rootlet: warning: /s/b.container:2: Image=: short\\nname\n\
             /s/a.container:3: unknown key `X`\n"
        );
        assert!(run.failed(None));
        let clean = Run::default();
        assert_eq!(clean.diagnostics(None), "");
        assert!(!clean.failed(None) && clean.failed(Some(&defaults)));
        assert_eq!(
            run.summary(Some(&defaults)),
            "rootlet: 2 error(s) in 2 file(s); 0 unit(s) OK"
        );
    }
}
