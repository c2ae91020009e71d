//! Checks of a generated unit against what systemd would refuse when it loads it: a line
//! longer than systemd reads, and (for `rootlet check`) a `%` specifier systemd does not
//! know, which makes it fail to load the unit or ignore the setting; and the names of
//! rootlet's own units, which no source may take.

use crate::error::SourceError;
use crate::quadlet::{Generated, Source, SourceKind};
use crate::unit::MAX_LINE;

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

/// How many errors of one file `rootlet check` reports at most.
const MAX_ERRORS: usize = 20;

/// The errors of a source after its first (`first`, which `translate` returned for
/// `src`), for `rootlet check`, which reports every error of a file and not one per run
/// as translation (which stops at the first) does. The entry at the line of each error is
/// taken out of a copy of the source (a whole section for an error at its header) and the
/// copy translated again, until it translates or an error is not about a line of its own:
/// the file's as a whole (line 0), the same line again, or a key taken out (`Image=`
/// missing once the bad `Image=` is gone is not a second error of the user's). The
/// generator never calls this: its output is the same whatever `check` reports.
pub(super) fn later_errors(
    src: &Source,
    first: &SourceError,
    translate: &dyn Fn(&Source) -> Result<Generated, SourceError>,
) -> Vec<SourceError> {
    let mut copy = src.clone();
    let mut removed: Vec<String> = Vec::new();
    let mut seen = vec![first.line];
    let mut err = first.clone();
    let mut out = Vec::new();
    while out.len() < MAX_ERRORS {
        if !take_out(&mut copy, err.line, &mut removed) {
            break;
        }
        err = match translate(&copy) {
            Ok(_) => break,
            Err(e) => e,
        };
        let about_removed = removed.iter().any(|k| {
            err.message.contains(&format!("{k}=")) || err.message.contains(&format!("`{k}`"))
        });
        if err.line == 0 || seen.contains(&err.line) || about_removed {
            break;
        }
        seen.push(err.line);
        out.push(err.clone());
    }
    out
}

/// Take the entries at `line` out of `src` (or the section whose header is there);
/// whether there was one. Their keys (or the section's name) go to `removed`.
fn take_out(src: &mut Source, line: usize, removed: &mut Vec<String>) -> bool {
    if line == 0 {
        return false;
    }
    let sections = &mut src.file.sections;
    if let Some(i) = sections.iter().position(|s| s.line == line) {
        removed.push(sections.remove(i).name);
        return true;
    }
    let mut found = false;
    for s in sections.iter_mut() {
        s.entries.retain(|e| {
            let hit = e.line == line;
            if hit {
                removed.push(e.key.to_string());
                found = true;
            }
            !hit
        });
    }
    found
}

/// `rootlet check` only: each bind-mount source (`Volume=/srv/www:/usr/share/nginx/html`,
/// `Mount=type=bind,source=/srv/www,...`) that does not exist on the host. podman does
/// not create it: the container fails to start (`statfs /srv/www: no such file or
/// directory`), and systemd restarts it until it gives up. An error of `check`; the
/// generator still makes the unit, as quadlet does: the directory may be made before the
/// unit starts, and the generator runs at boot, when a mount may not be there yet. Only
/// absolute paths, and `%h/...` (the home of the user who runs `check`, as of the user
/// manager that starts the unit); other specifiers and paths relative to the source are
/// not looked at.
pub(super) fn host_paths(src: &Source) -> Vec<SourceError> {
    let own = src.kind.section();
    let home = crate::env::var_abs("HOME");
    let mut out = Vec::new();
    for s in src.file.sections.iter().filter(|s| s.name == own) {
        for e in &s.entries {
            let path = match &*e.key {
                "Volume" => e.value.split(':').next().filter(|p| p.contains('/')),
                "Mount" => bind_source(&e.value),
                _ => None,
            };
            let Some(path) = path else { continue };
            let host = match path.strip_prefix("%h/") {
                Some(rest) => match &home {
                    Some(h) => h.join(rest),
                    None => continue,
                },
                None if path.starts_with('/') => std::path::PathBuf::from(path),
                None => continue,
            };
            if host.to_str().map_or(true, |h| h.contains('%')) || host.exists() {
                continue;
            }
            out.push(src.err(
                e.line,
                format!(
                    "{}=: the host path {} does not exist: podman fails to start the \
                     container (\"statfs: no such file or directory\"); create it (the unit \
                     is generated all the same)",
                    e.key,
                    crate::error::show_path(&host)
                ),
            ));
        }
    }
    out
}

/// The `source=` (or `src=`) of a `Mount=type=bind,...` value.
fn bind_source(value: &str) -> Option<&str> {
    let opts = || value.split(',').filter_map(|o| o.trim().split_once('='));
    if !opts().any(|(k, v)| k == "type" && v == "bind") {
        return None;
    }
    opts()
        .find(|(k, _)| *k == "source" || *k == "src")
        .map(|(_, v)| v)
}

/// One host port range a source binds: `PublishPort=` of a container, pod or kube, or a
/// `.socket`'s `ListenStream=`/`ListenDatagram=` (see [`crate::kind::KindInfo::port_keys`]).
#[derive(Debug, Clone)]
pub(super) struct Bind {
    path: std::path::PathBuf,
    line: usize,
    key: String,
    value: String,
    /// `None`: every address (no address given, `0.0.0.0`, `::`).
    ip: Option<String>,
    ports: (u16, u16),
    proto: String,
}

/// The host ports `src` binds (its own section, after its drop-ins: an empty value resets
/// the list, as quadlet reads it); `dropins` locate each line. A source's own `[Socket]`
/// (rootlet writes `X.socket` from it) binds what a `.socket` file would, and in proxy
/// mode (`ProxyTo=`) podman publishes the container on a port of its own loopback address
/// ([`crate::quadlet::proxy::publish`]): that port clashes with anything that binds it
/// on every address.
pub(super) fn binds(src: &Source, dropins: &[std::path::PathBuf]) -> Vec<Bind> {
    let mut out = section_binds(src, src.kind.section(), src.kind.info().port_keys, dropins);
    let socket = crate::quadlet::SourceKind::Socket;
    if crate::quadlet::socket::own_section(src).is_none() {
        return out;
    }
    out.extend(section_binds(
        src,
        "Socket",
        socket.info().port_keys,
        dropins,
    ));
    let service = src.unit_name();
    // A broken `[Socket]` is translation's error; no port of it is known.
    let to = (src.file.section("Socket")).and_then(|s| s.last("ProxyTo"));
    if let (Ok(Some(_)), Some(to)) = (crate::quadlet::proxy::of(src, &service), to) {
        let (address, host) = (
            crate::quadlet::proxy::address(&service),
            crate::quadlet::proxy::host_port(&service),
        );
        let at = super::load::locate(src.err(to.line, ""), dropins);
        out.push(Bind {
            path: at.path,
            line: at.line,
            key: "ProxyTo".into(),
            value: format!("{} (published on {address}:{host})", to.value.trim()),
            ip: Some(address),
            ports: (host, host),
            proto: "tcp".into(),
        });
    }
    out
}

/// The host ports the `keys` of `src`'s `section` bind (an empty value resets the list).
fn section_binds(
    src: &Source,
    section: &str,
    keys: &[&str],
    dropins: &[std::path::PathBuf],
) -> Vec<Bind> {
    let mut out: Vec<Bind> = Vec::new();
    let Some(s) = src.file.section(section) else {
        return out;
    };
    for e in s.entries.iter().filter(|e| keys.contains(&&*e.key)) {
        if e.value.is_empty() {
            out.retain(|b| b.key != *e.key);
            continue;
        }
        let parsed = match &*e.key {
            "ListenStream" => listen_address(&e.value, "tcp"),
            "ListenDatagram" => listen_address(&e.value, "udp"),
            _ => publish_address(&e.value),
        };
        let Some((ip, ports, proto)) = parsed else {
            continue;
        };
        let at = super::load::locate(src.err(e.line, ""), dropins);
        out.push(Bind {
            path: at.path,
            line: at.line,
            key: e.key.to_string(),
            value: e.value.clone(),
            ip: ip.filter(|ip| !matches!(ip.as_str(), "" | "0.0.0.0" | "::")),
            ports,
            proto,
        });
    }
    out
}

/// A host address, port range and protocol.
type Address = (Option<String>, (u16, u16), String);

/// podman's `[[ip:][hostPort]:]containerPort[/proto]`; `None` when podman picks the host
/// port (`80`, `127.0.0.1::80`) or the value does not parse (translation says so).
fn publish_address(value: &str) -> Option<Address> {
    let (v, proto) = match value.trim().split_once('/') {
        Some((v, p)) => (v, p.to_owned()),
        None => (value.trim(), "tcp".to_owned()),
    };
    let (ip, host) = match v.strip_prefix('[') {
        Some(rest) => {
            let (ip, after) = rest.split_once(']')?;
            let (host, _) = after.strip_prefix(':')?.split_once(':')?;
            (Some(ip.to_owned()), host)
        }
        None => {
            let parts: Vec<&str> = v.split(':').collect();
            match parts[..] {
                [host, _] => (None, host),
                [ip, host, _] => (Some(ip.to_owned()), host),
                _ => return None,
            }
        }
    };
    let range = match host.split_once('-') {
        Some((a, b)) => (a.parse().ok()?, b.parse().ok()?),
        None => (host.parse().ok()?, host.parse().ok()?),
    };
    (range.0 <= range.1).then_some((ip, range, proto))
}

/// A socket's `80`, `0.0.0.0:80`, `[::1]:443`; `None` for paths, abstract sockets,
/// `vsock:` and what does not parse.
fn listen_address(value: &str, proto: &str) -> Option<Address> {
    let v = value.trim();
    let (ip, port) = match v.strip_prefix('[') {
        Some(rest) => rest.split_once("]:").map(|(ip, p)| (Some(ip), p))?,
        None if v.bytes().all(|b| b.is_ascii_digit()) => (None, v),
        None => v.rsplit_once(':').map(|(ip, p)| (Some(ip), p))?,
    };
    if ip.is_some_and(|ip| ip.starts_with("vsock")) {
        return None;
    }
    let port: u16 = port.parse().ok()?;
    Some((ip.map(str::to_owned), (port, port), proto.to_owned()))
}

/// Two bindings of the same host port, protocol and address (one without an address
/// binds them all): the second to start fails (`address already in use`). One error for
/// each binding after the first of its port, naming the first's file and line.
pub(super) fn port_clashes(mut binds: Vec<Bind>) -> Vec<SourceError> {
    binds.sort_by(|a, b| (&a.path, a.line).cmp(&(&b.path, b.line)));
    let mut out = Vec::new();
    for (i, b) in binds.iter().enumerate() {
        let first = binds[..i].iter().find(|a| {
            a.proto == b.proto
                && a.ports.0 <= b.ports.1
                && b.ports.0 <= a.ports.1
                && (a.ip.is_none() || b.ip.is_none() || a.ip == b.ip)
        });
        if let Some(a) = first {
            let port = match b.ports {
                (lo, hi) if lo == hi => lo.to_string(),
                (lo, hi) => format!("{lo}-{hi}"),
            };
            out.push(SourceError::new(
                &b.path,
                b.line,
                format!(
                    "{}={}: host port {port}/{} is bound by {}:{} too ({}={}): the one \
                     started second fails (address already in use)",
                    b.key,
                    b.value,
                    b.proto,
                    crate::error::show_path(&a.path),
                    a.line,
                    a.key,
                    a.value
                ),
            ));
        }
    }
    out
}

/// `rootlet check` only: a socket whose service (`Service=`, or its own name) is the unit
/// of no source of the run. systemd listens, and fails the socket at the first connection
/// ("Service X.service not loaded"); a warning, not an error: `X.service` may be a unit of
/// the user's own, which `check` does not look for.
pub(super) fn no_service(src: &Source, service: &str) -> SourceError {
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
pub(super) fn unreachable(src: &Source, service: &str, file: &str) -> Option<SourceError> {
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
    use crate::quadlet::{Context, Defaults, SourceKind};
    use crate::unit::UnitFile;
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    fn source(name: &str, text: &str) -> Source {
        Source {
            path: PathBuf::from(format!("/q/{name}")),
            name: name.to_owned(),
            kind: SourceKind::from_file_name(name).unwrap().0,
            file: UnitFile::parse(text).unwrap(),
        }
    }

    /// Every error of a file, from its first; a key taken out that another needs ends
    /// the list (`Image=` missing once the bad `Image=` is gone is no second error).
    #[test]
    fn later_errors_are_every_independent_error_of_a_file() {
        let (defaults, none) = (Defaults::default(), BTreeMap::new());
        let newest = crate::podman::Lazy::new("/usr/bin/podman", crate::podman::Target::Newest);
        let sources = BTreeMap::new();
        let ctx = Context {
            podman: "/usr/bin/podman",
            podman_version: &newest,
            defaults: &defaults,
            sources: &sources,
            sockets_for: &none,
            load: None,
            pod_members: &none,
        };
        let translate = |s: &Source| crate::quadlet::translate(s, &ctx);
        let lines = |text: &str| {
            let src = source("a.container", text);
            let first = translate(&src).unwrap_err();
            let mut v = vec![first.line];
            v.extend(
                later_errors(&src, &first, &translate)
                    .iter()
                    .map(|e| e.line),
            );
            v
        };
        assert_eq!(
            lines("[Container]\nImagee=x\nImage=x\nPublishPorts=1:1\nNotify=maybe\n"),
            [2, 4, 5]
        );
        assert_eq!(
            lines("[Containr]\nImage=x\n[Container]\nImage=x\nRestart=always\n"),
            [1, 5]
        );
        // The one `Image=` is bad: without it, `Image=` missing is not reported.
        assert_eq!(lines("[Container]\nImage=\n").len(), 1);
        // A file-wide error (line 0) ends the list at once.
        let src = source("a.container", "[Container]\nImage=x\n");
        let whole = SourceError::new(&src.path, 0, "x");
        assert!(later_errors(&src, &whole, &translate).is_empty());
    }

    #[test]
    fn bind_sources_that_do_not_exist() {
        let src = source(
            "a.container",
            "[Container]\nImage=x\nVolume=/nonexistent-rootlet/a:/a\nVolume=/tmp:/t\n\
             Volume=data:/d\nVolume=/nonexistent-rootlet/%i:/i\n\
             Mount=type=bind,src=/nonexistent-rootlet/b,dst=/b\n\
             Mount=type=volume,source=/nonexistent-rootlet/c,destination=/c\n\
             Volume=./rel:/r\n",
        );
        let lines: Vec<usize> = host_paths(&src).iter().map(|e| e.line).collect();
        assert_eq!(lines, [3, 7]);
        assert!(host_paths(&src)[0]
            .message
            .contains("the host path /nonexistent-rootlet/a does not exist"));
    }

    #[test]
    fn addresses_of_port_keys() {
        let p = publish_address;
        assert_eq!(p("8080:80"), Some((None, (8080, 8080), "tcp".into())));
        assert_eq!(
            p("127.0.0.1:53:53/udp"),
            Some((Some("127.0.0.1".into()), (53, 53), "udp".into()))
        );
        assert_eq!(
            p("[::1]:8000-8010:80-90"),
            Some((Some("::1".into()), (8000, 8010), "tcp".into()))
        );
        assert_eq!(p("80"), None);
        assert_eq!(p("127.0.0.1::80"), None);
        assert_eq!(p("9-8:80"), None);
        let l = |v: &str| listen_address(v, "tcp").map(|(ip, r, _)| (ip, r.0));
        assert_eq!(l("80"), Some((None, 80)));
        assert_eq!(l("0.0.0.0:80"), Some((Some("0.0.0.0".into()), 80)));
        assert_eq!(l("[::]:443"), Some((Some("::".into()), 443)));
        assert_eq!(l("/run/x.sock"), None);
        assert_eq!(l("@abstract"), None);
        assert_eq!(l("vsock:2:80"), None);
    }

    /// Same port and protocol, same address or one that binds every address: a clash,
    /// reported once, on the later binding, naming the first.
    #[test]
    fn port_clashes_need_port_protocol_and_address() {
        let binds = |name: &str, text: &str| binds(&source(name, text), &[]);
        let mut all = binds(
            "a.socket",
            "[Socket]\nListenStream=8080\nListenDatagram=53\n",
        );
        all.extend(binds(
            "b.container",
            "[Container]\nPublishPort=0.0.0.0:8080:80\nPublishPort=53:53\n\
             PublishPort=127.0.0.1:9000:1\nPublishPort=[::1]:9000:1\n",
        ));
        all.extend(binds(
            "c.pod",
            "[Pod]\nPublishPort=7000:1\nPublishPort=\nPublishPort=127.0.0.1:8990-9005:1-16\n",
        ));
        let got: Vec<String> = port_clashes(all).iter().map(|e| e.to_string()).collect();
        assert_eq!(got.len(), 2, "{got:#?}");
        assert!(
            got[0].starts_with(
                "/q/b.container:2: PublishPort=0.0.0.0:8080:80: host port \
             8080/tcp is bound by /q/a.socket:2 too (ListenStream=8080)"
            ),
            "{got:#?}"
        );
        assert!(
            got[1].starts_with(
                "/q/c.pod:4: PublishPort=127.0.0.1:8990-9005:1-16: host port \
             8990-9005/tcp is bound by /q/b.container:4 too"
            ),
            "{got:#?}"
        );
    }

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
