//! One generator run: find sources, parse them with their drop-ins, translate each on its
//! own (a broken file costs only its own unit), then write units and install symlinks.

use crate::error::SourceError;
use crate::quadlet::{self, socket, Context, Defaults, Generated, Source, SourceKind};
use crate::search::{self, Root};
use crate::unit::UnitFile;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io;
use std::path::{Path, PathBuf};

/// Settings of a run.
#[derive(Debug, Clone)]
pub struct Options {
    pub roots: Vec<Root>,
    /// Path of podman in the generated command lines (`PODMAN`, default `/usr/bin/podman`).
    pub podman: String,
    pub defaults: Defaults,
}

impl Options {
    /// From the process environment, as a generator run by the user manager sees it.
    /// An unreadable or broken defaults file is an error of its own; the built-in defaults
    /// are then used.
    pub fn from_env() -> (Options, Option<SourceError>) {
        let env = search::UserEnv::from_process();
        let (defaults, err) = match env.defaults_file() {
            Some(p) => match Defaults::load(&p) {
                Ok(d) => (d, None),
                Err(e) => (Defaults::default(), Some(e)),
            },
            None => (Defaults::default(), None),
        };
        let podman = std::env::var("PODMAN")
            .ok()
            .filter(|p| p.starts_with('/'))
            .unwrap_or_else(|| "/usr/bin/podman".into());
        (
            Options {
                roots: env.search_roots(),
                podman,
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
    pub units: Vec<Generated>,
    pub errors: Vec<SourceError>,
    pub notes: Vec<String>,
}

/// Read one source file with its drop-ins.
pub fn load_source(
    path: &Path,
    name: &str,
    kind: SourceKind,
    dropin_dirs: &HashMap<String, Vec<PathBuf>>,
) -> Result<Source, SourceError> {
    let parse = |p: &Path| -> Result<UnitFile, SourceError> {
        let data = read_file(p).map_err(|e| SourceError::new(p, 0, format!("cannot read: {e}")))?;
        UnitFile::parse_bytes(&data).map_err(|e| SourceError::new(p, e.line(), e.message()))
    };
    let mut file = parse(path)?;
    for d in search::dropins(name, dropin_dirs) {
        file.merge(parse(&d)?);
    }
    Ok(Source {
        path: path.to_owned(),
        name: name.to_owned(),
        kind,
        file,
    })
}

/// Largest source file read: far beyond any real unit, small enough to never hurt.
pub const MAX_SOURCE: u64 = 16 * 1024 * 1024;

/// Read a file without a `stat` for its size (one syscall less per file; sources are small).
fn read_file(p: &Path) -> io::Result<Vec<u8>> {
    use std::io::Read;
    let f = std::fs::File::open(p)?;
    let mut data = Vec::with_capacity(4096);
    f.take(MAX_SOURCE + 1).read_to_end(&mut data)?;
    if data.len() as u64 > MAX_SOURCE {
        return Err(io::Error::other(format!("larger than {MAX_SOURCE} bytes")));
    }
    Ok(data)
}

/// Find, parse and translate everything. Writes nothing.
pub fn run(opts: &Options) -> Run {
    let disc = search::discover(&opts.roots);
    let mut out = Run {
        notes: disc.notes,
        errors: disc.errors,
        ..Run::default()
    };
    let mut sources: BTreeMap<String, Source> = BTreeMap::new();
    for f in &disc.sources {
        match load_source(&f.path, &f.name, f.kind, &disc.dropin_dirs) {
            Ok(s) => {
                sources.insert(f.name.clone(), s);
            }
            Err(e) => out.errors.push(e),
        }
    }
    translate_all(&sources, opts, &mut out);
    out.errors
        .sort_by(|a, b| (&a.path, a.line).cmp(&(&b.path, b.line)));
    out
}

/// Translate parsed sources: sockets first, so that the services they activate are wired
/// to exactly the sockets that were generated.
pub fn translate_all(sources: &BTreeMap<String, Source>, opts: &Options, out: &mut Run) {
    let no_sockets = BTreeMap::new();
    let ctx0 = Context {
        podman: &opts.podman,
        defaults: &opts.defaults,
        sources,
        sockets_for: &no_sockets,
    };
    let service_units: BTreeMap<String, &Source> = sources
        .values()
        .filter(|s| s.kind != SourceKind::Socket)
        .map(|s| (s.unit_name(), s))
        .collect();
    let mut sockets_for: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut generated: Vec<Generated> = Vec::new();
    for s in sources.values().filter(|s| s.kind == SourceKind::Socket) {
        match quadlet::translate(s, &ctx0) {
            Ok(g) => {
                if let Ok(Some(svc)) = socket::activated_service(s) {
                    if service_units.contains_key(&svc) {
                        sockets_for.entry(svc).or_default().push(g.name.clone());
                    }
                }
                generated.push(g);
            }
            Err(e) => out.errors.push(e),
        }
    }
    let ctx = Context {
        sockets_for: &sockets_for,
        ..ctx0
    };
    for s in sources.values().filter(|s| s.kind != SourceKind::Socket) {
        match quadlet::translate(s, &ctx) {
            Ok(g) => generated.push(g),
            Err(e) => out.errors.push(e),
        }
    }
    // Two sources must not become the same unit (`a-network.container`, `a.network`),
    // nor claim the same symlink.
    generated.sort_by(|a, b| a.name.cmp(&b.name));
    let mut names: BTreeMap<String, PathBuf> = BTreeMap::new();
    let mut links: BTreeMap<String, String> = BTreeMap::new();
    for g in generated {
        let src = source_path(&g);
        if let Some(first) = names.get(&g.name) {
            out.errors.push(SourceError::new(
                &src,
                0,
                format!("becomes {} like {}: skipped", g.name, first.display()),
            ));
            continue;
        }
        if let Some(l) = g
            .links
            .iter()
            .find(|l| links.get(&l.path).is_some_and(|t| *t != l.target))
        {
            out.errors.push(SourceError::new(
                &src,
                0,
                format!(
                    "install symlink {} is claimed by another unit: skipped",
                    l.path
                ),
            ));
            continue;
        }
        for l in &g.links {
            links.insert(l.path.clone(), l.target.clone());
        }
        names.insert(g.name.clone(), src);
        out.units.push(g);
    }
}

fn source_path(g: &Generated) -> PathBuf {
    g.file
        .section("Unit")
        .and_then(|s| s.last("SourcePath"))
        .map(|e| PathBuf::from(e.value.replace("%%", "%")))
        .unwrap_or_default()
}

/// Write the units and their symlinks into `dir` (a generator's NORMAL directory).
/// Names were checked to be valid unit names, so nothing lands outside `dir`.
pub fn write(run: &Run, dir: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut made: HashSet<PathBuf> = HashSet::new();
    for g in &run.units {
        std::fs::write(dir.join(&g.name), g.text())?;
        for l in &g.links {
            let p = dir.join(&l.path);
            if let Some(parent) = p.parent() {
                if parent != dir && !made.contains(parent) {
                    std::fs::create_dir_all(parent)?;
                    made.insert(parent.to_owned());
                }
            }
            match std::os::unix::fs::symlink(&l.target, &p) {
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    std::fs::remove_file(&p)?;
                    std::os::unix::fs::symlink(&l.target, &p)?;
                }
                r => r?,
            }
        }
    }
    Ok(())
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
