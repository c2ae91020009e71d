//! The no-root install: `rootlet install --user`, `rootlet uninstall --user` and
//! `rootlet regenerate`, the run that the installed path unit triggers.
//!
//! A user without root cannot add a generator, so rootlet generates into a directory on
//! the user unit path instead, `$XDG_DATA_HOME/systemd/user/` (default
//! `~/.local/share/systemd/user/`), and a path unit regenerates whenever a source changes.
//! That directory may hold the user's own units. The rules, everywhere here:
//!
//! - A path is rootlet's only if its manifest ([`manifest`]) lists it *and* it still is
//!   what rootlet wrote (content hash, link target). Anything else at a path rootlet wants
//!   (the user's file, a symlink) is foreign: left alone and reported.
//! - Writes are atomic and never follow a link ([`crate::fsutil`], [`tree`]).
//! - One run at a time ([`lock`]): a second run waits, a bounded time.
//! - Install-time values are quoted for systemd or refused ([`layout`]).
//!
//! The generated units are recorded in `$XDG_DATA_HOME/rootlet/generated.list`, the install
//! in `installed.list` (directories it created included), so that uninstall leaves the tree
//! as it found it.

pub mod layout;
pub mod lock;
pub mod manifest;
pub mod regenerate;
pub mod systemctl;
pub mod tree;

pub use crate::env::WAIT_UNIT;
pub use layout::{Layout, PATH_UNIT, SERVICE_UNIT};
pub use lock::Lock;
pub use regenerate::{fingerprint, Regenerated};
pub use systemctl::{Systemctl, SystemctlError};

use crate::env::SYSTEM_USER_UNIT_DIRS;
use manifest::{Base, Bases, Digest, Entry, Item, Name};
use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};
use thiserror::Error;
use tree::{Expect, Found, Tree};

/// Why an install, uninstall or regeneration did not happen (or stopped).
#[derive(Debug, Error)]
pub enum Error {
    #[error("HOME is not set to an absolute path")]
    NoHome,
    #[error("cannot find the directory of the rootlet executable")]
    NoBindir,
    #[error("{what} {value:?} {why}: it cannot be written into a unit file; refused")]
    Unquotable {
        what: String,
        value: String,
        why: &'static str,
    },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{}: exists and was not written by rootlet (the user's own, changed, or a symlink): left alone; remove it first", .0.display())]
    Foreign(PathBuf),
    #[error("{}: another rootlet run still holds this lock after {secs} s; giving up, nothing changed", path.display())]
    Locked { path: PathBuf, secs: u64 },
}

/// Manifests are at most this large.
const MAX_LIST: u64 = 64 << 20;

/// The pending list beside a manifest: what a run is about to write.
pub fn pending_path(list: &Path) -> PathBuf {
    list.with_extension("pending")
}

/// Read a manifest; a missing one is empty. Returns the entries and the number of lines
/// ignored.
pub fn read_list(path: &Path, bases: &Bases<'_>) -> Result<(Vec<Entry>, usize), Error> {
    let mut buf = Vec::new();
    let mut read = || -> io::Result<()> {
        let dir = crate::fsutil::open_dir(path.parent().unwrap_or(Path::new(".")))?;
        let name = path.file_name().unwrap_or_default();
        crate::fsutil::read_regular_at(std::os::fd::AsFd::as_fd(&dir), name, MAX_LIST, &mut buf)?;
        Ok(())
    };
    match read() {
        Ok(()) => Ok(manifest::parse(&buf, bases)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok((Vec::new(), 0)),
        // A symlink in place of a list is not rootlet's: left alone, reported.
        Err(e) if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) => {
            Err(Error::Foreign(path.to_owned()))
        }
        Err(source) => Err(Error::Io {
            path: path.to_owned(),
            source,
        }),
    }
}

/// Write a manifest atomically (never through a link), synced.
pub fn write_list(path: &Path, entries: &[Entry]) -> Result<(), Error> {
    crate::fsutil::write_atomic(path, &manifest::render(entries), 0o644, true).map_err(|source| {
        Error::Io {
            path: path.to_owned(),
            source,
        }
    })
}

fn remove_file(path: &Path) -> Result<bool, Error> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(source) => Err(Error::Io {
            path: path.to_owned(),
            source,
        }),
    }
}

/// The claims of `base` that hold: name → what is there. A link counts only when the
/// unit file it points at is rootlet's too. Also returns the names listed whose file
/// changed since (no longer rootlet's).
pub fn owned_claims(
    tree: &Tree,
    base: Base,
    claims: &[Entry],
    expect: &BTreeMap<Name, Expect>,
) -> (BTreeMap<Name, Found>, Vec<Name>) {
    let mut seen: BTreeMap<&Name, Found> = BTreeMap::new();
    let mut owned = BTreeMap::new();
    let mut links = Vec::new();
    let mut disowned = BTreeSet::new();
    for c in claims {
        let Entry::At {
            base: b,
            name,
            item,
        } = c
        else {
            continue;
        };
        if *b != base {
            continue;
        }
        let found = seen.entry(name).or_insert_with(|| tree.look(name)).clone();
        if found.matches(item, expect.get(name)) {
            if matches!(item, Item::Link(_)) {
                links.push((name.clone(), found));
            } else {
                owned.insert(name.clone(), found);
            }
        } else if found != Found::Nothing && !matches!(item, Item::Dir) {
            disowned.insert(name.clone());
        }
    }
    for (name, found) in links {
        let Found::Link(t) = &found else { continue };
        let unit = t.rsplit(|&b| b == b'/').next().and_then(Name::new);
        if unit.is_some_and(|u| matches!(owned.get(&u), Some(Found::File(_)))) {
            owned.insert(name, found);
        } else {
            disowned.insert(name);
        }
    }
    disowned.retain(|n| !owned.contains_key(n));
    (owned, disowned.into_iter().collect())
}

/// Remove the temporary files an interrupted run left in `tree` (`fsutil`'s
/// `.#NAME.PID.N.tmp`, beside a name of `pending`), when provably rootlet's: the process
/// that made it is gone and it holds exactly what the pending list says was being written
/// at NAME (the content, or the link target). Returns the names removed.
pub fn sweep_temporaries(tree: &Tree, base: Base, pending: &[Entry]) -> Vec<Name> {
    // (directory, file name) -> what was being written there.
    type Key = (Option<Vec<u8>>, Vec<u8>);
    let mut planned: BTreeMap<Key, Vec<&Item>> = BTreeMap::new();
    for e in pending {
        if let Entry::At {
            base: b,
            name,
            item,
        } = e
        {
            if *b == base {
                let (dir, file) = name.split();
                let key = (
                    dir.map(|d| std::os::unix::ffi::OsStrExt::as_bytes(d).to_vec()),
                    std::os::unix::ffi::OsStrExt::as_bytes(file).to_vec(),
                );
                planned.entry(key).or_default().push(item);
            }
        }
    }
    let dirs: BTreeSet<Option<Vec<u8>>> = planned.keys().map(|(d, _)| d.clone()).collect();
    let mut removed = Vec::new();
    for dir in dirs {
        let path = match &dir {
            Some(d) => tree
                .path
                .join(<std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(d)),
            None => tree.path.clone(),
        };
        let Ok(rd) = std::fs::read_dir(&path) else {
            continue;
        };
        for e in rd.flatten() {
            let f = e.file_name();
            let fb = std::os::unix::ffi::OsStrExt::as_bytes(f.as_os_str());
            let Some(inner) = fb.strip_prefix(b".#").and_then(|x| x.strip_suffix(b".tmp")) else {
                continue;
            };
            let mut parts = inner.rsplitn(3, |&b| b == b'.');
            let (Some(n), Some(pid), Some(stem)) = (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            let digits = |x: &[u8]| !x.is_empty() && x.iter().all(u8::is_ascii_digit);
            if !digits(n) || !digits(pid) {
                continue;
            }
            let alive = may_be_running(pid);
            let Some(items) = planned.get(&(dir.clone(), stem.to_vec())) else {
                continue;
            };
            let rel = match &dir {
                Some(d) => [d.as_slice(), b"/", fb].concat(),
                None => fb.to_vec(),
            };
            let Some(tmp) = Name::new(&rel) else { continue };
            if alive {
                continue;
            }
            let found = tree.look(&tmp);
            let ours = items
                .iter()
                .any(|i| !matches!(i, Item::Dir) && found.matches(i, None));
            if ours && tree.remove(&tmp, false).unwrap_or(false) {
                removed.push(tmp);
            }
        }
    }
    removed
}

/// Whether the process `pid` (decimal) may still be running (unknown counts as running).
fn may_be_running(pid: &[u8]) -> bool {
    let pid = std::str::from_utf8(pid)
        .ok()
        .and_then(|p| p.parse::<i32>().ok())
        .and_then(rustix::process::Pid::from_raw);
    match pid {
        None => true,
        Some(p) => !matches!(
            rustix::process::test_kill_process(p),
            Err(rustix::io::Errno::SRCH)
        ),
    }
}

/// Whether a system-wide copy of the wait unit exists (then the user's would shadow it).
pub fn system_wait_unit() -> bool {
    SYSTEM_USER_UNIT_DIRS
        .iter()
        .any(|d| Path::new(d).join(WAIT_UNIT).exists())
}

fn name(s: &str) -> Name {
    Name::of(s).expect("a valid constant name")
}

const WANTS: &str = "default.target.wants";

/// What `install` did.
#[derive(Debug, Default)]
pub struct Installed {
    /// Units and the link written (new or changed).
    pub written: Vec<PathBuf>,
    /// Already as they should be.
    pub unchanged: Vec<PathBuf>,
    /// rootlet's own files it no longer installs: the wait unit once a system-wide one
    /// exists (the user's copy would shadow it), files of an older version.
    pub removed: Vec<PathBuf>,
    /// A wait unit of the user's own that shadows the system-wide one (left alone).
    pub shadowing: Option<PathBuf>,
}

/// Install the path and service units (and the wait unit when no system-wide one
/// exists) into the unit directory, enable the path unit, record it all in
/// `installed.list`. Refuses, changing nothing, when a name is taken by anything rootlet
/// did not install.
pub fn install(layout: &Layout, lock: &Lock, system_wait: bool) -> Result<Installed, Error> {
    let list = layout.installed_list();
    let pending = pending_path(&list);
    let bases = Bases {
        out: Some(&layout.output_dir),
        units: Some(&layout.unit_dir),
        state: Some(&layout.state_dir),
    };
    let (old, _) = read_list(&list, &bases)?;
    let (old_pending, _) = read_list(&pending, &bases)?;
    let wait = layout.wait_unit()?;
    let mut files = vec![
        (name(PATH_UNIT), layout.path_unit()?),
        (name(SERVICE_UNIT), layout.service_unit()?),
    ];
    let mut expect: BTreeMap<Name, Expect> = BTreeMap::new();
    expect.insert(name(WAIT_UNIT), Expect::File(Digest::of(wait.as_bytes())));
    if !system_wait {
        files.push((name(WAIT_UNIT), wait));
    }
    for (n, text) in &files {
        expect.insert(n.clone(), Expect::File(Digest::of(text.as_bytes())));
    }
    let link = name(&format!("{WANTS}/{PATH_UNIT}"));
    let target = format!("../{PATH_UNIT}");
    expect.insert(link.clone(), Expect::Link(target.clone().into_bytes()));

    let mut units = Tree::open(&layout.unit_dir)?;
    let claims: Vec<Entry> = old.iter().chain(&old_pending).cloned().collect();
    let (owned, _) = owned_claims(&units, Base::Units, &claims, &expect);
    // Refuse before writing anything when a name is taken by the user's own file.
    let wants = name(WANTS);
    match units.look(&wants) {
        Found::Nothing | Found::Dir => {}
        _ => return Err(Error::Foreign(units.join(&wants))),
    }
    for n in files.iter().map(|(n, _)| n).chain([&link]) {
        let found = units.look(n);
        if found != Found::Nothing && !owned.contains_key(n) {
            return Err(Error::Foreign(units.join(n)));
        }
    }

    // Record what this run may write before writing it.
    let out_missing = tree::missing_levels(&layout.output_dir);
    let units_missing = tree::missing_levels(&layout.unit_dir);
    let mut plan: Vec<Entry> = old_pending.clone();
    for (base, n) in [
        (Base::Units, units_missing),
        (Base::Out, out_missing),
        (Base::State, lock.created),
    ] {
        if n > 0 {
            plan.push(Entry::Created { base, n });
        }
    }
    if units.look(&wants) == Found::Nothing {
        plan.push(Entry::dir(Base::Units, wants.clone()));
    }
    for (n, text) in &files {
        plan.push(Entry::file(Base::Units, n.clone(), text.as_bytes()));
    }
    plan.push(Entry::link(Base::Units, link.clone(), target.as_bytes()));
    plan.sort();
    plan.dedup();
    write_list(&pending, &plan)?;

    sweep_temporaries(&units, Base::Units, &old_pending);
    let created_units = units.create()?;
    let created_out = Tree::open(&layout.output_dir)?.create()?;
    let mut rec: Vec<Entry> = Vec::new();
    let mut r = Installed::default();
    for (n, text) in &files {
        let path = units.join(n);
        if units.look(n) == Found::File(Digest::of(text.as_bytes())) {
            r.unchanged.push(path);
        } else {
            units.write(n, text.as_bytes())?;
            r.written.push(path);
        }
        rec.push(Entry::file(Base::Units, n.clone(), text.as_bytes()));
    }
    match units.ensure_subdir(wants.as_os_str()) {
        Ok(true) => rec.push(Entry::dir(Base::Units, wants.clone())),
        Ok(false) => {
            if owned.contains_key(&wants) {
                rec.push(Entry::dir(Base::Units, wants.clone()));
            }
        }
        Err(Some(e)) => return Err(e),
        Err(None) => return Err(Error::Foreign(units.join(&wants))),
    }
    if units.look(&link) == Found::Link(target.clone().into_bytes()) {
        r.unchanged.push(units.join(&link));
    } else {
        units.symlink(&link, &target)?;
        r.written.push(units.join(&link));
    }
    rec.push(Entry::link(Base::Units, link.clone(), target.as_bytes()));

    // rootlet's own files it no longer installs (the wait unit once a system-wide one
    // exists), then its directories no longer needed.
    let kept: BTreeSet<Name> = rec
        .iter()
        .filter_map(|e| match e {
            Entry::At { name, .. } => Some(name.clone()),
            Entry::Created { .. } => None,
        })
        .collect();
    for (n, found) in &owned {
        if !kept.contains(n) && *found != Found::Dir && units.remove(n, false)? {
            r.removed.push(units.join(n));
        }
    }
    for (n, found) in &owned {
        if *found == Found::Dir && !kept.contains(n) && !units.remove(n, true)? {
            rec.push(Entry::dir(Base::Units, n.clone()));
        }
    }
    let wait_name = name(WAIT_UNIT);
    if system_wait && !owned.contains_key(&wait_name) && units.look(&wait_name) != Found::Nothing {
        r.shadowing = Some(units.join(&wait_name));
    }
    use regenerate::created_entries;
    rec.extend(created_entries(
        &old,
        &old_pending,
        Base::Units,
        created_units,
    ));
    rec.extend(created_entries(&old, &old_pending, Base::Out, created_out));
    rec.extend(created_entries(
        &old,
        &old_pending,
        Base::State,
        lock.created,
    ));
    rec.sort();
    rec.dedup();
    write_list(&list, &rec)?;
    remove_file(&pending)?;
    Ok(r)
}

/// What `uninstall` did.
#[derive(Debug, Default)]
pub struct Uninstalled {
    pub removed: Vec<PathBuf>,
    /// Paths the manifests list that are no longer what rootlet wrote (changed by the
    /// user, or unverifiable): left alone.
    pub left: Vec<PathBuf>,
    /// Manifests of `regenerate -o DIR` runs: their units stay (uninstall removes only
    /// what is in rootlet's own directories).
    pub other_lists: Vec<PathBuf>,
}

/// Remove everything the manifests prove to be rootlet's, the manifests, the lock and the
/// directories rootlet created once empty; nothing else.
pub fn uninstall(layout: &Layout, lock: Lock) -> Result<Uninstalled, Error> {
    let bases = Bases {
        out: Some(&layout.output_dir),
        units: Some(&layout.unit_dir),
        state: Some(&layout.state_dir),
    };
    let lists = [
        layout.generated_list(),
        pending_path(&layout.generated_list()),
        layout.installed_list(),
        pending_path(&layout.installed_list()),
    ];
    let mut claims = Vec::new();
    for l in &lists {
        claims.extend(read_list(l, &bases)?.0);
    }
    // Unverified claims of the first manifest format: the installed units as this
    // version would write them.
    let mut expect_units = BTreeMap::new();
    for (n, text) in [
        (PATH_UNIT, layout.path_unit()),
        (SERVICE_UNIT, layout.service_unit()),
        (WAIT_UNIT, layout.wait_unit()),
    ] {
        if let Ok(t) = text {
            expect_units.insert(name(n), Expect::File(Digest::of(t.as_bytes())));
        }
    }
    expect_units.insert(
        name(&format!("{WANTS}/{PATH_UNIT}")),
        Expect::Link(format!("../{PATH_UNIT}").into_bytes()),
    );
    let mut r = Uninstalled::default();
    let mut dirs: Vec<PathBuf> = Vec::new();
    for (base, path, expect) in [
        (Base::Out, &layout.output_dir, BTreeMap::new()),
        (Base::Units, &layout.unit_dir, expect_units),
    ] {
        let t = Tree::open(path)?;
        let (owned, disowned) = owned_claims(&t, base, &claims, &expect);
        r.left.extend(disowned.iter().map(|n| t.join(n)));
        for (n, found) in &owned {
            if *found == Found::Dir {
                dirs.push(t.join(n));
            } else if t.remove(n, false)? {
                r.removed.push(t.join(n));
            }
        }
    }
    for l in &lists {
        if remove_file(l)? {
            r.removed.push(l.clone());
        }
    }
    if let Ok(rd) = std::fs::read_dir(&layout.state_dir) {
        for e in rd.flatten() {
            let n = e.file_name();
            let n = n.to_string_lossy();
            if n.starts_with("generated-") && n.ends_with(".list") {
                r.other_lists.push(e.path());
            }
        }
    }
    let lock_path = lock.path().to_owned();
    remove_file(&lock_path)?;
    drop(lock);
    for e in &claims {
        if let Entry::Created { base, n } = e {
            let p = match base {
                Base::Out => &layout.output_dir,
                Base::Units => &layout.unit_dir,
                Base::State => &layout.state_dir,
            };
            dirs.extend(tree::created_chain(p, *n, Some(&layout.home)));
        }
    }
    dirs.sort_by_key(|d| std::cmp::Reverse((d.components().count(), d.clone())));
    dirs.dedup();
    for d in dirs {
        if std::fs::remove_dir(&d).is_ok() {
            r.removed.push(d);
        }
    }
    Ok(r)
}
