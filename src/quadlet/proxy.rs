//! Proxy mode of a container's own `[Socket]`, for a program that cannot take a socket:
//! `ProxyTo=PORT` (the port the program listens on inside the container). `X.socket`
//! then activates `X-proxy.service`, which runs systemd's own `systemd-socket-proxyd`
//! towards the container, published only on a loopback address of its own
//! ([`address`]). The container's unit is ready only once the program listens on the port
//! ([`wait_line`]: an `ExecStartPost=` with a deadline, no resident helper), and the proxy
//! starts after it, so the first connection after a cold start is answered, not refused.
//! The container's unit is `StopWhenUnneeded=yes`: it runs while the proxy does.
//! `IdleStopSec=TIME` makes the proxy exit after that long without a connection
//! (`--exit-idle-time=`), which stops the container; the socket stays, and the next
//! connection starts both again. The program sees the proxy's address, not the client's.
//!
//! A `.pod`'s `[Socket]` works the same way, the pod publishing the port: "the container"
//! is then the pod's infra container, whose network namespace the members share. Its wait
//! runs in the proxy's unit (`ExecStartPre=`), not the pod's: the members start only
//! after the pod's unit is up, so the pod's unit cannot wait for them. And the pod's unit
//! is stopped by the proxy (`PropagatesStopTo=`), not `StopWhenUnneeded=`: its members are
//! bound to it (`BindsTo=`), which keeps it needed for as long as they run.

use super::{Generated, Source, SourceKind};
use crate::error::SourceError;
use crate::exec;
use crate::unit::{Entry, Section, UnitFile};

/// rootlet's keys of a container's own `[Socket]` for proxy mode: not written to the
/// socket unit.
pub const KEYS: &[&str] = &["ProxyTo", "IdleStopSec"];

/// systemd's proxy, where systemd installs it (`/lib` is `/usr/lib` on merged-/usr
/// systems, and the real place on Debian's older layout).
pub const SOCKET_PROXYD: &str = "/lib/systemd/systemd-socket-proxyd";

/// How long the container's unit waits for the program to listen, in seconds: within the
/// user manager's default start timeout (90 s, armed anew for `ExecStartPost=` by systemd
/// 252), so that the wait's own message says why, not systemd's "timed out".
pub const LISTEN_DEADLINE: u32 = 60;

/// Proxy mode, as a container's `[Socket]` asks for it.
pub struct Proxy {
    /// The port the program listens on inside the container.
    pub port: u16,
    /// `IdleStopSec=`, as written (a systemd time span).
    pub idle: Option<String>,
    /// Where the wait finds conmon's pid: `None`, the service's own main process
    /// (`$MAINPID` of its `ExecStartPost=`); for a pod, the `PIDFile=` of the pod's unit
    /// (the infra container's conmon), read by the proxy's `ExecStartPre=`.
    pub pidfile: Option<String>,
}

/// The kinds whose `[Socket]` may have `ProxyTo=`: those that publish a port of a
/// network of their own (a `.kube`'s pods are the YAML's: see `socket::check_kind`).
pub const KINDS: &[SourceKind] = &[SourceKind::Container, SourceKind::Pod];

/// The entries of every `[Socket]` section of `src`, in order.
fn socket_entries(src: &Source) -> impl Iterator<Item = &Entry> {
    (src.file.sections.iter())
        .filter(|s| s.name == "Socket")
        .flat_map(|s| &s.entries)
}

/// Proxy mode of `src`'s own `[Socket]` (`service`: the unit of `src`), if it asks for it;
/// an error at the line that makes it impossible.
pub fn of(src: &Source, service: &str) -> Result<Option<Proxy>, SourceError> {
    let last = |key: &str| socket_entries(src).filter(|e| e.key == key).last();
    let (to, idle) = (last("ProxyTo"), last("IdleStopSec"));
    let Some(to) = to.filter(|e| !e.value.is_empty()) else {
        return match idle.filter(|e| !e.value.is_empty()) {
            Some(e) => Err(src.err(
                e.line,
                "IdleStopSec= needs ProxyTo=: only the proxy knows when connections end",
            )),
            None => Ok(None),
        };
    };
    let port = match to.value.trim().parse::<u16>() {
        Ok(p) if p > 0 => p,
        _ => {
            return Err(src.err(
                to.line,
                format!(
                    "ProxyTo: `{}` is not a port (1-65535) inside the container",
                    to.value
                ),
            ))
        }
    };
    if service.contains('@') {
        return Err(src.err(
            to.line,
            format!(
                "ProxyTo= in a template: its instances would share one loopback address; \
                 write one .{} per instance",
                src.kind.extension()
            ),
        ));
    }
    for e in socket_entries(src) {
        if super::socket::LISTEN_KEYS.contains(&&*e.key) && e.key != "ListenStream" {
            return Err(src.err(
                e.line,
                format!(
                    "{}= with ProxyTo=: systemd-socket-proxyd forwards stream connections \
                     only (ListenStream=)",
                    e.key
                ),
            ));
        }
    }
    // podman publishes no port of a container (or pod) without a network of its own:
    // none, the host's, another container's, or its pod's (whose ports are the pod's to
    // publish).
    let shared = (src.file.sections.iter())
        .filter(|s| s.name == src.kind.section())
        .flat_map(|s| &s.entries)
        .rfind(|e| {
            let v = e.value.trim();
            match &*e.key {
                "Network" => {
                    matches!(v, "none" | "host")
                        || v.starts_with("container:")
                        || v.ends_with(".container")
                }
                "Pod" => !v.is_empty(),
                _ => false,
            }
        });
    if let Some(e) = shared {
        let pod = Some(e.value.trim()).filter(|v| e.key == "Pod" && v.ends_with(".pod"));
        let instead = match pod {
            Some(p) => format!(": give the [Socket] (with ProxyTo=) to {p} instead"),
            None => String::new(),
        };
        return Err(src.err(
            e.line,
            format!(
                "{}={} with ProxyTo=: the proxy reaches the {} through a port published from \
                 its own network, which it has not{instead}",
                e.key,
                e.value.trim(),
                src.kind.extension()
            ),
        ));
    }
    let idle = match idle.filter(|e| !e.value.is_empty()) {
        Some(e) if !super::defaults::timespan(&e.value) => {
            return Err(src.err(
                e.line,
                format!(
                    "IdleStopSec: `{}` is not a systemd time span (30s, 5min, 1h)",
                    e.value
                ),
            ))
        }
        Some(e) => Some(e.value.trim().to_owned()),
        None => None,
    };
    let pidfile = (src.kind == SourceKind::Pod).then(|| {
        let stem = service.strip_suffix(".service").unwrap_or(service);
        format!("%t/{stem}.pid")
    });
    Ok(Some(Proxy {
        port,
        idle,
        pidfile,
    }))
}

/// FNV-1a of a unit's name: small, stable across Rust releases (unlike `DefaultHasher`).
fn hash(service: &str) -> u64 {
    (service.bytes()).fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The loopback address the container is published on: `127.A.B.C` from a hash of its
/// unit's name, so that two proxied containers listening on the same port inside do not
/// clash on the host, and the same unit gets the same address at every boot (Linux
/// routes all of 127.0.0.0/8 to `lo`). `A` is kept away from 0, where `127.0.0.1` and
/// Debian's `127.0.1.1` live.
pub fn address(service: &str) -> String {
    let h = hash(service);
    format!(
        "127.{}.{}.{}",
        64 + h % 190,
        (h >> 8) & 0xff,
        1 + (h >> 16) % 254
    )
}

/// The host port of that address the container is published on (podman's rootless port
/// forwarder binds it), 20000-29999 from the same hash. Not the port inside: only the
/// proxy connects to it, and a port of its own is one rootless podman can always bind
/// (the port inside may be below `net.ipv4.ip_unprivileged_port_start`, `ProxyTo=80`)
/// and one that the socket's own `ListenStream=PORT` on every address does not take
/// (`ListenStream=8080` with `ProxyTo=8080`). Below the kernel's ephemeral range
/// (32768-60999 by default), so no outgoing connection holds it.
pub fn host_port(service: &str) -> u16 {
    // `% 10_000` keeps it below 2^14: the cast cannot truncate.
    20_000 + (hash(service) >> 32) as u16 % 10_000
}

/// The name of the proxy's unit: `web.service` -> `web-proxy.service`.
pub fn proxy_name(service: &str) -> String {
    let stem = service.strip_suffix(".service").unwrap_or(service);
    format!("{stem}-proxy.service")
}

/// The `PublishPort=` the container gets: the port inside, on [`address`]:[`host_port`]
/// only.
pub fn publish(p: &Proxy, service: &str) -> String {
    format!("{}:{}:{}", address(service), host_port(service), p.port)
}

/// Where the proxy connects: the published [`address`]:[`host_port`].
pub fn target(service: &str) -> String {
    format!("{}:{}", address(service), host_port(service))
}

/// Waits until a process of the container listens on the port (`$1`, as
/// `/proc/net/tcp` writes it: 4 upper-case hex digits); `$2` is the port for people,
/// `$3` the deadline in seconds. The container's processes are the children of conmon,
/// the unit's main process (`$MAINPID`, set by systemd for `ExecStartPost=`); their
/// network namespace is the container's, read from `/proc` with no tool in the image. A
/// child in the host's network namespace (the wait's own) is not the container: conmon
/// runs podman's clean-up there when the container exits, and the host's sockets (another
/// proxied container's published port) must not pass for this one's.
const WAIT: &str = r#"n=0 h=$(readlink /proc/$$/ns/net)
while :; do
for c in $(cat /proc/$MAINPID/task/*/children 2>/dev/null); do
[ "$(readlink /proc/$c/ns/net 2>/dev/null)" != "$h" ] || continue
grep -qs ":$1 [0-9A-F]*:0000 0A " /proc/$c/net/tcp /proc/$c/net/tcp6 && exit 0
done
[ -d /proc/$MAINPID ] || { echo "the container exited before anything listened on port $2 in it" >&2; exit 1; }
n=$((n+1))
[ $n -le $(($3*10)) ] || { echo "nothing listens on port $2 in the container after $3 s (ProxyTo=$2): is it the port the program listens on?" >&2; exit 1; }
sleep 0.1
done"#;

/// The wait's first line for a pod: conmon's pid from the pod unit's `PIDFile=` (`$4`).
const PIDFILE: &str =
    "MAINPID=$(cat \"$4\") || { echo \"the pod is not running (no $4)\" >&2; exit 1; }\n";

/// The command line that waits for the program to listen: the `ExecStartPost=` of the
/// container's unit, or the `ExecStartPre=` of a pod's proxy.
pub fn wait_line(p: &Proxy) -> String {
    let script = match &p.pidfile {
        Some(_) => super::concat(&[PIDFILE, WAIT]),
        None => WAIT.to_owned(),
    };
    let script = script.replace('%', "%%").replace('$', "$$");
    let (hex, port, deadline) = (
        format!("{:04X}", p.port),
        p.port.to_string(),
        LISTEN_DEADLINE.to_string(),
    );
    let mut args = vec![
        "-c",
        &*script,
        "rootlet-listen-wait",
        &hex,
        &port,
        &deadline,
    ];
    args.extend(p.pidfile.as_deref());
    exec::command_line("/bin/sh", &args)
}

/// Proxy mode in the service's own unit: a container's is ready once the program listens,
/// and stopped when the proxy no longer needs it (a pod's: see the module's comment).
/// That stop is routine (every idle stop), and the program stopped by podman's SIGTERM
/// ends with 128 + 15 unless it catches it (any program under `RunInit=yes`'s catatonit,
/// any that is not PID 1): `SuccessExitStatus=143` makes it a clean stop, not a failed
/// unit after every idle time (added to the user's own list: systemd merges them).
pub fn wire_service(file: &mut UnitFile, p: &Proxy) {
    if p.pidfile.is_some() {
        return;
    }
    file.section_mut("Unit").add("StopWhenUnneeded", "yes");
    let svc = file.section_mut("Service");
    svc.add("ExecStartPost", wait_line(p));
    svc.add("SuccessExitStatus", "143");
}

/// The proxy's unit: activated by `socket`, it needs the container (`service`) and
/// starts after it is ready.
pub fn proxy_unit(src: &Source, service: &str, socket: &str, p: &Proxy) -> Generated {
    let name = proxy_name(service);
    let mut unit = Section::new("Unit");
    unit.add(
        "Description",
        format!(
            "Proxy from {socket} to {service} (rootlet, ProxyTo={})",
            p.port
        ),
    );
    unit.add(
        "SourcePath",
        crate::unit::escape_specifiers(&src.path.to_string_lossy()),
    );
    for dep in [service, socket] {
        unit.add("Requires", dep.to_owned());
        unit.add("After", dep.to_owned());
    }
    let mut svc = Section::new("Service");
    if p.pidfile.is_some() {
        unit.add("PropagatesStopTo", service.to_owned());
        svc.add("ExecStartPre", wait_line(p));
    }
    let mut args: Vec<String> = Vec::new();
    if let Some(idle) = &p.idle {
        args.push(format!("--exit-idle-time={idle}"));
    }
    args.push(target(service));
    svc.add("ExecStart", exec::command_line(SOCKET_PROXYD, &args));
    Generated {
        name,
        file: UnitFile {
            sections: vec![unit, svc],
        },
        links: Vec::new(),
        warnings: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Child, Command, Stdio};

    /// Runs the wait of [`wait_line`] as systemd would, with `$MAINPID` = `main`: (exit
    /// code, stderr).
    fn wait(main: u32, port: u16, deadline: u32) -> (Option<i32>, String) {
        wait_for(Some(main), None, port, deadline)
    }

    /// [`wait`] with `$MAINPID` (a container's) or, for a pod, the pid file the wait reads.
    fn wait_for(
        main: Option<u32>,
        pidfile: Option<&str>,
        port: u16,
        deadline: u32,
    ) -> (Option<i32>, String) {
        let line = wait_line(&Proxy {
            port,
            idle: None,
            pidfile: pidfile.map(str::to_owned),
        });
        let argv = exec::split(&line).unwrap();
        let argv: Vec<String> = (argv.iter())
            .map(|w| w.replace("$$", "$").replace("%%", "%"))
            .collect();
        assert_eq!(argv[0], "/bin/sh");
        assert_eq!(
            argv[4..7],
            [
                format!("{port:04X}"),
                port.to_string(),
                LISTEN_DEADLINE.to_string()
            ]
        );
        assert_eq!(&argv[7..], pidfile.map(str::to_owned).as_slice());
        let mut cmd = Command::new("/bin/sh");
        cmd.args(&argv[1..5])
            .arg(port.to_string())
            .arg(deadline.to_string())
            .args(pidfile)
            .env_remove("MAINPID");
        if let Some(m) = main {
            cmd.env("MAINPID", m.to_string());
        }
        let o = cmd.output().unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    }

    /// A stand-in for conmon: a process whose child runs `cmd` in a network namespace of
    /// its own, as a container does; `None` where there are no user namespaces.
    fn conmon(cmd: &str) -> Option<Child> {
        let userns = Command::new("unshare")
            .args(["-rn", "busybox", "true"])
            .status();
        if !userns.is_ok_and(|s| s.success()) {
            eprintln!("SKIPPED LOUDLY: no `unshare -rn` or busybox here: the wait was not run");
            return None;
        }
        Some(spawn(&format!("unshare -rn {cmd} & wait")))
    }

    /// `sh -c script`, once it has a child.
    fn spawn(script: &str) -> Child {
        let c = Command::new("/bin/sh")
            .args(["-c", script])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let children = format!("/proc/{}/task/{}/children", c.id(), c.id());
        for _ in 0..100 {
            if std::fs::read_to_string(&children).is_ok_and(|s| !s.trim().is_empty()) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        c
    }

    #[test]
    fn the_wait_ends_when_the_port_listens_in_the_container_and_fails_saying_why() {
        // The port listens on the host, not in the container: not ready (podman's clean-up,
        // a child of conmon in the host's namespace, once passed for the container).
        let host = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = host.local_addr().unwrap().port();
        // A child in the host's namespace: podman's clean-up after the container exited.
        let mut cleanup = spawn("sleep 60 & wait");
        let (code, err) = wait(cleanup.id(), port, 1);
        cleanup.kill().unwrap();
        cleanup.wait().unwrap();
        assert_eq!(code, Some(1), "{err}");
        let Some(mut main) = conmon("sleep 60") else {
            return;
        };
        let (code, err) = wait(main.id(), port, 1);
        assert_eq!(code, Some(1), "{err}");
        assert!(
            err.contains(&format!(
                "nothing listens on port {port} in the container after 1 s"
            )),
            "{err}"
        );
        main.kill().unwrap();
        main.wait().unwrap();
        // The main process is gone: said at once.
        let (code, err) = wait(main.id(), port, 30);
        assert_eq!(code, Some(1));
        assert!(err.contains("the container exited before"), "{err}");
        drop(host);
        // The program in the container listens: ready.
        let Some(mut main) = conmon(&format!("busybox nc -l -p {port}")) else {
            return;
        };
        assert_eq!(wait(main.id(), port, 30), (Some(0), String::new()));
        main.kill().unwrap();
        main.wait().unwrap();
    }

    #[test]
    fn a_pods_wait_reads_the_infra_conmon_from_the_pod_units_pid_file() {
        let dir = std::env::temp_dir().join(format!("rootlet-proxy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pidfile = dir.join("web-pod.pid");
        let pf = pidfile.to_str().unwrap();
        // No pid file: the pod's unit is not up; said at once.
        let (code, err) = wait_for(None, Some(pf), 8080, 30);
        assert_eq!(code, Some(1));
        assert!(err.contains("the pod is not running (no "), "{err}");
        // The infra's conmon, whose child (the infra) shares its network with the members:
        // a member listening there makes the pod ready.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let Some(mut infra) = conmon(&format!("busybox nc -l -p {port}")) else {
            return;
        };
        std::fs::write(&pidfile, format!("{}\n", infra.id())).unwrap();
        assert_eq!(wait_for(None, Some(pf), port, 30), (Some(0), String::new()));
        infra.kill().unwrap();
        infra.wait().unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_pods_proxy_waits_and_stops_the_pod_a_containers_unit_does_it_itself() {
        let src = |name: &str, text: &str| Source {
            path: format!("/q/{name}").into(),
            name: name.into(),
            kind: SourceKind::from_file_name(name).unwrap().0,
            file: UnitFile::parse(text).unwrap(),
        };
        let text = "[Pod]\n[Socket]\nListenStream=80\nProxyTo=8080\n";
        let pod = src("web.pod", text);
        let p = of(&pod, "web-pod.service").unwrap().unwrap();
        assert_eq!(p.pidfile.as_deref(), Some("%t/web-pod.pid"));
        let mut own = UnitFile::parse("[Unit]\n[Service]\n").unwrap();
        wire_service(&mut own, &p);
        let t = own.write();
        assert!(
            !t.contains("StopWhenUnneeded") && !t.contains("ExecStart"),
            "{t}"
        );
        let g = proxy_unit(&pod, "web-pod.service", "web-pod.socket", &p);
        let t = g.file.write();
        assert!(t.contains("\nPropagatesStopTo=web-pod.service\n"), "{t}");
        assert!(t.contains("\nExecStartPre=/bin/sh -c "), "{t}");
        assert!(t.contains(" %t/web-pod.pid\nExecStart="), "{t}");
        // A container's own unit waits (ExecStartPost=) and stops when unneeded.
        let text = "[Container]\nImage=x\n[Socket]\nListenStream=80\nProxyTo=8080\n";
        let c = of(&src("web.container", text), "web.service")
            .unwrap()
            .unwrap();
        assert_eq!(c.pidfile, None);
        wire_service(&mut own, &c);
        let t = own.write();
        assert!(
            t.contains("StopWhenUnneeded=yes") && t.contains("ExecStartPost="),
            "{t}"
        );
    }

    #[test]
    fn each_unit_its_own_loopback_address_the_same_every_time() {
        let a = address("web.service");
        assert_eq!(a, address("web.service"));
        assert_ne!(a, address("api.service"));
        let octets: Vec<u16> = a.split('.').map(|o| o.parse().unwrap()).collect();
        assert_eq!(octets[0], 127);
        assert!((64..=253).contains(&octets[1]) && (1..=254).contains(&octets[3]));
        // Its host port: unprivileged, below the ephemeral range, the same every time.
        let p = host_port("web.service");
        assert!((20_000..30_000).contains(&p), "{p}");
        assert_eq!(p, host_port("web.service"));
        let proxy = Proxy {
            port: 80,
            idle: None,
            pidfile: None,
        };
        assert_eq!(publish(&proxy, "web.service"), format!("{a}:{p}:80"));
        assert_eq!(target("web.service"), format!("{a}:{p}"));
    }
}
