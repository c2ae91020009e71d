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

/// `items.iter().map(f).collect()`, on up to 4 threads when there is enough work to
/// share (sources are independent; the result keeps the input order).
pub fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    const MIN_PER_THREAD: usize = 128;
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(4)
        .min(items.len() / MIN_PER_THREAD);
    if threads <= 1 {
        return items.iter().map(f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    let f = &f;
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|c| scope.spawn(move || c.iter().map(f).collect::<Vec<R>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| match h.join() {
                Ok(v) => v,
                Err(p) => std::panic::resume_unwind(p),
            })
            .collect()
    })
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
    let loaded = par_map(&disc.sources, |f| {
        load_source(&f.path, &f.name, f.kind, &disc.dropin_dirs)
    });
    for (f, r) in disc.sources.iter().zip(loaded) {
        match r {
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
    let services: Vec<&Source> = sources
        .values()
        .filter(|s| s.kind != SourceKind::Socket)
        .collect();
    for r in par_map(&services, |s| quadlet::translate(s, &ctx)) {
        match r {
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
    // The few `X.target.wants/` directories first, then files and links in parallel.
    let mut made: HashSet<&Path> = HashSet::new();
    let paths: Vec<(PathBuf, Vec<PathBuf>)> = run
        .units
        .iter()
        .map(|g| {
            (
                dir.join(&g.name),
                g.links.iter().map(|l| dir.join(&l.path)).collect(),
            )
        })
        .collect();
    for (_, links) in &paths {
        for p in links {
            if let Some(parent) = p.parent() {
                if parent != dir && made.insert(parent) {
                    std::fs::create_dir_all(parent)?;
                }
            }
        }
    }
    let work: Vec<(&Generated, &(PathBuf, Vec<PathBuf>))> = run.units.iter().zip(&paths).collect();
    par_map(&work, |(g, (file, links))| -> io::Result<()> {
        std::fs::write(file, g.text())?;
        for (l, p) in g.links.iter().zip(links) {
            match std::os::unix::fs::symlink(&l.target, p) {
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    std::fs::remove_file(p)?;
                    std::os::unix::fs::symlink(&l.target, p)?;
                }
                r => r?,
            }
        }
        Ok(())
    })
    .into_iter()
    .collect()
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
