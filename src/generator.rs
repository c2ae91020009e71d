//! One generator run: find sources, parse them with their drop-ins, translate each on its
//! own (a broken file costs only its own unit), then write units and install symlinks.

use crate::error::SourceError;
use crate::quadlet::{self, socket, Context, Defaults, Generated, Source, SourceKind};
use crate::search::{self, Root};
use crate::unit::UnitFile;
use std::collections::{BTreeMap, HashMap};
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
    /// The parsed sources, by file name (kept: dropping thousands of them costs time a
    /// generator that exits next does not need to spend).
    pub sources: BTreeMap<String, Source>,
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
    load_source_with(&mut Vec::new(), path, name, kind, dropin_dirs)
}

/// [`load_source`] reading through `buf` (one buffer per thread, not one per file).
fn load_source_with(
    buf: &mut Vec<u8>,
    path: &Path,
    name: &str,
    kind: SourceKind,
    dropin_dirs: &HashMap<String, Vec<PathBuf>>,
) -> Result<Source, SourceError> {
    let mut parse = |p: &Path| -> Result<UnitFile, SourceError> {
        read_file(p, buf).map_err(|e| SourceError::new(p, 0, format!("cannot read: {e}")))?;
        UnitFile::parse_bytes(buf).map_err(|e| SourceError::new(p, e.line(), e.message()))
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

/// Read a file into `buf` without a `stat` for its size (one syscall less per file;
/// sources are small).
fn read_file(p: &Path, buf: &mut Vec<u8>) -> io::Result<()> {
    use std::io::Read;
    buf.clear();
    let f = std::fs::File::open(p)?;
    f.take(MAX_SOURCE + 1).read_to_end(buf)?;
    if buf.len() as u64 > MAX_SOURCE {
        return Err(io::Error::other(format!("larger than {MAX_SOURCE} bytes")));
    }
    Ok(())
}

/// `items.iter().map(f).collect()`, on up to 4 threads when there is enough work to
/// share (sources are independent; the result keeps the input order).
pub fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    par_map_with(items, || (), |_, t| f(t))
}

/// [`par_map`] with a scratch value per thread, made by `init`.
pub fn par_map_with<T: Sync, R: Send, S>(
    items: &[T],
    init: impl Fn() -> S + Sync,
    f: impl Fn(&mut S, &T) -> R + Sync,
) -> Vec<R> {
    const MIN_PER_THREAD: usize = 128;
    let threads = if items.len() < 2 * MIN_PER_THREAD {
        1 // not worth asking how many CPUs there are (that reads cgroup files)
    } else {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .min(4)
            .min(items.len() / MIN_PER_THREAD)
    };
    if threads <= 1 {
        let mut state = init();
        return items.iter().map(|t| f(&mut state, t)).collect();
    }
    let chunk = items.len().div_ceil(threads);
    let (f, init) = (&f, &init);
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|c| {
                scope.spawn(move || {
                    let mut state = init();
                    c.iter().map(|t| f(&mut state, t)).collect::<Vec<R>>()
                })
            })
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
    let loaded = par_map_with(
        &disc.sources,
        || Vec::with_capacity(8192),
        |buf, f| load_source_with(buf, &f.path, &f.name, f.kind, &disc.dropin_dirs),
    );
    for (f, r) in disc.sources.iter().zip(loaded) {
        match r {
            Ok(s) => {
                sources.insert(f.name.clone(), s);
            }
            Err(e) => out.errors.push(e),
        }
    }
    translate_all(&sources, opts, &mut out);
    out.sources = sources;
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
/// Names were checked to be valid unit names, so nothing lands outside `dir`. Files are
/// created relative to open directories (no path walk per file), on up to 4 threads.
pub fn write(run: &Run, dir: &Path) -> io::Result<()> {
    use rustix::fs::{Mode, OFlags};
    std::fs::create_dir_all(dir)?;
    let open_dir = |p: &Path| -> io::Result<std::os::fd::OwnedFd> {
        Ok(rustix::fs::open(
            p,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?)
    };
    let top = open_dir(dir)?;
    // The few `X.target.wants/` directories first, each opened once.
    let mut subdirs: HashMap<&str, std::os::fd::OwnedFd> = HashMap::new();
    for l in run.units.iter().flat_map(|g| &g.links) {
        if let Some((sub, _)) = l.path.rsplit_once('/') {
            if !subdirs.contains_key(sub) {
                let p = dir.join(sub);
                std::fs::create_dir_all(&p)?;
                subdirs.insert(sub, open_dir(&p)?);
            }
        }
    }
    let write_one = |text: &mut String, g: &Generated| -> io::Result<()> {
        text.clear();
        g.text_into(text);
        let fd = rustix::fs::openat(
            &top,
            g.name.as_str(),
            OFlags::WRONLY | OFlags::CREATE | OFlags::TRUNC | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o644),
        )?;
        io::Write::write_all(&mut std::fs::File::from(fd), text.as_bytes())?;
        for l in &g.links {
            let (d, name) = match l.path.rsplit_once('/') {
                Some((sub, name)) => (&subdirs[sub], name),
                None => (&top, l.path.as_str()),
            };
            match rustix::fs::symlinkat(l.target.as_str(), d, name) {
                Err(rustix::io::Errno::EXIST) => {
                    rustix::fs::unlinkat(d, name, rustix::fs::AtFlags::empty())?;
                    rustix::fs::symlinkat(l.target.as_str(), d, name)?;
                }
                r => r?,
            }
        }
        Ok(())
    };
    par_map_with(&run.units, || String::with_capacity(4096), write_one)
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
