//! `rootlet add PATH...`: copy quadlet files, a directory (one application) or a
//! `.quadlets` bundle (parts separated by `---` lines, each with a `# FileName=NAME` line:
//! one application) into the user's source directory.
//!
//! Everything is read first ([`read_path`]/[`from_bytes`]); [`add`] then takes the state
//! directory's lock, checks ([`check`]: each source translated in memory beside the
//! sources already on the search path, with the `rootlet check` rules) and writes only
//! when nothing is wrong. Writes are atomic and never go through a symlink (one at the
//! destination is replaced, and only with `replace`); without `replace` nothing is ever
//! replaced, not even a file that appears meanwhile.

use super::{kind_of, Apps, Held, Made, ManageError, Member, Places};
use crate::error::SourceError;
use crate::generator::{self, Options, Run};
use crate::quadlet::{self, Source, SourceKind};
use crate::unit::UnitFile;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};

mod read;
pub use read::{from_bytes, read_path, split_bundle};

/// One file to add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incoming {
    /// Its name in the source directory.
    pub name: String,
    pub data: Vec<u8>,
    /// Where it came from, for messages (a path or a URL).
    pub origin: PathBuf,
    /// Lines before it in `origin` (a bundle part), added to the line of each message.
    pub line_offset: usize,
}

/// One command-line argument, read: its files and, for a directory or a bundle, the
/// application they form.
#[derive(Debug, Clone, Default)]
pub struct Input {
    pub app: Option<String>,
    /// The argument it was read from (a path or a URL).
    pub origin: PathBuf,
    pub files: Vec<Incoming>,
    /// What was skipped, and why.
    pub notes: Vec<String>,
    /// Read from a directory (its top-level files land beside each other).
    pub from_dir: bool,
}

/// What `add` wrote.
#[derive(Debug, Default)]
pub struct Added {
    pub files: Vec<PathBuf>,
    /// The units of the sources written, for `--now`: templates and the services that a
    /// socket written activates left out (`socket_activated`), and of a container with its
    /// own `[Socket]`, the socket (not the service, nor the proxy of proxy mode).
    pub units: Vec<String>,
    pub apps: Vec<String>,
    /// What else the user should know: files taken from another application, files left
    /// alone, the units generated (the no-root install).
    pub notes: Vec<String>,
}

fn bad(origin: &Path, line: usize, msg: impl Into<String>) -> SourceError {
    SourceError::new(origin, line, msg)
}

/// How `add` may change what is there.
#[derive(Debug, Clone, Copy, Default)]
pub struct AddOptions {
    /// Overwrite existing files (and an application of the same name).
    pub replace: bool,
    /// With `replace`: also take files that belong to another application.
    pub force: bool,
}

/// Check and write, holding the state directory's lock throughout, so that nothing
/// another `add` writes can come between the check and the write; without `replace`,
/// each file is created so that it cannot replace one that appeared meanwhile (the user's
/// own): then nothing of this `add` stays, and that file is named. Under the no-root
/// install (`install --user`), the units are generated before this returns, so that a
/// reload and a start that follow find them.
pub fn add(
    places: &Places,
    opts: &Options,
    inputs: &[Input],
    how: AddOptions,
) -> Result<Added, ManageError> {
    let lock = places.lock()?;
    check(places, opts, inputs, how)?;
    let mut added = write(places, inputs, how)?;
    if let Some(lock) = &lock {
        added.notes.extend(places.regenerate_user_install(lock));
    }
    Ok(added)
}

/// Check everything about to be added: names unique, nothing overwritten without
/// `replace` (and never a directory, nor another application's file without `force`), no
/// application added twice, nothing an earlier directory of the search path shadows, no
/// file that names files it does not bring, and every source translates (in memory,
/// beside the sources on the search path, with their drop-ins). All problems are
/// returned, each `file:line: message` against the file given.
pub fn check(
    places: &Places,
    opts: &Options,
    inputs: &[Input],
    how: AddOptions,
) -> Result<(), ManageError> {
    let replace = how.replace;
    let mut errors: Vec<SourceError> = Vec::new();
    let apps = places.apps()?;
    let install_fd = crate::fsutil::open_dir(&places.install_dir).ok();
    let disc = places.discover();
    let mut seen: HashMap<&str, &Path> = HashMap::new();
    let mut app_names = BTreeSet::new();
    for input in inputs {
        if let Some(app) = &input.app {
            let origin = &input.origin;
            if !app_names.insert(app.as_str()) {
                errors.push(bad(origin, 0, format!("application {app} given twice")));
            } else if apps.apps.contains_key(app) && !replace {
                errors.push(bad(
                    origin,
                    0,
                    format!("application {app} is already added (use --replace)"),
                ));
            }
        }
        for f in &input.files {
            if let Some(first) = seen.insert(&f.name, &f.origin) {
                errors.push(bad(
                    &f.origin,
                    0,
                    format!("{} is also given by {}", f.name, first.display()),
                ));
                continue;
            }
            let dest = places.install_dir.join(&f.name);
            // Whose file it is: an application's while it is still what `add` wrote.
            let owner = apps
                .member(&f.name)
                .filter(|(a, _)| input.app.as_deref() != Some(*a))
                .filter(|(_, m)| {
                    install_fd
                        .as_ref()
                        .is_some_and(|fd| m.state_in(fd.as_fd()) == Held::Written)
                })
                .map(|(a, _)| a);
            if let Ok(m) = std::fs::symlink_metadata(&dest) {
                if m.is_dir() {
                    errors.push(bad(
                        &f.origin,
                        0,
                        format!("{} is a directory", dest.display()),
                    ));
                } else if !replace {
                    let whose =
                        owner.map_or(String::new(), |a| format!(", a file of application {a}"));
                    errors.push(bad(
                        &f.origin,
                        0,
                        format!("{} already exists{whose} (use --replace)", dest.display()),
                    ));
                } else if let (Some(a), false) = (owner, how.force) {
                    errors.push(bad(
                        &f.origin,
                        0,
                        format!(
                            "{} belongs to application {a}: --replace would take it from {a}; \
                             add --force to do that, or rename it",
                            dest.display()
                        ),
                    ));
                }
            }
            if let Some(e) = shadowed(places, &disc, f) {
                errors.push(e);
            }
        }
    }
    for input in inputs {
        errors.extend(unbrought(input));
    }
    errors.extend(translate(places, opts, inputs));
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ManageError::Invalid(errors))
    }
}

/// A source of the same name that the generator reads first (first name wins: an earlier
/// directory of the search path, `$XDG_RUNTIME_DIR/containers/systemd` before the install
/// directory): the file added would not be the one that runs.
fn shadowed(places: &Places, disc: &crate::search::Discovery, f: &Incoming) -> Option<SourceError> {
    kind_of(&f.name)?;
    let dest = places.install_dir.join(&f.name);
    let winner = disc.sources.iter().find(|s| s.name == f.name)?;
    if winner.path == dest {
        return None;
    }
    // The root each lies in (the longest that holds it), by its place on the search path.
    let rank = |p: &Path| {
        places
            .roots
            .iter()
            .enumerate()
            .filter(|(_, r)| p.starts_with(&r.path))
            .max_by_key(|(_, r)| r.path.as_os_str().len())
            .map(|(i, _)| i)
    };
    let (w, d) = (rank(&winner.path)?, rank(&dest)?);
    // Within the install directory's own root, its top level is read before its
    // subdirectories: the added file wins there.
    (w < d).then(|| {
        bad(
            &f.origin,
            0,
            format!(
                "{} is read first (an earlier directory of the search path), so the {} added \
                 would never be used: remove that file first (or give this one another name)",
                winner.path.display(),
                f.name
            ),
        )
    })
}

/// Paths a source takes from its own directory (a `.kube`'s `Yaml=`/`ConfigMap=`, a
/// `.build`'s `File=` and `SetWorkingDirectory=unit|file|DIR`) that `add` does not bring
/// along: a file added alone brings nothing beside it, a `.quadlets` bundle only its
/// parts, a directory its top-level files (no subdirectory). Such a path would name
/// nothing (or something else) in the source directory. One rule for every way a file is
/// added; refused, with the way out.
fn unbrought(input: &Input) -> Vec<SourceError> {
    // What lands beside the source: names of files (a directory's), nothing else.
    let is_dir = input.from_dir;
    let brought: BTreeSet<&str> = if is_dir {
        input.files.iter().map(|f| f.name.as_str()).collect()
    } else {
        BTreeSet::new() // a file alone, or a bundle's parts (sources only)
    };
    let way_out = match (&input.app, is_dir) {
        (None, _) => "it is added alone: add the directory that holds both (rootlet add DIR), or use an absolute path",
        (Some(_), false) => "a .quadlets bundle brings only its quadlet parts: add a directory that holds them all (rootlet add DIR), or use an absolute path",
        (Some(_), true) => "add copies only the directory's top-level files (no subdirectory): put it beside the source, or use an absolute path",
    };
    let mut out = Vec::new();
    for f in &input.files {
        let keys: &[(&str, &str)] = match kind_of(&f.name) {
            Some(SourceKind::Kube) => &[("Kube", "Yaml"), ("Kube", "ConfigMap")],
            Some(SourceKind::Build) => &[("Build", "File"), ("Build", "SetWorkingDirectory")],
            _ => continue,
        };
        let Ok(Ok(file)) = std::str::from_utf8(&f.data).map(UnitFile::parse) else {
            continue; // its own error comes from the translation
        };
        let missing = |key: &str, v: &str| {
            let v = quadlet::values::unquote(v);
            let url = ["http://", "https://", "git://", "github.com/"]
                .iter()
                .any(|p| v.starts_with(p));
            if v.is_empty() || v.starts_with('/') || v.starts_with('%') || url {
                return false;
            }
            match (key, v) {
                // The source's own directory as the build context: a directory added
                // brings it (its top level); a file alone or a bundle does not.
                ("SetWorkingDirectory", "unit" | "file") => !is_dir,
                // A directory: never brought.
                ("SetWorkingDirectory", _) => true,
                _ => !brought.contains(v),
            }
        };
        for (section, key) in keys {
            for sec in file.sections.iter().filter(|s| s.name == *section) {
                for e in sec
                    .entries
                    .iter()
                    .filter(|e| e.key == *key && missing(key, &e.value))
                {
                    out.push(bad(
                        &f.origin,
                        f.line_offset + e.line,
                        format!(
                            "{key}: `{}` is taken from the directory of {}, where it will not \
                             be: {way_out}",
                            e.value, f.name
                        ),
                    ));
                }
            }
        }
    }
    out
}

/// Translate the incoming sources beside the ones already on the search path (those of
/// the same names replaced); the incoming sources' errors, against their origins.
fn translate(places: &Places, opts: &Options, inputs: &[Input]) -> Vec<SourceError> {
    let mut errors = Vec::new();
    // Synthetic path (where it will be written) -> (origin, line offset).
    let mut origin_of: HashMap<PathBuf, (PathBuf, usize)> = HashMap::new();
    let mut sources: BTreeMap<String, Source> = BTreeMap::new();
    let disc = places.discover();
    for input in inputs {
        for f in &input.files {
            let Some(kind) = kind_of(&f.name) else {
                continue;
            };
            let path = places.install_dir.join(&f.name);
            match UnitFile::parse_bytes_with(&f.data, &quadlet::known_key) {
                Ok(mut file) => {
                    // Drop-ins already on the search path apply to it as they will.
                    for d in crate::search::dropins(&f.name, &disc.dropin_dirs) {
                        let mut buf = Vec::new();
                        if crate::fsutil::read_regular(&d, generator::MAX_SOURCE, &mut buf).is_ok()
                        {
                            if let Ok(df) = UnitFile::parse_bytes_with(&buf, &quadlet::known_key) {
                                file.merge(df);
                            }
                        }
                    }
                    origin_of.insert(path.clone(), (f.origin.clone(), f.line_offset));
                    sources.insert(
                        f.name.clone(),
                        Source {
                            path,
                            name: f.name.clone(),
                            kind,
                            file,
                        },
                    );
                }
                Err(e) => errors.push(bad(
                    &f.origin,
                    if e.line() > 0 {
                        e.line() + f.line_offset
                    } else {
                        0
                    },
                    e.message(),
                )),
            }
        }
    }
    if sources.is_empty() {
        return errors;
    }
    for found in &disc.sources {
        if sources.contains_key(&found.name) {
            continue;
        }
        if let Ok(s) =
            generator::load_source(&found.path, &found.name, found.kind, &disc.dropin_dirs)
        {
            sources.insert(found.name.clone(), s);
        }
    }
    let mut run = Run::default();
    generator::translate_all(&sources, opts, &mut run);
    // A source already there that the files added break (a `.socket` added for a
    // container whose own `[Socket]` makes that socket): an error of that source which
    // it does not have without them. Asked only when such a source has errors at all.
    let theirs = |e: &SourceError| !origin_of.contains_key(&e.path);
    let mut broken: Vec<SourceError> = run.errors.iter().filter(|e| theirs(e)).cloned().collect();
    if !broken.is_empty() {
        // What is there now (the files replaced as they are).
        let mut before = Run::default();
        let existing: BTreeMap<String, Source> = (disc.sources.iter())
            .filter_map(|f| Some((f.name.clone(), generator::load_found_source(f, &disc).ok()?)))
            .collect();
        generator::translate_all(&existing, opts, &mut before);
        broken.retain(|e| !before.errors.contains(e));
    }
    for e in run.errors.into_iter().filter(|e| !theirs(e)).chain(broken) {
        // Files added are named as given (a bundle's part by its own lines), wherever
        // the message names them.
        let message = given_paths(&e.message, &origin_of);
        match origin_of.get(&e.path) {
            Some((origin, offset)) => {
                let line = if e.line > 0 { e.line + offset } else { 0 };
                errors.push(SourceError::new(origin, line, message));
            }
            None => errors.push(SourceError::new(&e.path, e.line, message)),
        }
    }
    errors.sort_by(|a, b| (&a.path, a.line).cmp(&(&b.path, b.line)));
    errors.dedup();
    errors
}

/// `message` with each path where a file added will be written (a key of `origin_of`)
/// replaced by the file as given, `PATH:LINE` by its own line there (a bundle's part).
fn given_paths(message: &str, origin_of: &HashMap<PathBuf, (PathBuf, usize)>) -> String {
    let mut out = message.to_owned();
    // Longest first, so that no path is taken for a shorter one it starts with.
    let mut paths: Vec<(&PathBuf, &(PathBuf, usize))> = origin_of.iter().collect();
    paths.sort_by_key(|(p, _)| std::cmp::Reverse(p.as_os_str().len()));
    for (path, (origin, offset)) in paths {
        let (from, to) = (path.display().to_string(), origin.display().to_string());
        let mut rest = out.as_str();
        let mut done = String::with_capacity(out.len());
        while let Some(at) = rest.find(&from) {
            let after = &rest[at + from.len()..];
            // A longer path (`web.container.d/x.conf`) is not this one.
            if after.starts_with(|c: char| c.is_alphanumeric() || "._-@/".contains(c)) {
                done.push_str(&rest[..at + from.len()]);
                rest = after;
                continue;
            }
            done.push_str(&rest[..at]);
            done.push_str(&to);
            let digits = (after.strip_prefix(':'))
                .map(|a| &a[..a.find(|c: char| !c.is_ascii_digit()).unwrap_or(a.len())]);
            rest = match digits.and_then(|d| Some((d.len(), d.parse::<usize>().ok()?))) {
                Some((len, line)) if line > 0 => {
                    done.push_str(&format!(":{}", line + offset));
                    &after[1 + len..]
                }
                _ => after,
            };
        }
        done.push_str(rest);
        out = done;
    }
    out
}

/// Write everything ([`add`] checks first, under the lock): each file atomically, never
/// through a symlink; without `replace`, never over anything that is there (then what this
/// call wrote is removed again and the file there is named). Then the applications'
/// record, with the hash of each file written.
fn write(places: &Places, inputs: &[Input], how: AddOptions) -> Result<Added, ManageError> {
    let dir = &places.install_dir;
    std::fs::create_dir_all(dir).map_err(|e| ManageError::io(dir, e))?;
    let dirfd = crate::fsutil::open_dir(dir).map_err(|e| ManageError::io(dir, e))?;
    let mut added = Added::default();
    let mut apps: Apps = places.apps()?;
    let before = apps.clone();
    let mut created: Vec<&str> = Vec::new();
    // A killed add (or a full disk) may have left `.#NAME.PID.N.tmp` beside the files it
    // was writing. In the user's directory only what is provably ours goes: a temporary of
    // a name this add writes, its writer gone, empty or holding exactly what this add
    // writes there (the same add run again). Anything else is left alone.
    crate::fsutil::sweep_stale_temporaries(dir, |stem, text| {
        inputs
            .iter()
            .flat_map(|i| &i.files)
            .any(|f| f.name.as_bytes() == stem && (text.is_empty() || text == f.data.as_slice()))
    });
    for input in inputs {
        for f in &input.files {
            write_one(dirfd.as_fd(), dir, f, how.replace, &created)?;
            if !how.replace {
                created.push(&f.name);
            }
            added.files.push(dir.join(&f.name));
            if let Some((made, stem)) = made_of(f, dir) {
                // A container with its own `[Socket]` is started by its socket.
                if !stem.ends_with('@') {
                    added.units.push(made.socket.unwrap_or(made.unit));
                }
            }
            if let Some((a, _)) = apps.member(&f.name) {
                if input.app.as_deref() != Some(a) {
                    added
                        .notes
                        .push(format!("{}: taken from application {a}", f.name));
                }
            }
            // A file added on its own leaves any application it belonged to.
            apps.forget(&f.name);
        }
        if let Some(app) = &input.app {
            let new: Vec<Member> = input
                .files
                .iter()
                .map(|f| Member::new(&f.name, &f.data))
                .collect();
            let old = apps.apps.get(app).into_iter().flatten();
            drop_left_behind(dirfd.as_fd(), dir, app, old, &new, &mut added)?;
            apps.apps.insert(app.clone(), new);
            added.apps.push(app.clone());
        }
    }
    let activated = socket_activated(inputs, dir);
    added.units.retain(|u| !activated.contains(u));
    apps.apps.retain(|_, f| !f.is_empty());
    if apps != before {
        if let Some(p) = &places.apps_file {
            apps.save(p)?;
        }
    }
    Ok(added)
}

/// Write one file atomically, never through a symlink; without `replace`, never over
/// anything that is there: then the files this add created (`created`) are removed again
/// and the file there is named.
fn write_one(
    dirfd: BorrowedFd,
    dir: &Path,
    f: &Incoming,
    replace: bool,
    created: &[&str],
) -> Result<(), ManageError> {
    let r = if replace {
        crate::fsutil::write_atomic_at(dirfd, &f.name, &f.data, 0o644, true)
    } else {
        crate::fsutil::write_new_at(dirfd, &f.name, &f.data, 0o644)
    };
    let Err(e) = r else {
        return Ok(());
    };
    // Nothing of this add stays (the files it created are its own: just made).
    for n in created {
        let _ = rustix::fs::unlinkat(dirfd, *n, rustix::fs::AtFlags::empty());
    }
    let p = dir.join(&f.name);
    Err(if e.kind() == std::io::ErrorKind::AlreadyExists {
        ManageError::Invalid(vec![bad(
            &f.origin,
            0,
            format!(
                "{} appeared while add checked (use --replace); nothing was written",
                p.display()
            ),
        )])
    } else {
        ManageError::io(&p, e)
    })
}

/// Files of the previous version of `app` (`old`) that the new one (`new`) lacks go,
/// each only while it is still what `add` wrote; what became of each is noted in `added`.
fn drop_left_behind<'a>(
    dirfd: BorrowedFd,
    dir: &Path,
    app: &str,
    old: impl Iterator<Item = &'a Member>,
    new: &[Member],
    added: &mut Added,
) -> Result<(), ManageError> {
    for old in old {
        if new.iter().any(|m| m.file == old.file) {
            continue;
        }
        let p = dir.join(&old.file);
        match old.state_in(dirfd) {
            Held::Written => {
                match rustix::fs::unlinkat(dirfd, old.file.as_str(), rustix::fs::AtFlags::empty()) {
                    Ok(()) | Err(rustix::io::Errno::NOENT) => {}
                    Err(e) => return Err(ManageError::io(&p, e.into())),
                }
                added.notes.push(format!(
                    "{}: not in the new version of {app}: removed",
                    p.display()
                ));
            }
            Held::Gone => {}
            Held::Changed | Held::Unproven => added.notes.push(format!(
                "{}: was part of {app}, but is not what `rootlet add` wrote: left alone",
                p.display()
            )),
        }
    }
    Ok(())
}

/// The units a file added makes ([`Made`]: `ServiceName=` honoured, the socket of its own
/// `[Socket]`), and its file name's stem; `None` for a file that is no source. One that
/// does not parse (never written: `check` refuses it) makes the unit of its name.
fn made_of<'a>(f: &'a Incoming, dir: &Path) -> Option<(Made, &'a str)> {
    let (kind, stem) = SourceKind::from_file_name(&f.name)?;
    let made = match UnitFile::parse_bytes_with(&f.data, &quadlet::known_key) {
        Ok(file) => Made::of(&Source {
            path: dir.join(&f.name),
            name: f.name.clone(),
            kind,
            file,
        }),
        Err(_) => Made {
            unit: quadlet::unit_name_for(kind, stem),
            ..Made::default()
        },
    };
    Some((made, stem))
}

/// The services the sockets of `inputs` activate (`Service=`, or the socket's own name).
/// `add --now` starts the socket and not them: the socket starts its service at the first
/// connection, and a service started at once would run (and, at every boot, start) with
/// no connection to serve (new-user review P13).
fn socket_activated(inputs: &[Input], dir: &Path) -> BTreeSet<String> {
    (inputs.iter().flat_map(|i| &i.files))
        .filter_map(|f| {
            let (kind, _) = SourceKind::from_file_name(&f.name)?;
            if kind != SourceKind::Socket {
                return None;
            }
            let src = Source {
                path: dir.join(&f.name),
                name: f.name.clone(),
                kind,
                file: UnitFile::parse_bytes_with(&f.data, &quadlet::known_key).ok()?,
            };
            quadlet::socket::activated_service(&src).ok().flatten()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 26: `add --now` of a container with its own `[Socket]` starts the socket
    /// (not the service, which the first connection starts, nor the proxy), under the
    /// name `ServiceName=` gives (before: `X.service`, named after the file).
    #[test]
    fn now_starts_a_containers_own_socket() {
        let made = |name: &str, text: &str| {
            let f = Incoming {
                name: name.into(),
                data: text.as_bytes().to_vec(),
                origin: PathBuf::from(name),
                line_offset: 0,
            };
            made_of(&f, Path::new("/d")).map(|(m, _)| m.socket.unwrap_or(m.unit))
        };
        let sock = "\n[Socket]\nListenStream=1\n";
        assert_eq!(
            made(
                "web.container",
                &format!("[Container]\nImage=x\n{sock}ProxyTo=80\n")
            )
            .unwrap(),
            "web.socket"
        );
        assert_eq!(
            made(
                "a.container",
                &format!("[Container]\nImage=x\nServiceName=b\n{sock}")
            )
            .unwrap(),
            "b.socket"
        );
        assert_eq!(
            made("c.container", "[Container]\nImage=x\nServiceName=d\n").unwrap(),
            "d.service"
        );
        assert_eq!(
            made("e.network", "[Network]\n").unwrap(),
            "e-network.service"
        );
        assert_eq!(made("notes.txt", "x"), None);
    }

    /// The paths `add` checks files at are named as the files were given, a bundle's
    /// part at the bundle's line; a longer path that starts with one is left alone.
    #[test]
    fn messages_name_the_files_as_given() {
        let mut m = HashMap::new();
        m.insert(
            PathBuf::from("/d/a.socket"),
            (PathBuf::from("in/b.quadlets"), 7),
        );
        m.insert(
            PathBuf::from("/d/a.container"),
            (PathBuf::from("dir/a.container"), 0),
        );
        assert_eq!(
            given_paths(
                "x /d/a.socket:1 y /d/a.container z /d/a.container.d/s.conf:3 /d/a.socket",
                &m
            ),
            "x in/b.quadlets:8 y dir/a.container z /d/a.container.d/s.conf:3 in/b.quadlets"
        );
        assert_eq!(given_paths("/d/a.socket:x", &m), "in/b.quadlets:x");
    }

    /// P13: `add --now` of a socket and its container starts the socket only.
    #[test]
    fn now_starts_a_socket_not_the_service_it_activates() {
        let file = |name: &str, text: &str| Incoming {
            name: name.into(),
            data: text.as_bytes().to_vec(),
            origin: PathBuf::from(name),
            line_offset: 0,
        };
        let input = Input {
            app: None,
            origin: PathBuf::from("dir"),
            files: vec![
                file("web.socket", "[Socket]\nListenStream=8080\n"),
                file("web.container", "[Container]\nImage=x\n"),
                file(
                    "api.socket",
                    "[Socket]\nListenStream=8081\nService=backend.container\n",
                ),
                file("each.socket", "[Socket]\nListenStream=8082\nAccept=yes\n"),
            ],
            notes: Vec::new(),
            from_dir: true,
        };
        let got = socket_activated(&[input], Path::new("/d"));
        assert_eq!(
            got.into_iter().collect::<Vec<_>>(),
            ["backend.service", "web.service"]
        );
    }
}
