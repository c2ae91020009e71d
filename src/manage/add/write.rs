//! The write of everything `add` checked: each file atomically and never through a
//! symlink, the files an application's new version lacks removed, and the record of
//! applications.

use super::now::{made_of, socket_activated};
use super::{bad, AddOptions, Added, Incoming, Input};
use crate::manage::{Apps, Held, ManageError, Member, Places};
use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;

/// Write everything ([`add`] checks first, under the lock): each file atomically, never
/// through a symlink; without `replace`, never over anything that is there (then what this
/// call wrote is removed again and the file there is named). Then the applications'
/// record, with the hash of each file written.
pub(super) fn write(
    places: &Places,
    inputs: &[Input],
    how: AddOptions,
) -> Result<Added, ManageError> {
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
