//! Ports the user's sources bind below `net.ipv4.ip_unprivileged_port_start`: a rootless
//! podman (`PublishPort=`) or a user manager (`.socket` `Listen*=`) cannot bind them.

use super::{Env, Finding};
use crate::quadlet::SourceKind;
use crate::search;
use crate::unit::UnitFile;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The host ports of a `PublishPort=` value (podman's `[[ip:][hostPort]:]containerPort[/proto]`):
/// `8080:80` -> 8080..=8080, `127.0.0.1:80:80` -> 80, `[::1]:53:53/udp` -> 53,
/// `8000-8010:80-90` -> 8000..=8010. `None` when podman picks the host port (`80`,
/// `127.0.0.1::80`) or the value does not parse (the generator reports those).
pub fn publish_host_ports(value: &str) -> Option<(u16, u16)> {
    let v = value.trim();
    let v = v.split_once('/').map_or(v, |(a, _)| a);
    let host = if let Some(rest) = v.strip_prefix('[') {
        // [ip6]:host:container
        let (_, after) = rest.split_once(']')?;
        let after = after.strip_prefix(':')?;
        let (host, _container) = after.split_once(':')?;
        host
    } else {
        let parts: Vec<&str> = v.split(':').collect();
        match parts.len() {
            1 => return None,
            2 => parts[0],
            3 => parts[1],
            _ => return None,
        }
    };
    port_range(host)
}

fn port_range(s: &str) -> Option<(u16, u16)> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    let (lo, hi) = match s.split_once('-') {
        Some((a, b)) => (a.trim().parse().ok()?, b.trim().parse().ok()?),
        None => {
            let p = s.parse().ok()?;
            (p, p)
        }
    };
    (lo <= hi).then_some((lo, hi))
}

/// The port of a `ListenStream=`/`ListenDatagram=` value: `80`, `0.0.0.0:80`, `[::]:443`,
/// `[fe80::1%eth0]:80`. `None` for paths, abstract sockets, `vsock:` and junk.
pub fn listen_port(value: &str) -> Option<u16> {
    let v = value.trim();
    if v.starts_with('/') || v.starts_with('@') || v.starts_with("vsock:") {
        return None;
    }
    if v.bytes().all(|b| b.is_ascii_digit()) {
        return v.parse().ok();
    }
    let port = if let Some(rest) = v.strip_prefix('[') {
        rest.split_once("]:")?.1
    } else {
        v.rsplit_once(':')?.1
    };
    if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) {
        port.parse().ok()
    } else {
        None
    }
}

/// One binding found in a source: where, which key, the ports.
struct Binding {
    source: PathBuf,
    kind: SourceKind,
    file: PathBuf,
    line: usize,
    key: String,
    value: String,
    ports: (u16, u16),
}

/// Every binding of one source, honouring "an empty value resets the list" across the
/// file and its drop-ins. Unparsable files are skipped: `rootlet.sources` reports them.
fn bindings(
    path: &Path,
    name: &str,
    kind: SourceKind,
    dropin_dirs: &HashMap<String, Vec<PathBuf>>,
) -> Vec<Binding> {
    let mut out = scan(path, name, kind, dropin_dirs);
    // A container's (pod's, kube's) own `[Socket]` (rootlet writes a socket unit from it)
    // binds what a `.socket` file would.
    if kind != SourceKind::Socket && kind.info().sections.contains(&"Socket") {
        out.extend(scan(path, name, SourceKind::Socket, dropin_dirs));
    }
    out
}

/// Whether the source at `path` runs in proxy mode: a `ProxyTo=PORT` in its own
/// `[Socket]` (the last value wins; an empty one resets it; one that is no port is the
/// generator's error, and makes no proxy). Not a binding of the privileged-port check:
/// podman publishes the container on a port from 20000 on of a loopback address of its
/// own ([`crate::quadlet::proxy::host_port`]), whatever the port inside.
fn uses_proxy(path: &Path, name: &str, dropin_dirs: &HashMap<String, Vec<PathBuf>>) -> bool {
    let mut found = false;
    for (_, unit) in parsed(path, name, dropin_dirs) {
        if let Some(e) = unit.section("Socket").and_then(|s| s.last("ProxyTo")) {
            found = e.value.trim().parse::<u16>().is_ok_and(|p| p > 0);
        }
    }
    found
}

/// The bindings of the keys of `kind`'s section (its `port_keys`) in the source at `path`
/// (of that kind, or a container with a `[Socket]` of its own) and its drop-ins.
fn scan(
    path: &Path,
    name: &str,
    kind: SourceKind,
    dropin_dirs: &HashMap<String, Vec<PathBuf>>,
) -> Vec<Binding> {
    let (section, keys) = (kind.section(), kind.info().port_keys);
    if keys.is_empty() {
        return Vec::new();
    }
    let mut out: Vec<Binding> = Vec::new();
    for (f, unit) in parsed(path, name, dropin_dirs) {
        let Some(sec) = unit.section(section) else {
            continue;
        };
        for e in sec.entries.iter().filter(|e| keys.contains(&&*e.key)) {
            if e.value.is_empty() {
                out.retain(|b| b.key != e.key);
                continue;
            }
            let ports = match kind {
                SourceKind::Container | SourceKind::Pod | SourceKind::Kube => {
                    publish_host_ports(&e.value)
                }
                _ => listen_port(&e.value).map(|p| (p, p)),
            };
            if let Some(ports) = ports {
                out.push(Binding {
                    source: path.to_owned(),
                    kind,
                    file: f.clone(),
                    line: e.line,
                    key: e.key.to_string(),
                    value: e.value.to_string(),
                    ports,
                });
            }
        }
    }
    out
}

pub fn check(env: &Env, out: &mut Vec<Finding>) {
    let start: u32 = env
        .read("/proc/sys/net/ipv4/ip_unprivileged_port_start")
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(1024);
    let disc = search::discover(&env.source_roots());
    let mut low: Vec<Binding> = Vec::new();
    let mut total = 0;
    for f in &disc.sources {
        for b in bindings(&f.path, &f.name, f.kind, &disc.dropin_dirs) {
            total += 1;
            if u32::from(b.ports.0) < start {
                low.push(b);
            }
        }
    }
    if low.is_empty() {
        out.push(Finding::ok(
            "ports.privileged",
            format!(
                "no port below net.ipv4.ip_unprivileged_port_start={start} among {total} published or listening port(s)"
            ),
        ));
        return;
    }
    let lowest = low.iter().map(|b| b.ports.0).min().unwrap_or(0);
    for b in &low {
        let ports = if b.ports.0 == b.ports.1 {
            format!("port {}", b.ports.0)
        } else {
            format!("ports {}-{}", b.ports.0, b.ports.1)
        };
        let who = match b.kind {
            SourceKind::Container | SourceKind::Pod | SourceKind::Kube => "rootless podman",
            _ => "the user manager",
        };
        let alternative = alternative(env, b, start);
        out.push(Finding::error(
            "ports.privileged",
            format!(
                "{}:{}: {}={} binds {ports}, below net.ipv4.ip_unprivileged_port_start={start}: {who} cannot bind it",
                b.file.display(),
                b.line,
                b.key,
                b.value
            ),
            format!(
                "allow unprivileged binding from port {lowest} on:\n\
                 echo 'net.ipv4.ip_unprivileged_port_start={lowest}' | sudo tee /etc/sysctl.d/90-rootlet-ports.conf\n\
                 sudo sysctl --system\n\
                 {alternative}"
            ),
        ));
    }
}

/// The other way out for a privileged binding: have the system manager bind it (a socket
/// passed to the rootless container), or for a `kube play` port (the YAML's), a higher
/// port.
fn alternative(env: &Env, b: &Binding, start: u32) -> String {
    let stem = b
        .source
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    match b.kind {
        // A container's own `[Socket]`.
        SourceKind::Socket if b.source.extension().is_some_and(|e| e != "socket") => format!(
            "or let the system manager bind it: write the [Socket] section of {src} as /etc/systemd/system/{stem}.socket, take it out of {src}, and run the service it activates as /etc/systemd/system/{stem}.service with User={user} (podman still runs rootless and receives the socket)",
            src = b.source.display(),
            user = env.user
        ),
        SourceKind::Socket => format!(
            "or let the system manager bind it: move {src} to /etc/systemd/system/{stem}.socket and run the service it activates as /etc/systemd/system/{stem}.service with User={user} (podman still runs rootless and receives the socket)",
            src = b.source.display(),
            user = env.user
        ),
        // A `kube play` port: the YAML's, or PublishPort= (a [Socket] is the other way).
        SourceKind::Kube => format!(
            "or publish it from port {start} on ({key}=, or hostPort: in the YAML file)",
            key = b.key
        ),
        _ => format!(
            "or socket-activate it from the system manager instead of {key}=: /etc/systemd/system/{stem}.socket with ListenStream={port} and /etc/systemd/system/{stem}.service with User={user} running the container (podman still runs rootless and receives the socket)",
            key = b.key,
            port = b.ports.0,
            user = env.user
        ),
    }
}

/// `ProxyTo=` in a container's `[Socket]` runs systemd's `systemd-socket-proxyd`: it must
/// be where the generated unit runs it from (checked only when a source uses it).
pub fn proxyd(env: &Env, out: &mut Vec<Finding>) {
    let disc = search::discover(&env.source_roots());
    let users: Vec<PathBuf> = (disc.sources.iter())
        .filter(|f| crate::quadlet::proxy::KINDS.contains(&f.kind))
        .filter(|f| uses_proxy(&f.path, &f.name, &disc.dropin_dirs))
        .map(|f| f.path.clone())
        .collect();
    let Some(first) = users.first() else {
        return;
    };
    let proxyd = env.sys(crate::quadlet::proxy::SOCKET_PROXYD);
    if super::is_executable(&proxyd) {
        out.push(Finding::ok(
            "socket.proxyd",
            format!(
                "{} is there for the {} source(s) with ProxyTo=",
                proxyd.display(),
                users.len()
            ),
        ));
    } else {
        out.push(Finding::error(
            "socket.proxyd",
            format!(
                "{}: ProxyTo= runs {}, which is not there (or not executable): the proxy cannot start",
                first.display(),
                proxyd.display()
            ),
            "it is part of systemd (Debian: the systemd package; some distributions put it in \
             systemd-container): install it, or take ProxyTo= out and use an image that takes \
             the socket itself",
        ));
    }
}

/// The source and its drop-ins in merge order, each read (bounded, regular files only) and
/// parsed; unparsable files are skipped: `rootlet.sources` reports them.
fn parsed(
    path: &Path,
    name: &str,
    dropin_dirs: &HashMap<String, Vec<PathBuf>>,
) -> Vec<(PathBuf, UnitFile)> {
    let mut files = vec![path.to_owned()];
    files.extend(search::dropins(name, dropin_dirs));
    let mut out = Vec::new();
    for f in files {
        let mut data = Vec::new();
        if crate::fsutil::read_regular(&f, crate::generator::MAX_SOURCE, &mut data).is_ok() {
            if let Ok(unit) = UnitFile::parse_bytes(&data) {
                out.push((f, unit));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_values() {
        assert_eq!(publish_host_ports("8080:80"), Some((8080, 8080)));
        assert_eq!(publish_host_ports("127.0.0.1:80:80"), Some((80, 80)));
        assert_eq!(publish_host_ports("[::1]:53:53/udp"), Some((53, 53)));
        assert_eq!(publish_host_ports("8000-8010:80-90"), Some((8000, 8010)));
        assert_eq!(
            publish_host_ports("0.0.0.0:443-444:443-444/tcp"),
            Some((443, 444))
        );
        assert_eq!(publish_host_ports("80"), None);
        assert_eq!(publish_host_ports("80/udp"), None);
        assert_eq!(publish_host_ports("127.0.0.1::80"), None);
        assert_eq!(publish_host_ports("[::1]::80"), None);
        assert_eq!(publish_host_ports("x:80"), None);
        assert_eq!(publish_host_ports("99999:80"), None);
        assert_eq!(publish_host_ports("[::1"), None);
        assert_eq!(publish_host_ports(""), None);
        assert_eq!(publish_host_ports("90-80:80"), None);
    }

    #[test]
    fn listen_values() {
        assert_eq!(listen_port("80"), Some(80));
        assert_eq!(listen_port("0.0.0.0:80"), Some(80));
        assert_eq!(listen_port("[::]:443"), Some(443));
        assert_eq!(listen_port("[fe80::1%eth0]:8080"), Some(8080));
        assert_eq!(listen_port("/run/user/1000/web.sock"), None);
        assert_eq!(listen_port("@abstract"), None);
        assert_eq!(listen_port("vsock:2:80"), None);
        assert_eq!(listen_port("[::]"), None);
        assert_eq!(listen_port("host:"), None);
        assert_eq!(listen_port(""), None);
    }
}
