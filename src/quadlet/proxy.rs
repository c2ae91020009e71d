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

use super::{Generated, Source};
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
}

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
            "ProxyTo= in a template: its instances would share one loopback address; write \
             one .container per instance",
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
    // podman publishes no port of a container without a network of its own: none, the
    // host's, another container's, or its pod's (whose ports are the pod's to publish).
    let shared = (src.file.sections.iter())
        .filter(|s| s.name == "Container")
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
        return Err(src.err(
            e.line,
            format!(
                "{}={} with ProxyTo=: the proxy reaches the container through a port \
                 published from its own network, which it has not",
                e.key,
                e.value.trim()
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
    Ok(Some(Proxy { port, idle }))
}

/// The loopback address the container is published on: `127.A.B.C` from a hash of its
/// unit's name, so that two proxied containers listening on the same port inside do not
/// clash on the host, and the same unit gets the same address at every boot (Linux
/// routes all of 127.0.0.0/8 to `lo`). `A` is kept away from 0, where `127.0.0.1` and
/// Debian's `127.0.1.1` live.
pub fn address(service: &str) -> String {
    // FNV-1a: small, stable across Rust releases (unlike `DefaultHasher`).
    let h = (service.bytes()).fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!(
        "127.{}.{}.{}",
        64 + h % 190,
        (h >> 8) & 0xff,
        1 + (h >> 16) % 254
    )
}

/// The name of the proxy's unit: `web.service` -> `web-proxy.service`.
pub fn proxy_name(service: &str) -> String {
    let stem = service.strip_suffix(".service").unwrap_or(service);
    format!("{stem}-proxy.service")
}

/// The `PublishPort=` the container gets: the port inside, on [`address`] only.
pub fn publish(p: &Proxy, service: &str) -> String {
    format!("{}:{}:{}", address(service), p.port, p.port)
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

/// The `ExecStartPost=` of the container's unit that waits for the program to listen.
pub fn wait_line(p: &Proxy) -> String {
    let script = WAIT.replace('%', "%%").replace('$', "$$");
    let (hex, port, deadline) = (
        format!("{:04X}", p.port),
        p.port.to_string(),
        LISTEN_DEADLINE.to_string(),
    );
    exec::command_line(
        "/bin/sh",
        &["-c", &script, "rootlet-listen-wait", &hex, &port, &deadline],
    )
}

/// Proxy mode in the container's own unit: ready once the program listens, and stopped
/// when the proxy no longer needs it.
pub fn wire_container(file: &mut UnitFile, p: &Proxy) {
    file.section_mut("Unit").add("StopWhenUnneeded", "yes");
    file.section_mut("Service")
        .add("ExecStartPost", wait_line(p));
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
    let target = format!("{}:{}", address(service), p.port);
    let mut args: Vec<String> = Vec::new();
    if let Some(idle) = &p.idle {
        args.push(format!("--exit-idle-time={idle}"));
    }
    args.push(target);
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
        let line = wait_line(&Proxy { port, idle: None });
        let argv = exec::split(&line).unwrap();
        let argv: Vec<String> = (argv.iter())
            .map(|w| w.replace("$$", "$").replace("%%", "%"))
            .collect();
        assert_eq!(argv[0], "/bin/sh");
        assert_eq!(
            argv[4..],
            [
                format!("{port:04X}"),
                port.to_string(),
                LISTEN_DEADLINE.to_string()
            ]
        );
        let o = Command::new("/bin/sh")
            .args(&argv[1..5])
            .arg(port.to_string())
            .arg(deadline.to_string())
            .env("MAINPID", main.to_string())
            .output()
            .unwrap();
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
    fn each_unit_its_own_loopback_address_the_same_every_time() {
        let a = address("web.service");
        assert_eq!(a, address("web.service"));
        assert_ne!(a, address("api.service"));
        let octets: Vec<u16> = a.split('.').map(|o| o.parse().unwrap()).collect();
        assert_eq!(octets[0], 127);
        assert!((64..=253).contains(&octets[1]) && (1..=254).contains(&octets[3]));
    }
}
