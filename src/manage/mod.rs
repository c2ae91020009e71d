//! Day-2 commands: `rootlet print`, `rm`, `add` and `list` (what podman 5.6+'s
//! `podman quadlet print/rm/install/list` do, for rootlet users).
//!
//! One file per command's logic; they return [`Result`]s with [`ManageError`] and print
//! nothing: the `rootlet` binary prints and picks exit codes. The user manager is reached
//! over D-Bus ([`crate::user_manager`]), every call with a deadline.
//!
//! Shared by the commands: where the user's own sources are ([`Places`], in `places.rs`),
//! what a source makes and how a name given on the command line finds its source
//! ([`Made`], [`resolve`], in `names.rs`), and the record of applications ([`Apps`],
//! `$XDG_DATA_HOME/rootlet/apps`, in `apps.rs`).

pub mod add;
mod apps;
pub mod fetch;
pub mod list;
mod names;
mod places;
pub mod print;
pub mod rm;

pub use apps::{Apps, Held, Member};
pub use names::{kind_of, resolve, socket_files, unit_of, valid_app_name, valid_file_name, Made};
pub use places::Places;

use crate::error::{show_path, SourceError};
use std::io;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Everything the day-2 commands can fail with.
#[derive(Debug, Error)]
pub enum ManageError {
    #[error("{0}: no such source on the search path")]
    NotFound(String),
    #[error("{name} is ambiguous: {}", .candidates.join(", "))]
    Ambiguous {
        name: String,
        candidates: Vec<String>,
    },
    #[error("{}: not on your own search path (only files under {own} are removed)", show_path(.path))]
    NotRemovable { path: PathBuf, own: String },
    /// Under one of the user's own roots, but reached through a symlinked directory below
    /// it: the file is somewhere else (`/etc`, a shared directory), not rootlet's to change.
    #[error("{}: reached through the symlinked directory {}: not yours to remove or write (only the link itself is)", show_path(.path), show_path(.link))]
    ThroughSymlink { path: PathBuf, link: PathBuf },
    /// Units that are up or on their way, each with its state (`web.service (active/running)`).
    #[error("{} {}: stop {} first or use --force", .units.join(", "), if .units.len() == 1 { "is running" } else { "are running" }, if .units.len() == 1 { "it" } else { "them" })]
    Running { units: Vec<String> },
    /// Sources that do not translate, each `file:line: message`.
    #[error("{} problem(s) found", .0.len())]
    Invalid(Vec<SourceError>),
    #[error("{}: already exists (use --replace)", show_path(.0))]
    Exists(PathBuf),
    /// Bad input that is not a source's translation error (a name, a bundle part).
    #[error("{0}")]
    BadInput(String),
    #[error("{}: {source}", show_path(.path))]
    Io { path: PathBuf, source: io::Error },
    #[error(transparent)]
    Install(#[from] crate::install::Error),
    /// The user manager could not be asked or did not do what was asked.
    #[error("user manager: {0}")]
    Manager(String),
    #[error(transparent)]
    UserManager(#[from] crate::user_manager::Error),
    #[error("neither HOME nor XDG_CONFIG_HOME is set to an absolute path")]
    NoConfigDir,
}

impl ManageError {
    pub fn io(path: &Path, source: io::Error) -> ManageError {
        ManageError::Io {
            path: path.to_owned(),
            source,
        }
    }
}

/// Largest file `rootlet add` takes (a file, a bundle, a download).
pub const MAX_INPUT: u64 = 1024 * 1024;
