//! Host ports bound twice, for `rootlet check`: the ports each source binds ([`binds`]:
//! `PublishPort=`, a socket's `Listen*=`, proxy mode's loopback publish) and the clashes
//! between them ([`port_clashes`]).

use crate::error::SourceError;
use crate::quadlet::Source;

/// One host port range a source binds: `PublishPort=` of a container, pod or kube, or a
/// `.socket`'s `ListenStream=`/`ListenDatagram=` (see [`crate::kind::KindInfo::port_keys`]).
#[derive(Debug, Clone)]
pub(in crate::generator) struct Bind {
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
pub(in crate::generator) fn binds(src: &Source, dropins: &[std::path::PathBuf]) -> Vec<Bind> {
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
        let at = crate::generator::load::locate(src.err(to.line, ""), dropins);
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
        let at = crate::generator::load::locate(src.err(e.line, ""), dropins);
        out.push(Bind {
            path: at.path,
            line: at.line,
            key: e.key.to_string(),
            value: e.value.to_string(),
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
pub(in crate::generator) fn port_clashes(mut binds: Vec<Bind>) -> Vec<SourceError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generator::check::tests::source;

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
}
