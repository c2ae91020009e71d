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
//!
//! One file per step: what `add` is given, read (`read.rs`); the checks before anything is
//! written (`check.rs`), among them the translation of the incoming sources beside those
//! on the search path (`translate.rs`); the write (`write.rs`); and the units `--now`
//! starts (`now.rs`).

use super::{ManageError, Places};
use crate::error::SourceError;
use crate::generator::Options;
use std::path::{Path, PathBuf};

mod check;
mod now;
mod read;
mod translate;
mod write;
pub use check::check;
pub use read::{from_bytes, read_path, split_bundle};
use write::write;

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
