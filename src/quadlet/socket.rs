//! `X.socket` -> the user unit `X.socket`, checked, with `SourcePath=`.
//!
//! Quadlet ignores `.socket` files; rootlet reads them beside the `.container` files, and
//! wires the service they activate (`Service=`, else `X.service`) to them with `Requires=`
//! and `After=`, so that systemd hands the listening sockets to podman (`LISTEN_FDS`,
//! `LISTEN_FDNAMES`) and podman passes them into the container.

use super::service::{base_unit, order_sections};
use super::values::boolean;
use super::{Generated, Source, SourceKind};
use crate::error::SourceError;
use crate::unit::valid_unit_name;

pub const LISTEN_KEYS: &[&str] = &[
    "ListenStream",
    "ListenDatagram",
    "ListenSequentialPacket",
    "ListenFIFO",
    "ListenSpecial",
    "ListenNetlink",
    "ListenMessageQueue",
    "ListenUSBFunction",
];

/// The service a socket source activates, as a unit name; `None` for `Accept=yes` sockets
/// (systemd starts one `X@.service` instance per connection and wires those itself).
pub fn activated_service(src: &Source) -> Result<Option<String>, SourceError> {
    let Some(sec) = src.file.section("Socket") else {
        return Err(src.err(0, "no [Socket] section"));
    };
    if let Some(e) = sec.last("Accept") {
        if boolean(src, e)? {
            return Ok(None);
        }
    }
    match sec.last("Service").filter(|e| !e.value.is_empty()) {
        Some(e) => {
            let name = match SourceKind::from_file_name(&e.value) {
                Some((k, stem)) if k != SourceKind::Socket => super::unit_name_for(k, stem),
                _ => e.value.clone(),
            };
            if !valid_unit_name(&name) || !name.ends_with(".service") {
                return Err(src.err(
                    e.line,
                    format!("Service: `{}` is not a valid .service unit name", e.value),
                ));
            }
            Ok(Some(name))
        }
        None => Ok(Some(format!("{}.service", src.stem()))),
    }
}

/// Translate a `.socket` source.
pub fn translate(src: &Source, name: String) -> Result<Generated, SourceError> {
    let service = activated_service(src)?;
    let sec = src.file.section("Socket").map(|s| s.line).unwrap_or(0);
    let has_listen = src
        .file
        .section("Socket")
        .is_some_and(|s| LISTEN_KEYS.iter().any(|k| !s.list(k).is_empty()));
    if !has_listen {
        return Err(src.err(
            sec,
            "[Socket] has no Listen*= key (ListenStream=, ListenDatagram=, ...): it would never activate anything",
        ));
    }
    let mut file = base_unit(src);
    // base_unit renamed [Socket] to [X-Socket]: a socket's own section is systemd's.
    for s in &mut file.sections {
        if s.name == "X-Socket" {
            s.name = "Socket".into();
        }
    }
    if let (Some(service), Some(s)) = (
        service,
        file.sections.iter_mut().find(|s| s.name == "Socket"),
    ) {
        // Service=web.container names the unit it becomes.
        for e in s
            .entries
            .iter_mut()
            .filter(|e| e.key == "Service" && !e.value.is_empty())
        {
            e.value = service.clone();
        }
    }
    let unit = file.section_mut("Unit");
    unit.add(
        "SourcePath",
        crate::unit::escape_specifiers(&src.path.to_string_lossy()),
    );
    order_sections(&mut file);
    Ok(Generated {
        name,
        file,
        links: Vec::new(),
        warnings: Vec::new(),
    })
}
