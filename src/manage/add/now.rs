//! The units `add --now` starts: each source's own (`ServiceName=` honoured), a
//! container's own socket instead of its service, and no service a socket added starts.

use super::{Incoming, Input};
use crate::manage::Made;
use crate::quadlet::{self, Source, SourceKind};
use crate::unit::UnitFile;
use std::collections::BTreeSet;
use std::path::Path;

/// The units a file added makes ([`Made`]: `ServiceName=` honoured, the socket of its own
/// `[Socket]`), and its file name's stem; `None` for a file that is no source. One that
/// does not parse (never written: `check` refuses it) makes the unit of its name.
pub(super) fn made_of<'a>(f: &'a Incoming, dir: &Path) -> Option<(Made, &'a str)> {
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
pub(super) fn socket_activated(inputs: &[Input], dir: &Path) -> BTreeSet<String> {
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
    use std::path::PathBuf;

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
