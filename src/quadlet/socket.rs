//! `X.socket` -> the user unit `X.socket`, checked, with `SourcePath=`.
//!
//! Quadlet ignores `.socket` files; rootlet reads them beside the `.container` files, and
//! wires the service they activate (`Service=`, else `X.service`) to them with `Requires=`
//! and `After=`, so that systemd hands the listening sockets to podman (`LISTEN_FDS`,
//! `LISTEN_FDNAMES`) and podman passes them into the container.
//!
//! A `[Socket]` section inside `X.container` is the same thing in one file: [`embedded`]
//! makes the `.socket` source it stands for (the unit `X.socket`, for the container's own
//! service), which is then translated by [`translate`] like any `.socket` file. Its
//! install links are `WantedBy=`/`RequiredBy=` in that `[Socket]` (default
//! `WantedBy=sockets.target`): the file's `[Install]` stays the service's, as in quadlet.
//!
//! A `.pod` takes a `[Socket]` in proxy mode only, and a `.kube` none ([`check_kind`]):
//! podman hands the sockets to the first container its process starts, and closes them
//! then (libpod's `--preserve-fds`): `podman pod start` starts the pod's infra container,
//! `podman kube play` its service container, never the program.

use super::service::{base_unit, order_sections};
use super::values::boolean;
use super::{Context, Generated, Source, SourceKind};
use crate::error::SourceError;
use crate::unit::{valid_unit_name, Entry, Section, UnitFile};

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
                _ => e.value.to_string(),
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
            e.value = service.clone().into();
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

/// The keys of a `[Socket]` inside a service's source (`X.container`) that are rootlet's,
/// not systemd's: the socket's own install links (the file's `[Install]` is the
/// service's). Without either, the socket is `WantedBy=sockets.target`; `WantedBy=` with
/// no value leaves it without links (started by hand, or by another unit).
pub const OWN_INSTALL_KEYS: &[&str] = &["WantedBy", "RequiredBy"];

/// A source's own `[Socket]` section (any kind but `.socket`, whose `[Socket]` is the
/// socket itself): the one answer to "does this file make a socket of its own", for
/// translation, `rootlet check`'s ports and the day-2 commands.
pub fn own_section(src: &Source) -> Option<&Section> {
    if src.kind == SourceKind::Socket {
        return None;
    }
    src.file.section("Socket")
}

/// The name of the socket a service's own `[Socket]` makes: `web.service` -> `web.socket`
/// (systemd's default pairing, so no `Service=` is needed).
pub fn own_name(service: &str) -> String {
    let stem = service.strip_suffix(".service").unwrap_or(service);
    format!("{stem}.socket")
}

/// The `.socket` source the `[Socket]` sections of a service's source `src` stand for
/// (`None` without one): named after `service` ([`own_name`]), at `src`'s path (errors
/// name its lines), with `[Socket]` less [`OWN_INSTALL_KEYS`], which become its
/// `[Install]`. `Service=` and `Accept=yes` are refused: the socket activates this file's
/// own service, once, or (`proxy`) the proxy in front of it; the proxy's keys
/// ([`super::proxy::KEYS`]) are not the socket's.
pub fn embedded(
    src: &Source,
    service: &str,
    proxy: Option<&str>,
) -> Result<Option<Source>, SourceError> {
    let mut secs = src.file.sections.iter().filter(|s| s.name == "Socket");
    let Some(first) = secs.next() else {
        return Ok(None);
    };
    let mut sock = Section::new("Socket");
    sock.line = first.line;
    let mut install = Section::new("Install");
    install.line = first.line;
    for e in std::iter::once(first).chain(secs).flat_map(|s| &s.entries) {
        match &*e.key {
            "Service" => {
                return Err(src.err(
                    e.line,
                    format!(
                        "Service= in the [Socket] of a .{}: this socket activates the file's own \
                         service ({service}); for another service write a .socket file",
                        src.kind.extension()
                    ),
                ))
            }
            "Accept" if boolean(src, e)? => {
                return Err(src.err(
                    e.line,
                    format!(
                        "Accept=yes in the [Socket] of a .{}: systemd would start an instance \
                         of a template per connection, not {service}; write a .socket file \
                         for a template service",
                        src.kind.extension()
                    ),
                ))
            }
            k if OWN_INSTALL_KEYS.contains(&k) => install.entries.push(e.clone()),
            k if super::proxy::KEYS.contains(&k) => {}
            _ => sock.entries.push(e.clone()),
        }
    }
    if install.entries.is_empty() {
        install.entries.push(Entry {
            key: "WantedBy".into(),
            value: "sockets.target".into(),
            line: first.line,
        });
    }
    if let Some(p) = proxy {
        sock.entries.push(Entry {
            key: "Service".into(),
            value: p.to_owned().into(),
            line: first.line,
        });
    }
    // A template's socket is linked as the instance the service is (`web@.socket` ->
    // `sockets.target.wants/web@a.socket`, which activates `web@a.service`).
    let instance = (src.file.section("Install")).and_then(|i| i.last("DefaultInstance"));
    install.entries.extend(instance.cloned());
    Ok(Some(Source {
        path: src.path.clone(),
        name: own_name(service),
        kind: SourceKind::Socket,
        file: UnitFile {
            sections: vec![sock, install],
        },
    }))
}

/// Why a socket that activates the unit of a source of `kind` cannot reach its program,
/// `None` where it can (`proxied`: through `ProxyTo=`'s proxy): the kinds whose unit's
/// podman starts another container first; with a proxy, the kinds without a port of
/// their own to publish ([`super::proxy::KINDS`]). Says the way out too.
pub fn unreachable(kind: SourceKind, proxied: bool) -> Option<&'static str> {
    // podman passes LISTEN_FDS on to the first container the podman process that got them
    // starts, and then closes them (libpod `createOCIContainer`, v4.3.1 to v5.8.2): the
    // later containers get the LISTEN_* environment, and some other file at fd 3.
    Some(match (kind, proxied) {
        (SourceKind::Pod, false) => {
            "the socket would reach only the pod's infra container: the pod's unit runs \
             `podman pod start`, and podman hands the socket to the first container it \
             starts, the infra; the members start from their own units. Give the .pod a \
             [Socket] with ProxyTo=PORT (the port a member listens on), or put the [Socket] \
             in the member's .container"
        }
        (SourceKind::Kube, false) => {
            "`podman kube play` hands the socket to the first container it starts, podman's \
             service container, and closes it: the YAML's containers get LISTEN_FDS but not \
             the socket. Run the program from a .container with [Socket], or from a .pod \
             with [Socket] and ProxyTo= and its .container members"
        }
        (k, true) if !super::proxy::KINDS.contains(&k) => {
            "ProxyTo= needs a port published on a loopback address of rootlet's choosing and \
             a process of the pod to wait for, and the pods of a .kube are the YAML's (its \
             unit's main process is podman's service container, which has no network). Use \
             a .pod with [Socket] and ProxyTo= and its .container members"
        }
        _ => return None,
    })
}

/// Refuse a `[Socket]` (`at`: its line) in a kind where podman cannot make it work
/// ([`unreachable()`]), saying why and the way out.
pub fn check_kind(src: &Source, at: usize, proxied: bool) -> Result<(), SourceError> {
    let Some(why) = unreachable(src.kind, proxied) else {
        return Ok(());
    };
    // Named where ProxyTo= is the way out.
    let proxy_works = !proxied && unreachable(src.kind, true).is_none();
    let without = if proxy_works { " without ProxyTo=" } else { "" };
    let ext = src.kind.extension();
    Err(src.err(at, format!("[Socket] in a .{ext}{without}: {why}")))
}

/// Refuse a service source's own `[Socket]` (`at`: its line) when a `.socket` file of the
/// run activates the same `service`, or makes the same socket unit: two sockets for one
/// service, or two units of one name, are one too many. The error names both files.
pub fn check_own(src: &Source, at: usize, ctx: &Context, service: &str) -> Result<(), SourceError> {
    let own = own_name(service);
    for s in (ctx.sources.values()).filter(|s| s.kind == SourceKind::Socket) {
        let activates = activated_service(s).ok().flatten();
        if activates.as_deref() != Some(service) && s.unit_name() != own {
            continue;
        }
        let line = (s.file.section("Socket"))
            .map(|sec| sec.last("Service").map_or(sec.line, |e| e.line))
            .unwrap_or(0);
        let what = match activates {
            Some(a) if a == service => format!("activates {service} too"),
            _ => format!("is the unit {own} too"),
        };
        return Err(src.err(
            at,
            format!(
                "[Socket] makes {own} for {service}, and {}:{line} {what}: keep one of the \
                 two (the [Socket] section, or the .socket file)",
                s.path.display()
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_takes_the_socket_where_podman_lets_it_work() {
        let src = |name: &str| Source {
            path: format!("/q/{name}").into(),
            name: name.into(),
            kind: SourceKind::from_file_name(name).unwrap().0,
            file: UnitFile::default(),
        };
        let ok = |name: &str, proxied: bool| check_kind(&src(name), 3, proxied).is_ok();
        assert!(ok("a.container", false) && ok("a.container", true));
        assert!(ok("a.pod", true) && !ok("a.kube", false));
        let err = check_kind(&src("a.pod"), 3, false).unwrap_err().to_string();
        assert!(
            err.starts_with("/q/a.pod:3: [Socket] in a .pod without ProxyTo=: the socket"),
            "{err}"
        );
        assert!(err.contains("infra container") && err.contains("member's .container"));
        let err = check_kind(&src("a.kube"), 3, true).unwrap_err().to_string();
        assert!(
            err.starts_with("/q/a.kube:3: [Socket] in a .kube: ProxyTo= "),
            "{err}"
        );
        assert!(err.contains("a .pod with [Socket] and ProxyTo="), "{err}");
    }
}
