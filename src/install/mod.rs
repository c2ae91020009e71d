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
//! - Every change to a recorded directory goes through one transaction ([`txn`]): proved,
//!   planned in a pending list, written, pruned, recorded; recoverable after a kill at any
//!   step.
//! - A file with several users (the wait unit, shared with `rootlet docker`) is removed
//!   only by the last of them ([`shared`]).
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
pub mod shared;
pub mod systemctl;
pub mod tree;
pub mod txn;

use crate::env::WAIT_UNIT;
pub use layout::{Layout, PATH_UNIT, SERVICE_UNIT};
pub use lock::Lock;
pub use regenerate::{fingerprint, Regenerated};
pub use systemctl::{Systemctl, SystemctlError};
pub use txn::{owned_claims, sweep_temporaries};

use crate::env::SYSTEM_USER_UNIT_DIRS;
use manifest::{Base, Bases, Digest, Entry, Name};
use std::collections::BTreeMap;
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

/// How an unverified claim (first manifest format, no hash) can still be proved: what
/// rootlet's earlier versions wrote there.
pub type Legacy<'a> = &'a dyn Fn(&Tree, &Name, &Found) -> bool;

/// No way to prove an unverified claim but [`owned_claims`]'s `expect`.
pub fn no_legacy(_: &Tree, _: &Name, _: &Found) -> bool {
    false
}

/// The first line of every unit rootlet generates.
pub const GENERATED_HEADER: &[u8] = b"# Automatically generated by rootlet-user-generator\n";

/// A generated unit listed by a first-format manifest (an install of an earlier version):
/// a regular file that begins with the generator's header.
pub fn legacy_generated(tree: &Tree, name: &Name, found: &Found) -> bool {
    matches!(found, Found::File(_)) && tree.starts_with(name, GENERATED_HEADER)
}

/// An installed unit listed by a first-format `installed.list`: exactly what the first
/// version wrote, with the bindir its `ExecStart=` names (rootlet may have moved since).
pub fn legacy_installed(layout: &Layout, tree: &Tree, name: &Name, found: &Found) -> bool {
    let Found::File(d) = found else { return false };
    let Some(text) = tree.read(name) else {
        return false;
    };
    let text = String::from_utf8_lossy(&text);
    let exe = text
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .and_then(|v| v.split(' ').next());
    let mut l = layout.clone();
    if let Some(dir) = exe.and_then(|e| Path::new(e).parent()) {
        l.bindir = PathBuf::from(dir.to_string_lossy().replace("%%", "%"));
    }
    l.earlier_units()
        .iter()
        .any(|(n, t)| name.as_bytes() == n.as_bytes() && *d == Digest::of(t.as_bytes()))
}

/// Whether a system-wide copy of the wait unit exists (then the user's would shadow it).
pub fn system_wait_unit() -> bool {
    SYSTEM_USER_UNIT_DIRS
        .iter()
        .any(|d| Path::new(d).join(WAIT_UNIT).exists())
}

#[allow(clippy::expect_used)] // only ever called with this module's constant names
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

/// What `expect` says a file named `n` holds, as [`Tree::look`] would find it.
fn expect_file(expect: &BTreeMap<Name, Expect>, n: &Name) -> Found {
    match expect.get(n) {
        Some(Expect::File(d)) => Found::File(*d),
        _ => Found::Nothing,
    }
}

/// Install the path and service units (and the wait unit when no system-wide one
/// exists) into the unit directory, enable the path unit, record it all in
/// `installed.list`. Refuses, changing nothing, when a name is taken by anything rootlet
/// did not install.
pub fn install(layout: &Layout, lock: &Lock, system_wait: bool) -> Result<Installed, Error> {
    let bases = Bases {
        out: Some(&layout.output_dir),
        units: Some(&layout.unit_dir),
        state: Some(&layout.state_dir),
    };
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

    let units = Tree::open(&layout.unit_dir)?;
    let legacy = |t: &Tree, n: &Name, f: &Found| legacy_installed(layout, t, n, f);
    let mut txn = txn::Transaction::begin(
        units,
        Base::Units,
        &layout.installed_list(),
        &bases,
        expect.clone(),
        &legacy,
    )?;
    // A wait unit already there, exactly as this run would write it, but not claimed by
    // installed.list: claimed too when `docker enable` claims it (shared, see
    // [`shared`]); otherwise the user's own, used as it is and never claimed.
    let wait_name = name(WAIT_UNIT);
    if !txn.owns(&wait_name) && txn.tree.look(&wait_name) == expect_file(&expect, &wait_name) {
        if !system_wait
            && !shared::wait_unit_claims(&layout.state_dir, shared::User::Install).is_empty()
        {
            txn.claim_shared(&wait_name);
        } else {
            files.retain(|(n, _)| *n != wait_name);
        }
    }
    refuse_taken(&txn, &files, &link)?;
    let shadowing =
        system_wait && !txn.owns(&wait_name) && txn.tree.look(&wait_name) != Found::Nothing;

    txn.also_create(Base::Out, &layout.output_dir);
    txn.lock_created(lock.created);
    let mut r = put_units(&mut txn, &files, &link, &target)?;
    if shadowing {
        r.shadowing = Some(txn.tree.join(&wait_name));
    }
    // rootlet's own files it no longer installs (the wait unit once a system-wide one
    // exists, files of an older version), then its directories no longer needed.
    let unit_dir = txn.tree.path.clone();
    let done = txn.commit(txn::Prune::Unput)?;
    r.removed = done
        .removed
        .iter()
        .map(|n| unit_dir.join(n.as_os_str()))
        .collect();
    Ok(r)
}

/// Refuse before writing anything when a name `install` writes is taken by the user's own
/// file (or `default.target.wants` is not a directory).
fn refuse_taken(
    txn: &txn::Transaction<'_>,
    files: &[(Name, String)],
    link: &Name,
) -> Result<(), Error> {
    let wants = name(WANTS);
    match txn.tree.look(&wants) {
        Found::Nothing | Found::Dir => {}
        _ => return Err(Error::Foreign(txn.tree.join(&wants))),
    }
    for n in files.iter().map(|(n, _)| n).chain([link]) {
        if txn.tree.look(n) != Found::Nothing && !txn.owns(n) {
            return Err(Error::Foreign(txn.tree.join(n)));
        }
    }
    Ok(())
}

/// Put the unit files and the link `link -> target`, saying which were written and which
/// were already as they should be.
fn put_units(
    txn: &mut txn::Transaction<'_>,
    files: &[(Name, String)],
    link: &Name,
    target: &str,
) -> Result<Installed, Error> {
    let mut r = Installed::default();
    for (n, text) in files {
        let path = txn.tree.join(n);
        match txn.put_file(n, text.as_bytes())? {
            txn::Put::Unchanged => r.unchanged.push(path),
            txn::Put::Written { .. } => r.written.push(path),
            txn::Put::Foreign => return Err(Error::Foreign(path)),
        }
    }
    let path = txn.tree.join(link);
    match txn.put_link(link, target)? {
        txn::Put::Unchanged => r.unchanged.push(path),
        txn::Put::Written { .. } => r.written.push(path),
        txn::Put::Foreign => return Err(Error::Foreign(txn.tree.join(&name(WANTS)))),
    }
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
/// directories rootlet created once empty; nothing else. A wait unit that `docker
/// enable` claims too stays, for it (see [`shared`]).
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
    let state_created = state_created(&lists, &bases)?;
    let expect_units = expect_installed(layout);
    let legacy_units = |t: &Tree, n: &Name, f: &Found| legacy_installed(layout, t, n, f);
    let docker_too = !system_wait_unit()
        && !shared::wait_unit_claims(&layout.state_dir, shared::User::Install).is_empty();
    let wait_name = name(WAIT_UNIT);
    let shared = |n: &Name| docker_too && *n == wait_name;
    let mut r = Uninstalled::default();
    // The generated units first, then the install (whose list also records the output
    // directory it created): a kill in between leaves installed.list to finish with.
    for (base, path, list, expect, legacy) in [
        (
            Base::Out,
            &layout.output_dir,
            layout.generated_list(),
            BTreeMap::new(),
            &legacy_generated as Legacy<'_>,
        ),
        (
            Base::Units,
            &layout.unit_dir,
            layout.installed_list(),
            expect_units,
            &legacy_units,
        ),
    ] {
        let t = txn::Transaction::begin(Tree::open(path)?, base, &list, &bases, expect, legacy)?
            .claims_of(&lists, &bases)?;
        r.left.extend(t.disowned().iter().map(|n| t.tree.join(n)));
        let done = t.commit(txn::Prune::All {
            shared: &shared,
            home: Some(&layout.home),
        })?;
        let names = done.removed.iter().chain(&done.removed_subdirs);
        r.removed.extend(names.map(|n| path.join(n.as_os_str())));
        r.removed.extend(done.removed_dirs);
        r.removed.extend(done.removed_lists);
    }
    r.other_lists = other_lists(&layout.state_dir);
    let lists: Vec<PathBuf> = lists.into_iter().filter(|l| l.exists()).collect();
    lock.release_after(Some(&layout.home), state_created, &lists);
    Ok(r)
}

/// How many levels of the state directory rootlet created: the largest `created state n`
/// of the lists.
fn state_created(lists: &[PathBuf], bases: &Bases<'_>) -> Result<u8, Error> {
    let mut state_created = 0;
    for l in lists {
        for e in read_list(l, bases)?.0 {
            if let Entry::Created {
                base: Base::State,
                n,
            } = e
            {
                state_created = state_created.max(n);
            }
        }
    }
    Ok(state_created)
}

/// Unverified claims of the first manifest format: the installed units as this version
/// would write them.
fn expect_installed(layout: &Layout) -> BTreeMap<Name, Expect> {
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
    expect_units
}

/// The manifests of `regenerate -o DIR` runs in the state directory (`generated-*.list`).
fn other_lists(state_dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    if let Ok(rd) = std::fs::read_dir(state_dir) {
        for e in rd.flatten() {
            let n = e.file_name();
            let n = n.to_string_lossy();
            if n.starts_with("generated-") && n.ends_with(".list") {
                found.push(e.path());
            }
        }
    }
    found
}

/// The user's own links in `unit_dir` to units in `output_dir` that are no longer there:
/// what `systemctl --user enable` made (at the top of `unit_dir` for an `Alias=`, in its
/// `X.wants/`, `X.requires/` and `X.upholds/` directories otherwise) for a unit that
/// `uninstall` or a removed source took away. They are not rootlet's and are left alone;
/// this only finds them, to say so (`systemctl --user disable NAME` removes them). Links
/// are read, never followed, except to see whether their target is there. Sorted:
/// `(link, target)`.
pub fn dangling_links(unit_dir: &Path, output_dir: &Path) -> Vec<(PathBuf, PathBuf)> {
    fn scan(dir: &Path, output_dir: &Path, depth: u8, found: &mut Vec<(PathBuf, PathBuf)>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let Ok(ft) = e.file_type() else { continue };
            let path = e.path();
            let name = e.file_name();
            let name = name.to_string_lossy();
            if ft.is_dir() && depth == 0 {
                if [".wants", ".requires", ".upholds"]
                    .iter()
                    .any(|s| name.ends_with(s))
                {
                    scan(&path, output_dir, 1, found);
                }
                continue;
            }
            if !ft.is_symlink() {
                continue;
            }
            let Ok(target) = std::fs::read_link(&path) else {
                continue;
            };
            let resolved = lexical(&dir.join(&target));
            if resolved.starts_with(output_dir) && !resolved.exists() {
                found.push((path, target));
            }
        }
    }
    // `..` taken away by name, as `systemctl` writes links (no symlink in between).
    fn lexical(p: &Path) -> PathBuf {
        let mut out = PathBuf::new();
        for c in p.components() {
            match c {
                std::path::Component::ParentDir => {
                    out.pop();
                }
                std::path::Component::CurDir => {}
                c => out.push(c),
            }
        }
        out
    }
    let mut found = Vec::new();
    scan(unit_dir, &lexical(output_dir), 0, &mut found);
    found.sort();
    found
}
