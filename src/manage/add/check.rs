//! The checks of everything `add` is about to write, before anything is: names unique,
//! what is at each destination, applications, shadowing, the files a source names and
//! does not bring, and the translation ([`super::translate`]).

use super::translate::translate;
use super::{bad, AddOptions, Incoming, Input};
use crate::error::SourceError;
use crate::generator::Options;
use crate::manage::{kind_of, Apps, Held, ManageError, Places};
use crate::quadlet::{self, SourceKind};
use crate::unit::UnitFile;
use std::collections::{BTreeSet, HashMap};
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

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
            } else if apps.apps.contains_key(app) && !how.replace {
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
            errors.extend(occupied(places, &apps, install_fd.as_ref(), input, f, how));
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

/// What is at the destination of `f` already, when `add` may not write there: a
/// directory never; a file only with `replace`, and one of another application (while it
/// is still what `add` wrote for it) only with `force` too.
fn occupied(
    places: &Places,
    apps: &Apps,
    install_fd: Option<&OwnedFd>,
    input: &Input,
    f: &Incoming,
    how: AddOptions,
) -> Option<SourceError> {
    let dest = places.install_dir.join(&f.name);
    let m = std::fs::symlink_metadata(&dest).ok()?;
    // Whose file it is: an application's while it is still what `add` wrote.
    let owner = apps
        .member(&f.name)
        .filter(|(a, _)| input.app.as_deref() != Some(*a))
        .filter(|(_, m)| install_fd.is_some_and(|fd| m.state_in(fd.as_fd()) == Held::Written))
        .map(|(a, _)| a);
    let msg = if m.is_dir() {
        format!("{} is a directory", dest.display())
    } else if !how.replace {
        let whose = owner.map_or(String::new(), |a| format!(", a file of application {a}"));
        format!("{} already exists{whose} (use --replace)", dest.display())
    } else if let (Some(a), false) = (owner, how.force) {
        format!(
            "{} belongs to application {a}: --replace would take it from {a}; \
             add --force to do that, or rename it",
            dest.display()
        )
    } else {
        return None;
    };
    Some(bad(&f.origin, 0, msg))
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
