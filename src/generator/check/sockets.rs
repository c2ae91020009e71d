//! Sockets that activate nothing that answers, for `rootlet check` (warnings): a service
//! no source makes ([`no_service`]), or one whose podman never gets the socket
//! ([`unreachable`]).

use crate::error::SourceError;
use crate::quadlet::{Source, SourceKind};

/// `rootlet check` only: a socket whose service (`Service=`, or its own name) is the unit
/// of no source of the run. systemd listens, and fails the socket at the first connection
/// ("Service X.service not loaded"); a warning, not an error: `X.service` may be a unit of
/// the user's own, which `check` does not look for.
pub(in crate::generator) fn no_service(src: &Source, service: &str) -> SourceError {
    let line = (src.file.section("Socket"))
        .and_then(|s| s.last("Service"))
        .map_or(0, |e| e.line);
    let stem = service.trim_end_matches(".service");
    let exts: Vec<String> = (crate::quadlet::SourceKind::ALL.iter())
        .filter(|k| crate::quadlet::unit_name_for(**k, stem) == service)
        .filter(|k| k.info().role != crate::kind::Role::Activator)
        .map(|k| format!("{stem}.{}", k.extension()))
        .collect();
    src.err(
        line,
        format!(
            "{} activates {service}, and no source makes it (no {}): unless {service} is \
             a unit of your own, the socket fails at its first connection",
            src.name,
            exts.join(", no ")
        ),
    )
}

/// `rootlet check` only: a `.socket` file whose service is the unit of a source (`file`)
/// whose podman never hands the socket to the program (a `.pod`'s, a `.kube`'s:
/// [`crate::quadlet::socket::unreachable`]). systemd starts the service at the first
/// connection, which is never answered.
pub(in crate::generator) fn unreachable(
    src: &Source,
    service: &str,
    file: &str,
) -> Option<SourceError> {
    let (kind, _) = SourceKind::from_file_name(file)?;
    let why = crate::quadlet::socket::unreachable(kind, false)?;
    let line = (src.file.section("Socket")).map_or(0, |s| s.line);
    Some(src.err(
        line,
        format!(
            "{} activates {service}, the unit of {file}: {why}",
            src.name
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generator::check::tests::source;

    #[test]
    fn a_socket_without_a_service_names_what_would_make_it() {
        let src = source("web.socket", "[Socket]\nListenStream=80\n");
        let e = no_service(&src, "web.service");
        assert_eq!(e.line, 0);
        assert!(
            e.message.contains("(no web.container, no web.kube)"),
            "{}",
            e.message
        );
    }
}
