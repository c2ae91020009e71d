//! Checks of a generated unit against what systemd would refuse when it loads it: a line
//! longer than systemd reads, and (for `rootlet check`) a `%` specifier systemd does not
//! know, which makes it fail to load the unit or ignore the setting; and the names of
//! rootlet's own units, which no source may take.
//!
//! `rootlet check` only (the generator's output is the same whatever they say), one file
//! each: every error of a file and not just its first (`later.rs`), bind-mount sources
//! missing on the host (`mounts.rs`), host ports bound twice (`ports.rs`), and sockets
//! whose service no source makes or never gets the socket (`sockets.rs`).

use crate::error::SourceError;
use crate::quadlet::{Generated, Source};
use crate::unit::MAX_LINE;

mod later;
mod mounts;
mod ports;
mod sockets;
pub(super) use later::later_errors;
pub(super) use mounts::host_paths;
pub(super) use ports::{binds, port_clashes, Bind};
pub(super) use sockets::{no_service, unreachable};

/// The names of rootlet's own units, reserved: the generator's directory comes before
/// the directories they are installed in, so a unit of one of these names (a source's
/// file name, `ServiceName=`, or an `Alias=`) would shadow it. A source named
/// `rootlet-wait-online.container` would make every generated unit wait for a container,
/// itself included, not for the network. The one list: the generator, `rootlet check`
/// and `rootlet add` (through [`super::translate_all`]) all refuse them here.
pub const RESERVED_UNITS: &[&str] = &[
    crate::env::WAIT_UNIT,
    "rootlet-regenerate.path",
    "rootlet-regenerate.service",
];

/// A unit, or one of its `Alias=` links, must not take a [`RESERVED_UNITS`] name: an error
/// at the line that gives the name (`ServiceName=`, `Alias=`), or the file's.
pub(super) fn reserved(src: &Source, g: &Generated) -> Result<(), SourceError> {
    let line_of = |key: &str, name: &str| {
        (src.file.sections.iter())
            .flat_map(|s| &s.entries)
            .rfind(|e| e.key == key && e.value.contains(name.trim_end_matches(".service")))
            .map_or(0, |e| e.line)
    };
    // A socket would start the reserved unit on a connection: `Service=`, or its own name.
    let activated = match src.kind {
        crate::quadlet::SourceKind::Socket => crate::quadlet::socket::activated_service(src)
            .ok()
            .flatten(),
        _ => None,
    };
    let taken = std::iter::once((g.name.as_str(), "ServiceName"))
        .chain((g.links.iter()).filter_map(|l| Some((l.path.rsplit('/').next()?, "Alias"))))
        .chain(activated.as_deref().map(|a| (a, "Service")));
    for (name, key) in taken {
        if RESERVED_UNITS.contains(&name) {
            let does = match key {
                "Service" => "a socket would start it",
                _ => "it would shadow it",
            };
            return Err(src.err(
                line_of(key, name),
                format!(
                    "{name} is the name of one of rootlet's own units ({does}): not \
                     generated; choose another name"
                ),
            ));
        }
    }
    Ok(())
}

/// No line of the unit may be longer than systemd reads (`LONG_LINE_MAX`): a source of
/// many small lines (`Label=` x 700,000) could make one `ExecStart=` of megabytes.
pub(super) fn unit_lines(src: &Source, g: &Generated) -> Result<(), SourceError> {
    for s in &g.file.sections {
        for e in &s.entries {
            let len = e.key.len() + 1 + e.value.len();
            if len > MAX_LINE {
                return Err(src.err(
                    e.line,
                    format!(
                        "the generated {}= line of [{}] would be {len} bytes, longer than \
                         systemd reads ({MAX_LINE})",
                        e.key, s.name
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// The specifiers of systemd.unit(5) (systemd 252 and later), and `%%`.
const SPECIFIERS: &str = "aAbBCdDEfgGhHiIjJlLmMnNopPqsStTuUvVwWyY%";

/// Every `%X` with an unknown `X` in the sections systemd reads (not `[X-*]`): systemd
/// fails to resolve it ("Failed to resolve unit specifiers").
pub(super) fn specifiers(src: &Source, g: &Generated) -> Result<(), SourceError> {
    for s in g.file.sections.iter().filter(|s| !s.name.starts_with("X-")) {
        for e in &s.entries {
            let mut chars = e.value.chars();
            while let Some(c) = chars.next() {
                if c != '%' {
                    continue;
                }
                match chars.next() {
                    Some(x) if SPECIFIERS.contains(x) => {}
                    // A final lone `%` is kept as it is by systemd.
                    None => {}
                    Some(x) => {
                        let shown: String = x.escape_default().collect();
                        // A value built in code (line 0) is blamed on the source line it
                        // came from.
                        let spec = format!("%{x}");
                        let line = match e.line {
                            0 => src
                                .file
                                .sections
                                .iter()
                                .flat_map(|s| &s.entries)
                                .find(|e| e.value.contains(&spec))
                                .map_or(0, |e| e.line),
                            l => l,
                        };
                        return Err(src.err(
                            line,
                            format!(
                                "{}=: `%{shown}` is not a systemd specifier: systemd would \
                                 fail to resolve it (write `%%` for a literal %)",
                                e.key
                            ),
                        ));
                    }
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quadlet::SourceKind;
    use crate::unit::UnitFile;
    use std::path::PathBuf;

    /// A source of `text`, as if at `/q/NAME`.
    pub(super) fn source(name: &str, text: &str) -> Source {
        Source {
            path: PathBuf::from(format!("/q/{name}")),
            name: name.to_owned(),
            kind: SourceKind::from_file_name(name).unwrap().0,
            file: UnitFile::parse(text).unwrap(),
        }
    }

    /// Every unit rootlet installs is reserved (audit N17).
    #[test]
    fn rootlets_own_units_are_reserved() {
        for own in [
            crate::env::WAIT_UNIT,
            crate::install::layout::PATH_UNIT,
            crate::install::layout::SERVICE_UNIT,
        ] {
            assert!(RESERVED_UNITS.contains(&own), "{own}");
        }
    }
}
