//! Files with more than one user: reference-counted by their users' own records.
//!
//! Today one file is shared: the wait unit in the user's unit directory, wanted by the
//! units `install --user` generates and by every unit `docker enable` changed. Each user
//! that relies on the copy rootlet wrote keeps its own claim on it: `install --user` in
//! `installed.list`, `docker enable --unit U` in `STATE/docker/U/` (see [`docker_record`]).
//! The rule, for every user:
//!
//! - coming: a file already there exactly as it would write it, and claimed by another
//!   user, is claimed too (never written again); one nobody claims is the user's own:
//!   used as it is, never claimed;
//! - going: drop the own claim; remove the file only when no other user claims it.
//!
//! All users hold the lock of the state directory ([`super::Lock`]) while they look at or
//! change a claim, so two of them never decide at once.

use super::manifest::{Base, Bases, Entry};
use crate::env::WAIT_UNIT;
use std::path::{Path, PathBuf};

/// `install --user`'s record, in the state directory (also [`super::Layout::installed_list`]).
pub const INSTALLED_LIST: &str = "installed.list";

/// The directory of `docker enable`'s records for `unit` (one per unit: two daemons'
/// records never mix), in the state directory.
pub fn docker_record(state_dir: &Path, unit: &str) -> PathBuf {
    state_dir.join("docker").join(unit)
}

/// The copy of `name` that `docker enable` keeps in a record directory.
pub fn copy_in(record: &Path, name: &str) -> PathBuf {
    record.join(format!("{name}.written"))
}

/// Who uses a shared file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum User<'a> {
    Install,
    Docker(&'a str),
}

/// The users other than `me` that claim the wait unit, in `state_dir`.
pub fn wait_unit_claims(state_dir: &Path, me: User<'_>) -> Vec<String> {
    let mut users = Vec::new();
    if me != User::Install && install_claims_wait_unit(state_dir) {
        users.push("install --user".to_owned());
    }
    let docker = state_dir.join("docker");
    // Records of the first layout (one for all units, before records were per unit).
    if copy_in(&docker, WAIT_UNIT).is_file() {
        users.push("docker enable".to_owned());
    }
    if let Ok(rd) = std::fs::read_dir(&docker) {
        for e in rd.flatten() {
            let unit = e.file_name().to_string_lossy().into_owned();
            if me != User::Docker(&unit) && copy_in(&e.path(), WAIT_UNIT).is_file() {
                users.push(format!("docker enable --unit {unit}"));
            }
        }
    }
    users.sort();
    users
}

/// Whether `installed.list` (or an interrupted install's pending list) claims the wait
/// unit.
fn install_claims_wait_unit(state_dir: &Path) -> bool {
    let list = state_dir.join(INSTALLED_LIST);
    let bases = Bases {
        out: None,
        units: None,
        state: None,
    };
    [super::pending_path(&list), list].iter().any(|l| {
        super::read_list(l, &bases).is_ok_and(|(entries, _)| {
            entries.iter().any(|e| {
                matches!(e, Entry::At { base: Base::Units, name, .. }
                    if name.as_bytes() == WAIT_UNIT.as_bytes())
            })
        })
    })
}
