//! One generator run: find sources, parse them with their drop-ins, translate each on its
//! own (a broken file costs only its own unit), then write units and install symlinks.

use crate::error::SourceError;
use crate::quadlet::{self, socket, Context, Defaults, Generated, Source, SourceKind};
use crate::search::{self, Root};
use crate::unit::UnitFile;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

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
        let env = crate::env::UserEnv::from_process();
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
        UnitFile::parse_bytes_with(buf, &quadlet::known_key)
            .map_err(|e| SourceError::new(p, e.line(), e.message()))
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
/// share (sources are independent; the result keeps the input order), with a scratch
/// value per thread made by `init` (buffers).
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
    // Items are taken in small blocks as threads get free, so a thread that is slowed down
    // (a slow file, a busy CPU) does not hold the others up at the end.
    const BLOCK: usize = 16;
    let next = AtomicUsize::new(0);
    let (f, init, next) = (&f, &init, &next);
    let work = move || {
        let mut state = init();
        let mut done: Vec<(usize, Vec<R>)> = Vec::new();
        loop {
            let start = next.fetch_add(BLOCK, Ordering::Relaxed);
            if start >= items.len() {
                return done;
            }
            let block = &items[start..items.len().min(start + BLOCK)];
            done.push((start, block.iter().map(|t| f(&mut state, t)).collect()));
        }
    };
    let mut blocks = std::thread::scope(|scope| {
        let handles: Vec<_> = (1..threads).map(|_| scope.spawn(work)).collect();
        let mut blocks = work(); // this thread works too
        for h in handles {
            match h.join() {
                Ok(v) => blocks.extend(v),
                Err(p) => std::panic::resume_unwind(p),
            }
        }
        blocks
    });
    blocks.sort_unstable_by_key(|(start, _)| *start);
    blocks.into_iter().flat_map(|(_, v)| v).collect()
}

/// Find, parse and translate everything. Writes nothing.
pub fn run(opts: &Options) -> Run {
    let disc = search::discover(&opts.roots);
    process(&disc, &[], opts, None).0
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
    process(&disc, &[], opts, Some(&out))
}

/// Translate parsed sources (no search path, nothing written): sockets first, so that the
/// services they activate are wired to exactly the sockets that were generated.
pub fn translate_all(sources: &BTreeMap<String, Source>, opts: &Options, out: &mut Run) {
    let parsed: Vec<&Source> = sources.values().collect();
    let r = process(&search::Discovery::default(), &parsed, opts, None).0;
    out.units.extend(r.units);
    out.errors.extend(r.errors);
    out.warnings.extend(r.warnings);
}

/// A source to translate: already parsed, or to be read by the thread that translates it.
enum Job<'a> {
    Parsed(&'a Source),
    Load(&'a search::Found),
}

/// What became of one source.
enum Outcome {
    /// Written at once; what it claimed in the output directory.
    Written(String, Vec<quadlet::Link>),
    /// To be settled with the others (and written then, if it wins), with the path and
    /// name of its source.
    Kept(Generated, PathBuf, String),
    Failed(SourceError),
    WriteFailed(io::Error),
}

/// The whole run: `disc`'s sources (read here) and `parsed` ones.
fn process(
    disc: &search::Discovery,
    parsed: &[&Source],
    opts: &Options,
    out: Option<&Output>,
) -> (Run, io::Result<()>) {
    let mut run = Run {
        notes: disc.notes.clone(),
        errors: disc.errors.clone(),
        ..Run::default()
    };
    // The units sources become, known before any is read (file names are unique, so only
    // a network or volume can become the unit a container becomes: `a-network.container`
    // and `a.network`).
    let all = || {
        disc.sources
            .iter()
            .map(|f| (f.kind, f.name.as_str()))
            .chain(parsed.iter().map(|s| (s.kind, s.name.as_str())))
    };
    let unit_of = |(kind, name): (SourceKind, &str)| {
        quadlet::unit_name_for(kind, name.rsplit_once('.').map_or(name, |(s, _)| s))
    };
    let ref_units: HashSet<String> = all()
        .filter(|(k, _)| matches!(k, SourceKind::Network | SourceKind::Volume))
        .map(unit_of)
        .collect();
    // Sources other units refer to (networks, volumes, sockets) are read first; containers
    // are read by the thread that translates them.
    let refs: Vec<&search::Found> = disc
        .sources
        .iter()
        .filter(|f| f.kind != SourceKind::Container)
        .collect();
    let loaded = par_map_with(
        &refs,
        || Vec::with_capacity(8192),
        |buf, f| load_source_with(buf, &f.path, &f.name, f.kind, &disc.dropin_dirs),
    );
    let mut sources: BTreeMap<String, &Source> = BTreeMap::new();
    let mut owned: Vec<Source> = Vec::new();
    for r in loaded {
        match r {
            Ok(s) => owned.push(s),
            Err(e) => run.errors.push(e),
        }
    }
    for s in owned.iter().chain(parsed.iter().copied()) {
        sources.insert(s.name.clone(), s);
    }
    let no_sockets = BTreeMap::new();
    // Containers are read by the thread that translates them; the rare reference to one
    // (`Network=db.container`) reads it again here.
    let load = |name: &str| -> Option<Result<Source, SourceError>> {
        let i = disc
            .sources
            .binary_search_by(|f| f.name.as_str().cmp(name))
            .ok()?;
        let f = &disc.sources[i];
        Some(load_source(&f.path, &f.name, f.kind, &disc.dropin_dirs))
    };
    let ctx0 = Context {
        podman: &opts.podman,
        defaults: &opts.defaults,
        sources: &sources,
        sockets_for: &no_sockets,
        load: Some(&load),
    };

    // Sockets first: a service is wired to the sockets that were generated for it.
    let mut sockets_for: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut services: Option<HashSet<String>> = None;
    let mut outcomes: Vec<Outcome> = Vec::new();
    for s in sources.values().filter(|s| s.kind == SourceKind::Socket) {
        let o = match quadlet::translate(s, &ctx0) {
            Ok(g) => {
                if let Ok(Some(svc)) = socket::activated_service(s) {
                    let services = services.get_or_insert_with(|| {
                        all()
                            .filter(|(k, _)| *k != SourceKind::Socket)
                            .map(unit_of)
                            .collect()
                    });
                    if services.contains(&svc) {
                        sockets_for.entry(svc).or_default().push(g.name.clone());
                    }
                }
                Outcome::Kept(g, s.path.clone(), s.name.clone())
            }
            Err(e) => Outcome::Failed(e),
        };
        outcomes.push(o);
    }
    let ctx = Context {
        sockets_for: &sockets_for,
        ..ctx0
    };
    let jobs: Vec<Job> = disc
        .sources
        .iter()
        .filter(|f| f.kind == SourceKind::Container)
        .map(Job::Load)
        .chain(
            sources
                .values()
                .filter(|s| s.kind != SourceKind::Socket)
                .map(|s| Job::Parsed(s)),
        )
        .collect();
    let done = par_map_with(
        &jobs,
        || (Vec::with_capacity(8192), String::with_capacity(4096)),
        |(buf, text), job| {
            let loaded;
            let src = match job {
                Job::Parsed(s) => *s,
                Job::Load(f) => {
                    match load_source_with(buf, &f.path, &f.name, f.kind, &disc.dropin_dirs) {
                        Ok(s) => {
                            loaded = s;
                            &loaded
                        }
                        Err(e) => return (Outcome::Failed(e), Vec::new()),
                    }
                }
            };
            let mut g = match quadlet::translate(src, &ctx) {
                Ok(g) => g,
                Err(e) => return (Outcome::Failed(e), Vec::new()),
            };
            let warnings = std::mem::take(&mut g.warnings);
            let o = match out {
                Some(out) if stands_alone(&g, src, &ref_units) => match out.write(&g, text) {
                    Ok(()) => Outcome::Written(g.name, g.links),
                    Err(e) => Outcome::WriteFailed(e),
                },
                _ => Outcome::Kept(g, src.path.clone(), src.name.clone()),
            };
            (o, warnings)
        },
    );
    for (o, w) in done {
        outcomes.push(o);
        run.warnings.extend(w);
    }

    let mut written: Vec<(String, Vec<quadlet::Link>)> = Vec::new();
    let mut kept: Vec<Kept> = Vec::new();
    let mut write_err: Option<io::Error> = None;
    for o in outcomes {
        match o {
            Outcome::Written(name, links) => written.push((name, links)),
            Outcome::Kept(g, path, file) => kept.push(Kept { g, path, file }),
            Outcome::Failed(e) => run.errors.push(e),
            Outcome::WriteFailed(e) => {
                write_err.get_or_insert(e);
            }
        }
    }
    if !kept.is_empty() {
        run.units = settle(&written, kept, &mut run.errors);
    }
    if let Some(out) = out {
        let mut text = String::new();
        for g in &run.units {
            if let Err(e) = out.write(g, &mut text) {
                write_err.get_or_insert(e);
            }
        }
    }
    run.errors
        .sort_by(|a, b| (&a.path, a.line).cmp(&(&b.path, b.line)));
    run.warnings
        .sort_by(|a, b| (&a.path, a.line).cmp(&(&b.path, b.line)));
    (run, write_err.map_or(Ok(()), Err))
}

/// A unit made but not written yet, with the path and file name of its source.
struct Kept {
    g: Generated,
    path: PathBuf,
    file: String,
}

/// Settle the units not written at once, beside those that were (`written`: names and
/// links): two sources must not become the same unit (`a-network.container`, `a.network`)
/// nor claim the same path; the first by unit name, then file name, wins, and a unit file
/// beats any symlink of its name. Returns the winners, by name.
fn settle(
    written: &[(String, Vec<quadlet::Link>)],
    mut kept: Vec<Kept>,
    errors: &mut Vec<SourceError>,
) -> Vec<Generated> {
    // path -> link target, or "" for a unit file
    let mut claimed: HashMap<&str, &str> = HashMap::new();
    for (name, links) in written {
        claimed.insert(name, "");
        for l in links {
            claimed.insert(&l.path, &l.target);
        }
    }
    kept.sort_by(|a, b| (&a.g.name, &a.file).cmp(&(&b.g.name, &b.file)));
    let mut named: Vec<Kept> = Vec::new();
    for k in kept {
        let first = match named.last() {
            Some(prev) if prev.g.name == k.g.name => Some(prev.path.display().to_string()),
            _ if claimed.contains_key(k.g.name.as_str()) => Some("another source".into()),
            _ => None,
        };
        match first {
            Some(first) => errors.push(SourceError::new(
                &k.path,
                0,
                format!("becomes {} like {first}: skipped", k.g.name),
            )),
            None => named.push(k),
        }
    }
    // Links of the winners so far, and the unit files of all of them.
    let mut links: HashMap<String, String> = named
        .iter()
        .map(|k| (k.g.name.clone(), String::new()))
        .collect();
    let mut won: Vec<Generated> = Vec::new();
    for k in named {
        let clash = |l: &&quadlet::Link| {
            let t = claimed.get(l.path.as_str()).copied();
            let t = t.or_else(|| links.get(&l.path).map(String::as_str));
            t.is_some_and(|t| t != l.target)
        };
        if let Some(l) = k.g.links.iter().find(clash) {
            errors.push(SourceError::new(
                &k.path,
                0,
                format!(
                    "install symlink {} is claimed by another unit: skipped",
                    l.path
                ),
            ));
            continue;
        }
        for l in &k.g.links {
            links.insert(l.path.clone(), l.target.clone());
        }
        won.push(k.g);
    }
    won
}

/// Whether `g` can be written before the others are made: it is a container's unit,
/// named after it and not the unit of a network or volume too (`ref_units`); it is not an
/// instance (a template's `DefaultInstance=` link could name it); and its only symlinks are
/// `X.wants/NAME`-like ones named after itself (no `Alias=`). No other unit can then claim
/// a path it writes.
fn stands_alone(g: &Generated, src: &Source, ref_units: &HashSet<String>) -> bool {
    src.kind == SourceKind::Container
        && g.name.strip_suffix(".service") == Some(src.stem())
        && !ref_units.contains(&g.name)
        && !g
            .name
            .split_once('@')
            .is_some_and(|(_, i)| !i.starts_with('.'))
        && g.links
            .iter()
            .all(|l| l.path.rsplit_once('/').is_some_and(|(_, n)| n == g.name))
}

/// An output directory, open, with its `X.target.wants/`-like subdirectories opened as
/// they are first needed: files are created relative to them (no path walk per file).
pub struct Output {
    dir: PathBuf,
    top: OwnedFd,
    subdirs: Mutex<HashMap<String, Arc<OwnedFd>>>,
}

fn open_dir(p: &Path) -> io::Result<OwnedFd> {
    use rustix::fs::{Mode, OFlags};
    Ok(rustix::fs::open(
        p,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

impl Output {
    pub fn open(dir: &Path) -> io::Result<Output> {
        std::fs::create_dir_all(dir)?;
        Ok(Output {
            dir: dir.to_owned(),
            top: open_dir(dir)?,
            subdirs: Mutex::new(HashMap::new()),
        })
    }

    fn subdir(&self, name: &str) -> io::Result<Arc<OwnedFd>> {
        let mut map = self.subdirs.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(fd) = map.get(name) {
            return Ok(fd.clone());
        }
        let p = self.dir.join(name);
        std::fs::create_dir_all(&p)?;
        let fd = Arc::new(open_dir(&p)?);
        map.insert(name.to_owned(), fd.clone());
        Ok(fd)
    }

    /// Write one unit and its symlinks (an existing symlink is replaced), rendering the
    /// text into `text`.
    pub fn write(&self, g: &Generated, text: &mut String) -> io::Result<()> {
        use rustix::fs::{Mode, OFlags};
        text.clear();
        g.text_into(text);
        let fd = rustix::fs::openat(
            &self.top,
            g.name.as_str(),
            OFlags::WRONLY | OFlags::CREATE | OFlags::TRUNC | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o644),
        )?;
        io::Write::write_all(&mut std::fs::File::from(fd), text.as_bytes())?;
        for l in &g.links {
            let sub;
            let (d, name) = match l.path.rsplit_once('/') {
                Some((dir, name)) => {
                    sub = self.subdir(dir)?;
                    (&*sub, name)
                }
                None => (&self.top, l.path.as_str()),
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
    }
}

/// Write the units of `run` and their symlinks into `dir` (a generator's NORMAL
/// directory), on up to 4 threads. Names were checked to be valid unit names, so nothing
/// lands outside `dir`.
pub fn write(run: &Run, dir: &Path) -> io::Result<()> {
    let out = Output::open(dir)?;
    par_map_with(&run.units, String::new, |text, g| out.write(g, text))
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
