//! rootlet: rootless containers and daemons that start reliably as systemd user services.
//!
//! The library does all the work; the binaries (`rootlet`, `rootlet-user-generator`,
//! `rootlet-wait-online`) only parse argv, set up logging and map results to exit codes.
//!
//! Modules, one concern each:
//! - [`unit`](mod@unit): systemd unit-file syntax (parse, keep order and line numbers, write back).
//! - [`exec`]: systemd command-line syntax (`ExecStart=` splitting and quoting).
//! - [`kind`]: the kinds of source file (one row each: extension, sections, unit name, role).
//! - [`quadlet`]: translation of every kind of source ([`kind::KINDS`]) to units.
//! - [`mod@env`]: the user's environment and systemd's paths, read in one place.
//! - [`fsutil`]: atomic writes that never follow a link; bounded reads of regular files only.
//! - [`proc`](mod@proc): every subprocess, under a deadline that kills its process group.
//! - [`search`]: quadlet's user search path and source discovery.
//! - [`generator`]: one generator run: sources in, units and install symlinks out.
//! - [`install`]: the no-root install (`rootlet install --user`) and `rootlet regenerate`.
//! - [`wait`]: the network-online wait of `rootlet-wait-online`.
//! - [`activation`]: socket-activation fd hand-over across `execve`.
//! - [`docker`]: `rootlet docker`, the rootless Docker daemon's unit made to wait.
//! - [`manage`]: the day-2 commands `rootlet print|rm|add|list`.
//! - [`doctor`]: `rootlet doctor`, every known reason a rootless setup fails, with fixes.

// The unit tests' fixtures write files and run programs directly: clippy.toml's
// `disallowed-methods` keeps that out of the library, not out of its tests.
#![cfg_attr(test, allow(clippy::disallowed_methods))]

pub mod activation;
pub mod docker;
pub mod doctor;
pub mod env;
pub mod error;
pub mod exec;
pub mod fsutil;
pub mod generator;
pub mod install;
pub mod kind;
pub mod manage;
pub mod podman;
pub mod proc;
#[doc(hidden)]
pub mod properties;
pub mod quadlet;
pub mod search;
pub mod unit;
pub mod user_manager;
pub mod wait;
