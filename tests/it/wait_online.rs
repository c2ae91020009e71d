//! rootlet-wait-online against a real `dbus-daemon` on a private bus, where a small Python
//! service (tests/wait_support/fake_systemd.py) plays `org.freedesktop.systemd1` and injects
//! what a real system rarely does on demand: the target flipping inactive -> activating ->
//! active, never pulled in, failing, the bus dying mid-wait, access denied, the timeout.
//! The route fallback reads a fake /proc + /sys tree (`ROOTLET_WAIT_ROOT`).
//! Exit status, elapsed time and log lines are asserted.

use crate::util::{self, UserEnv};

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_rootlet-wait-online");
/// Debian's Python, where python3-dbus and python3-gi install (not a pyenv one on PATH).
const PYTHON: &str = "/usr/bin/python3";

fn have(cmd: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {cmd}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn python_dbus() -> bool {
    Command::new(PYTHON)
        .args([
            "-c",
            "import dbus, dbus.service; from gi.repository import GLib",
        ])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Skip loudly where the real bus daemon or the fake's bindings are missing.
fn prerequisites() -> bool {
    if have("dbus-daemon") && python_dbus() {
        return true;
    }
    crate::util::skip(
        "needs dbus-daemon, python3-dbus and python3-gi (scripts/test.sh installs them)",
    );
    false
}

/// Kills what it holds when dropped (only processes this test started).
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A private bus with the fake systemd, in the scratch directory of a user of its own
/// (`env`: the binaries run in its environment, the fake tables are in its directory).
struct Bus {
    env: UserEnv,
    address: String,
    daemon: Option<Proc>,
    _fake: Option<Proc>,
}

impl Drop for Bus {
    fn drop(&mut self) {
        // The processes end before `env` removes their directory.
        self._fake.take();
        self.daemon.take();
    }
}

impl Bus {
    /// [`prerequisites`], then [`bus`]; `None` (skipped loudly) without them.
    fn start(name: &str, scenario: &str, deny: bool) -> Option<Bus> {
        prerequisites().then(|| bus(name, scenario, deny))
    }

    fn dir(&self) -> &Path {
        self.env.path()
    }

    /// [`wait_cmd`] against this bus, over fake tables with or without a default route.
    fn cmd(&self, route: bool) -> Command {
        wait_cmd(&self.env, &self.address, &tables(self.dir(), route))
    }

    /// [`wait_online`] against this bus, over fake tables with or without a default route.
    fn wait(&self, route: bool, args: &[&str]) -> Run {
        wait_online(&self.env, &self.address, &tables(self.dir(), route), args)
    }
}

/// The scratch user of one test.
fn scratch(name: &str) -> UserEnv {
    UserEnv::new(&format!("wait-{name}"))
}

/// A private bus with the fake systemd playing `scenario`; `deny` forbids calling it.
fn bus(name: &str, scenario: &str, deny: bool) -> Bus {
    let env = scratch(name);
    let dir = env.path();
    let sock = dir.join("bus");
    let deny_rule = if deny {
        r#"<deny send_destination="org.freedesktop.systemd1"/>"#
    } else {
        ""
    };
    let conf = format!(
        r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus"/>
    {deny_rule}
  </policy>
</busconfig>
"#,
        sock.display()
    );
    std::fs::write(dir.join("bus.conf"), conf).unwrap();
    let mut daemon = Command::new("dbus-daemon")
        .arg(format!("--config-file={}", dir.join("bus.conf").display()))
        .args(["--nofork", "--nopidfile", "--print-address"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("dbus-daemon");
    let mut line = String::new();
    BufReader::new(daemon.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let address = line.trim().to_owned();
    assert!(address.starts_with("unix:"), "{address}");
    let fake_py = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/wait_support/fake_systemd.py");
    let mut fake = Command::new(PYTHON)
        .arg(&fake_py)
        .args([&address, scenario])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3");
    let mut ready = String::new();
    BufReader::new(fake.stdout.take().unwrap())
        .read_line(&mut ready)
        .unwrap();
    assert_eq!(ready.trim(), "READY");
    Bus {
        env,
        address,
        daemon: Some(Proc(daemon)),
        _fake: Some(Proc(fake)),
    }
}

const HDR: &str =
    "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n";

/// A fake /proc + /sys tree; `route` says whether a default route is there.
fn tables(dir: &Path, route: bool) -> PathBuf {
    let root = dir.join("root");
    std::fs::create_dir_all(root.join("proc/net")).unwrap();
    std::fs::create_dir_all(root.join("sys/class/net/veth0")).unwrap();
    std::fs::write(root.join("sys/class/net/veth0/flags"), "0x1003\n").unwrap();
    set_route(&root, route);
    std::fs::write(root.join("proc/net/ipv6_route"), "").unwrap();
    root
}

fn set_route(root: &Path, route: bool) {
    let body = if route {
        format!("{HDR}veth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n")
    } else {
        HDR.to_owned()
    };
    let tmp = root.join("proc/net/route.tmp");
    std::fs::write(&tmp, body).unwrap();
    std::fs::rename(tmp, root.join("proc/net/route")).unwrap();
}

struct Run {
    code: Option<i32>,
    elapsed: Duration,
    log: String,
}

/// rootlet-wait-online in the environment of `env`'s user (neither `NOTIFY_SOCKET` nor
/// `JOURNAL_STREAM`: none of the caller's), asking the system bus at `address`, with the
/// fake tables at `root`.
fn wait_cmd(env: &UserEnv, address: &str, root: &Path) -> Command {
    let mut c = env.cmd(BIN);
    c.env("DBUS_SYSTEM_BUS_ADDRESS", address)
        .env("ROOTLET_WAIT_ROOT", root);
    c
}

/// [`wait_cmd`] with `args`, run to the end and timed.
fn wait_online(env: &UserEnv, address: &str, root: &Path, args: &[&str]) -> Run {
    let t = Instant::now();
    let o = wait_cmd(env, address, root).args(args).output().unwrap();
    let run = Run {
        code: o.status.code(),
        elapsed: t.elapsed(),
        log: String::from_utf8_lossy(&o.stderr).into_owned(),
    };
    eprintln!(
        "--- {args:?}: exit {:?} after {:?}\n{}",
        run.code, run.elapsed, run.log
    );
    run
}

fn lines_with(log: &str, s: &str) -> usize {
    log.lines().filter(|l| l.contains(s)).count()
}

#[test]
fn active_target_returns_at_once() {
    let Some(b) = Bus::start("active", "active", false) else {
        return;
    };
    let r = b.wait(false, &[]);
    assert_eq!(r.code, Some(0));
    assert!(r.elapsed < Duration::from_secs(2), "{:?}", r.elapsed);
    assert!(
        r.log.contains("network-online.target is active"),
        "{}",
        r.log
    );
    assert_eq!(r.log.lines().count(), 1, "one line, no chatter");
}

#[test]
fn sleeps_on_signals_until_active() {
    let Some(b) = Bus::start("flip", "flip", false) else {
        return;
    };
    // No route: only systemd's signal can end this wait.
    let r = b.wait(false, &[]);
    assert_eq!(r.code, Some(0));
    // The fake's timeline starts when it is ready, before this client starts: under load
    // that gap grows, so the lower bound keeps a wide margin (an answer without waiting takes
    // a few ms; the log lines prove what it waited for).
    assert!(r.elapsed >= Duration::from_millis(350), "{:?}", r.elapsed);
    assert!(r.elapsed < Duration::from_secs(3), "{:?}", r.elapsed);
    assert_eq!(
        lines_with(&r.log, "inactive with a job queued"),
        1,
        "{}",
        r.log
    );
    assert_eq!(lines_with(&r.log, "is activating"), 1, "{}", r.log);
    assert_eq!(lines_with(&r.log, "is active after"), 1, "{}", r.log);
    assert_eq!(
        r.log.lines().count(),
        3,
        "one line per change of state:\n{}",
        r.log
    );
}

#[test]
fn never_pulled_in_falls_back_to_the_route_at_once() {
    let Some(b) = Bus::start("never", "never", false) else {
        return;
    };
    let r = b.wait(true, &[]);
    assert_eq!(r.code, Some(0));
    assert!(
        r.elapsed < Duration::from_secs(2),
        "not 90 s: {:?}",
        r.elapsed
    );
    assert!(r.log.contains("it will never become active"), "{}", r.log);
    assert!(
        r.log.contains("default IPv4 route through veth0 is up"),
        "{}",
        r.log
    );
}

#[test]
fn fallback_waits_for_the_route_to_appear() {
    let Some(b) = Bus::start("late-route", "never", false) else {
        return;
    };
    let root = tables(b.dir(), false);
    let r2 = root.clone();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(700));
        set_route(&r2, true);
    });
    let r = wait_online(&b.env, &b.address, &root, &[]);
    t.join().unwrap();
    assert_eq!(r.code, Some(0));
    assert!(r.elapsed >= Duration::from_millis(650), "{:?}", r.elapsed);
    assert!(r.elapsed < Duration::from_secs(3), "{:?}", r.elapsed);
    assert_eq!(
        lines_with(&r.log, "checking for a default route"),
        1,
        "{}",
        r.log
    );
}

#[test]
fn still_starting_waits_for_startup_to_finish() {
    let Some(b) = Bus::start("starting", "starting-then-never", false) else {
        return;
    };
    let r = b.wait(true, &[]);
    assert_eq!(r.code, Some(0));
    // The fake's timeline starts when it is ready, before this client starts: under load
    // that gap grows, so the lower bound keeps a wide margin (an answer without waiting takes
    // a few ms; the log lines prove what it waited for).
    assert!(r.elapsed >= Duration::from_millis(150), "{:?}", r.elapsed);
    assert!(r.log.contains("the system is still starting"), "{}", r.log);
    assert!(r.log.contains("has finished starting"), "{}", r.log);
}

#[test]
fn flapping_target_is_waited_for_not_given_up() {
    let Some(b) = Bus::start("flap", "flap", false) else {
        return;
    };
    // No route: falling back in one of the gaps would wait until the timeout.
    let r = b.wait(false, &["--timeout=5"]);
    assert_eq!(r.code, Some(0), "{}", r.log);
    // The fake's timeline starts when it is ready, before this client starts: under load
    // that gap grows, so the lower bound keeps a wide margin (an answer without waiting takes
    // a few ms; the log lines prove what it waited for).
    assert!(r.elapsed >= Duration::from_millis(550), "{:?}", r.elapsed);
    assert!(r.elapsed < Duration::from_secs(3), "{:?}", r.elapsed);
    assert!(!r.log.contains("route"), "{}", r.log);
    assert_eq!(lines_with(&r.log, "is activating"), 2, "{}", r.log);
    assert_eq!(lines_with(&r.log, "is active after"), 1, "{}", r.log);
}

#[test]
fn failed_target_falls_back() {
    let Some(b) = Bus::start("failed", "failed", false) else {
        return;
    };
    let r = b.wait(true, &[]);
    assert_eq!(r.code, Some(0));
    assert!(
        r.log
            .contains("network-online.target failed; checking for a default route"),
        "{}",
        r.log
    );
}

#[test]
fn bus_dying_mid_wait_falls_back() {
    let Some(mut b) = Bus::start("dies", "activating-forever", false) else {
        return;
    };
    let root = tables(b.dir(), true);
    let mut daemon = b.daemon.take().unwrap();
    let pid = daemon.0.id();
    let killer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(500));
        let _ = daemon.0.kill(); // the bus daemon this test started, by its handle
        let _ = daemon.0.wait();
        pid
    });
    let r = wait_online(&b.env, &b.address, &root, &["--timeout", "10"]);
    killer.join().unwrap();
    assert_eq!(r.code, Some(0));
    assert!(
        r.elapsed >= Duration::from_millis(450) && r.elapsed < Duration::from_secs(3),
        "{:?}",
        r.elapsed
    );
    assert!(r.log.contains("is activating"), "{}", r.log);
    assert!(r.log.contains("system bus connection"), "{}", r.log);
}

#[test]
fn access_denied_falls_back() {
    let Some(b) = Bus::start("denied", "active", true) else {
        return;
    };
    let r = b.wait(true, &[]);
    assert_eq!(r.code, Some(0));
    assert!(r.log.contains("access denied"), "{}", r.log);
    assert!(r.log.contains("checking for a default route"), "{}", r.log);
}

#[test]
fn no_bus_at_all_falls_back() {
    let env = scratch("nobus");
    let dir = env.path();
    let r = wait_online(&env, "unix:path=/nonexistent/bus", &tables(dir, true), &[]);
    assert_eq!(r.code, Some(0));
    assert!(
        r.log.contains("cannot connect to the system bus"),
        "{}",
        r.log
    );
}

#[test]
fn timeout_is_reported_and_exits_1() {
    let Some(b) = Bus::start("timeout", "activating-forever", false) else {
        return;
    };
    let r = b.wait(true, &["--timeout", "1s"]);
    assert_eq!(r.code, Some(1));
    assert!(
        r.elapsed >= Duration::from_millis(950) && r.elapsed < Duration::from_secs(3),
        "{:?}",
        r.elapsed
    );
    assert!(r.log.contains("gave up after 1.0 s"), "{}", r.log);
    assert!(r.log.contains("still activating"), "{}", r.log);
}

#[test]
fn fallback_none_waits_for_the_target_only() {
    let Some(b) = Bus::start("none", "never", false) else {
        return;
    };
    let r = b.wait(true, &["--fallback=none", "--timeout=1"]);
    assert_eq!(r.code, Some(1));
    assert!(
        r.log
            .contains("--fallback=none: waiting for network-online.target anyway"),
        "{}",
        r.log
    );
}

#[test]
fn other_unit_and_bad_usage() {
    let Some(b) = Bus::start("unit", "active", false) else {
        return;
    };
    let r = b.wait(false, &["--unit", "other.target"]);
    assert_eq!(r.code, Some(0));
    assert!(r.log.contains("other.target is active"), "{}", r.log);
    let r = b.wait(false, &["--timeout", "soon"]);
    assert_eq!(r.code, Some(2));
}

/// Exec mode under `systemd-socket-activate` with two named sockets: the command runs with
/// the same pid, the sockets on fds 3 and 4 with their names, and no other fd of ours.
#[test]
fn exec_mode_passes_sockets_and_nothing_else() {
    if !prerequisites() || !have("systemd-socket-activate") {
        crate::util::skip("needs systemd-socket-activate");
        return;
    }
    let b = bus("exec", "active", false);
    let out = b.dir().join("probe.out");
    // The probe reports what it got: pid, LISTEN_* and its open fds (listed with
    // opendir, whose own fd is left out). A C program: a shell would show fds of its own.
    let probe_c = b.dir().join("probe.c");
    let probe = b.dir().join("probe");
    std::fs::write(
        &probe_c,
        r#"#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
int main(int argc, char **argv) {
    FILE *f = fopen(argv[1], "w");
    const char *e[3] = {getenv("LISTEN_PID"), getenv("LISTEN_FDS"), getenv("LISTEN_FDNAMES")};
    fprintf(f, "PID=%d LISTEN_PID=%s LISTEN_FDS=%s LISTEN_FDNAMES=%s\n", (int)getpid(),
            e[0] ? e[0] : "-", e[1] ? e[1] : "-", e[2] ? e[2] : "-");
    DIR *d = opendir("/proc/self/fd");
    int own = dirfd(d), ownf = fileno(f);
    struct dirent *de;
    while ((de = readdir(d))) {
        int fd = atoi(de->d_name);
        if (de->d_name[0] == '.' || fd == own || fd == ownf) continue;
        char p[64], t[256]; snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
        ssize_t n = readlink(p, t, sizeof t - 1); t[n > 0 ? n : 0] = 0;
        fprintf(f, "%d %s\n", fd, t);
    }
    return fclose(f);
}
"#,
    )
    .unwrap();
    let cc = Command::new("cc")
        .arg("-o")
        .arg(&probe)
        .arg(&probe_c)
        .status();
    if !cc.is_ok_and(|s| s.success()) {
        crate::util::skip("no C compiler for the fd probe");
        return;
    }
    let port1 = 20000 + (std::process::id() % 20000) as u16;
    let port2 = port1 + 1;
    let sa = b
        .env
        .cmd("systemd-socket-activate")
        .arg(format!("--listen=127.0.0.1:{port1}"))
        .arg(format!("--listen=127.0.0.1:{port2}"))
        .arg("--fdname=http:admin")
        .args([
            "--setenv=DBUS_SYSTEM_BUS_ADDRESS",
            "--setenv=ROOTLET_WAIT_ROOT",
        ])
        .arg(BIN)
        .arg("--")
        .arg(&probe)
        .arg(&out)
        .env("DBUS_SYSTEM_BUS_ADDRESS", &b.address)
        .env("ROOTLET_WAIT_ROOT", tables(b.dir(), false))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let sa = Proc(sa);
    // Activation happens on the first connection.
    let mut connected = None;
    for _ in 0..100 {
        if let Ok(c) = std::net::TcpStream::connect(("127.0.0.1", port1)) {
            connected = Some(c);
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        connected.is_some(),
        "cannot connect to the activation socket"
    );
    let mut text = String::new();
    for _ in 0..100 {
        text = std::fs::read_to_string(&out).unwrap_or_default();
        if text.lines().count() >= 4 {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(sa);
    eprintln!("{text}");
    let mut lines: Vec<&str> = text.lines().collect();
    assert!(!lines.is_empty(), "the probe did not run");
    let head = lines.remove(0);
    let pid = head
        .split_whitespace()
        .next()
        .unwrap()
        .trim_start_matches("PID=");
    assert_eq!(
        head,
        format!("PID={pid} LISTEN_PID={pid} LISTEN_FDS=2 LISTEN_FDNAMES=http:admin"),
        "same pid as the one systemd-socket-activate started"
    );
    lines.sort_by_key(|l| l.split(' ').next().and_then(|n| n.parse::<u32>().ok()));
    let fds: Vec<&str> = lines.iter().map(|l| l.split(' ').next().unwrap()).collect();
    assert_eq!(
        fds,
        ["0", "1", "2", "3", "4"],
        "the two sockets and nothing else:\n{text}"
    );
    assert!(
        lines[3].contains("socket:") && lines[4].contains("socket:"),
        "{text}"
    );
}

/// SIGTERM and SIGINT stop the wait at once.
#[test]
fn signals_stop_the_wait_at_once() {
    let Some(b) = Bus::start("signals", "activating-forever", false) else {
        return;
    };
    let root = tables(b.dir(), false);
    for sig in [rustix::process::Signal::TERM, rustix::process::Signal::INT] {
        let child = wait_cmd(&b.env, &b.address, &root)
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut child = Proc(child);
        std::thread::sleep(Duration::from_millis(300));
        let t = Instant::now();
        let pid = rustix::process::Pid::from_raw(child.0.id() as i32).unwrap();
        rustix::process::kill_process(pid, sig).unwrap(); // our own child, by pid
        let status = child.0.wait().unwrap();
        assert!(
            t.elapsed() < Duration::from_millis(500),
            "{:?}",
            t.elapsed()
        );
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(sig.as_raw()), "{status:?}");
    }
}

// ---- Hostile buses, arguments and environments (adversarial audit of 2026-11-30) ----

/// A fake bus socket that misbehaves in one of these ways, in a thread of the test.
#[derive(Clone, Copy)]
enum Raw {
    /// Accepts the connection and never says a word.
    Silent,
    /// Authenticates (SASL EXTERNAL), then never answers `Hello`.
    SaslThenSilent,
    /// Sends one endless handshake line, never a newline.
    EndlessLine,
    /// Answers `AUTH` with a bare `\n` (zbus indexed the byte before it).
    NewlineFirst,
}

/// Start a raw server of kind `kind` in `dir`; `stopped` receives the time when an endless
/// writer could write no more (the client shut the connection down).
fn raw_bus(dir: &Path, kind: Raw) -> (String, std::sync::mpsc::Receiver<Instant>) {
    use std::io::{Read, Write};
    let sock = dir.join("rawbus");
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            let tx = tx.clone();
            match kind {
                Raw::Silent => held.push(conn),
                Raw::EndlessLine => {
                    std::thread::spawn(move || {
                        let chunk = [b'A'; 65536];
                        while conn.write_all(&chunk).is_ok() {}
                        let _ = tx.send(Instant::now());
                    });
                }
                Raw::SaslThenSilent | Raw::NewlineFirst => {
                    std::thread::spawn(move || {
                        let mut seen = Vec::new();
                        let mut buf = [0u8; 1024];
                        loop {
                            let n = match conn.read(&mut buf) {
                                Ok(0) | Err(_) => return,
                                Ok(n) => n,
                            };
                            seen.extend_from_slice(&buf[..n]);
                            while let Some(i) = seen.iter().position(|b| *b == b'\n') {
                                let line: Vec<u8> = seen.drain(..=i).filter(|b| *b != 0).collect();
                                let line = String::from_utf8_lossy(&line);
                                let reply: &[u8] = match kind {
                                    Raw::NewlineFirst => b"\n",
                                    _ if line.starts_with("AUTH") => {
                                        b"OK 0123456789abcdef0123456789abcdef\r\n"
                                    }
                                    _ if line.starts_with("NEGOTIATE_UNIX_FD") => {
                                        b"AGREE_UNIX_FD\r\n"
                                    }
                                    _ if line.starts_with("BEGIN") => {
                                        // Authenticated: now hold the line, say nothing.
                                        std::thread::sleep(Duration::from_secs(3600));
                                        return;
                                    }
                                    _ => b"ERROR\r\n",
                                };
                                if conn.write_all(reply).is_err() {
                                    return;
                                }
                            }
                        }
                    });
                }
            }
        }
    });
    (format!("unix:path={}", sock.display()), rx)
}

/// The deadline a stuck bus must be given up by: far below the `--timeout=60` of these
/// tests, with room for a loaded machine (the step limit is 5 s).
const STUCK: Duration = Duration::from_secs(20);

fn assert_stuck_bus_fell_back(r: &Run, step: &str) {
    assert_eq!(r.code, Some(0), "{}", r.log);
    assert!(
        r.elapsed < STUCK,
        "not the whole --timeout: {:?}",
        r.elapsed
    );
    assert!(
        r.log
            .contains(&format!("no reply from the system bus within 5 s ({step})")),
        "{}",
        r.log
    );
    assert_eq!(
        lines_with(&r.log, "checking for a default route instead"),
        1,
        "{}",
        r.log
    );
    assert!(
        r.log.contains("default IPv4 route through veth0"),
        "{}",
        r.log
    );
}

#[test]
fn silent_bus_falls_back_within_seconds() {
    let env = scratch("silent");
    let dir = env.path();
    let (address, _) = raw_bus(dir, Raw::Silent);
    let r = wait_online(&env, &address, &tables(dir, true), &["--timeout=60"]);
    assert_stuck_bus_fell_back(&r, "connecting to the system bus");
}

#[test]
fn silent_tcp_bus_falls_back_within_seconds() {
    let env = scratch("silent-tcp");
    let dir = env.path();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let held = std::thread::spawn(move || listener.accept().map(|(c, _)| c));
    let address = format!("tcp:host=127.0.0.1,port={port}");
    let r = wait_online(&env, &address, &tables(dir, true), &["--timeout=60"]);
    assert_stuck_bus_fell_back(&r, "connecting to the system bus");
    drop(held.join());
}

#[test]
fn bus_silent_after_authentication_falls_back_within_seconds() {
    let env = scratch("authsilent");
    let dir = env.path();
    let (address, _) = raw_bus(dir, Raw::SaslThenSilent);
    let r = wait_online(&env, &address, &tables(dir, true), &["--timeout=60"]);
    assert_stuck_bus_fell_back(&r, "connecting to the system bus");
}

#[test]
fn unanswered_calls_fall_back_within_seconds() {
    if !prerequisites() {
        return;
    }
    let cases: [(&'static str, &'static str); 3] = [
        ("no-reply-subscribe", "Manager.Subscribe"),
        ("no-reply-loadunit", "Manager.LoadUnit"),
        ("no-reply-get", "reading ActiveState"),
    ];
    let runs: Vec<_> = cases
        .into_iter()
        .map(|(scenario, step)| {
            std::thread::spawn(move || {
                let b = bus(scenario, scenario, false);
                let r = b.wait(true, &["--timeout=60"]);
                (r, step)
            })
        })
        .collect();
    for t in runs {
        let (r, step) = t.join().unwrap();
        assert_stuck_bus_fell_back(&r, step);
    }
}

/// Whether process `pid` has a thread called `name`.
fn has_thread(pid: u32, name: &str) -> bool {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten()
        .flatten()
        .any(|t| std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.trim() == name))
}

#[test]
fn a_bus_answering_each_call_just_in_time_is_given_up_in_one_budget() {
    // Each call answered after 4.5 s: within the 5 s of a step, but the first reading
    // would take 5 of them.
    let Some(b) = Bus::start("slow", "slow", false) else {
        return;
    };
    let r = b.wait(true, &["--timeout=60"]);
    assert_eq!(r.code, Some(0), "{}", r.log);
    assert!(r.elapsed < Duration::from_secs(18), "{:?}", r.elapsed);
    assert!(r.log.contains("from the system bus within"), "{}", r.log);
    assert_eq!(
        lines_with(&r.log, "checking for a default route instead"),
        1,
        "{}",
        r.log
    );
}

/// utime + stime of a process, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, a)| a).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    f.get(11).and_then(|u| u.parse::<u64>().ok()).unwrap_or(0)
        + f.get(12).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0)
}

#[test]
fn endless_handshake_line_is_cut_off_and_costs_no_cpu_after() {
    let env = scratch("hugeline");
    let dir = env.path();
    let (address, stopped) = raw_bus(dir, Raw::EndlessLine);
    // No route: the wait goes on after the bus is given up; the reading must not.
    let child = wait_cmd(&env, &address, &tables(dir, false))
        .arg("--timeout=60")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = Proc(child);
    let t = Instant::now();
    let when = stopped.recv_timeout(STUCK);
    assert!(
        when.is_ok(),
        "still reading the endless line after {:?}",
        t.elapsed()
    );
    assert!(
        child.0.try_wait().unwrap().is_none(),
        "still waiting for a route"
    );
    let pid = child.0.id();
    // What zbus had buffered is still scanned; then its thread ends.
    let t = Instant::now();
    while has_thread(pid, "dbus") {
        assert!(t.elapsed() < STUCK, "the D-Bus thread still runs");
        std::thread::sleep(Duration::from_millis(100));
    }
    let before = cpu_ticks(pid);
    std::thread::sleep(Duration::from_secs(3));
    let spent = cpu_ticks(pid) - before;
    assert!(spent < 30, "{spent} ticks of CPU in 3 s after giving up");
    let _ = child.0.kill(); // our own child
    let out = child.0.wait_with_output_or_log();
    assert!(
        out.contains("no reply from the system bus within 5 s"),
        "{out}"
    );
}

trait Log {
    fn wait_with_output_or_log(&mut self) -> String;
}

impl Log for Child {
    fn wait_with_output_or_log(&mut self) -> String {
        use std::io::Read;
        let _ = self.wait();
        let mut s = String::new();
        if let Some(mut e) = self.stderr.take() {
            let _ = e.read_to_string(&mut s);
        }
        s
    }
}

#[test]
fn broken_handshake_reply_falls_back_and_still_execs() {
    let env = scratch("nlfirst");
    let dir = env.path();
    let (address, _) = raw_bus(dir, Raw::NewlineFirst);
    let r = wait_online(&env, &address, &tables(dir, true), &["--timeout=60"]);
    assert_eq!(r.code, Some(0), "{}", r.log);
    assert!(r.elapsed < STUCK, "{:?}", r.elapsed);
    assert_eq!(
        lines_with(&r.log, "checking for a default route instead"),
        1,
        "{}",
        r.log
    );
    let o = wait_cmd(&env, &address, &tables(dir, true))
        .args(["--timeout=60", "--", "/bin/echo", "DAEMON-STARTED"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    assert_eq!(String::from_utf8_lossy(&o.stdout), "DAEMON-STARTED\n");
}

#[test]
fn huge_timeouts_are_usage_errors() {
    let env = scratch("hugetimeout");
    let dir = env.path();
    for t in [
        "18446744073709551615",
        "99999999999999999999",
        "10000000000000000000",
        "10000000000000000000h",
        "9000h",
    ] {
        let r = wait_online(
            &env,
            "unix:path=/nonexistent/bus",
            &tables(dir, true),
            &[&format!("--timeout={t}")],
        );
        assert_eq!(r.code, Some(2), "{t}: {}", r.log);
        assert!(!r.log.contains("panicked"), "{}", r.log);
    }
}

#[test]
fn job_of_the_wrong_type_falls_back_instead_of_panicking() {
    let Some(b) = Bus::start("job-u", "job-u", false) else {
        return;
    };
    let r = b.wait(true, &["--timeout=60"]);
    assert_eq!(r.code, Some(0), "{}", r.log);
    assert!(r.elapsed < STUCK, "{:?}", r.elapsed);
    assert!(!r.log.contains("panicked"), "{}", r.log);
    assert!(
        r.log
            .contains("reading Job: malformed reply: Job has type `(u)`, not `(uo)`"),
        "{}",
        r.log
    );
    // Exec mode: the daemon starts.
    let o = b
        .cmd(true)
        .args(["--timeout=60", "--", "/bin/echo", "DAEMON-STARTED"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&o.stdout), "DAEMON-STARTED\n");
}

/// stderr whose reader is gone: every write fails with EPIPE.
fn broken_stderr() -> Stdio {
    let (ours, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
    drop(theirs);
    Stdio::from(std::os::fd::OwnedFd::from(ours))
}

#[test]
fn broken_stderr_neither_panics_nor_stops_the_exec() {
    let Some(b) = Bus::start("epipe", "never", false) else {
        return;
    };
    let root = tables(b.dir(), true);
    let o = wait_cmd(&b.env, &b.address, &root)
        .args(["--", "/bin/echo", "DAEMON-STARTED"])
        .stderr(broken_stderr())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    assert_eq!(String::from_utf8_lossy(&o.stdout), "DAEMON-STARTED\n");
    let s = wait_cmd(&b.env, &b.address, &root)
        .stderr(broken_stderr())
        .status()
        .unwrap();
    assert_eq!(s.code(), Some(0), "{s:?}");
}

#[test]
fn absurd_replies_are_refused_and_logged_bounded() {
    if !prerequisites() {
        return;
    }
    for scenario in ["huge-state", "huge-error"] {
        let b = bus(scenario, scenario, false);
        let r = b.wait(true, &["--timeout=60"]);
        assert_eq!(r.code, Some(0), "{scenario}");
        assert!(r.elapsed < STUCK, "{:?}", r.elapsed);
        let longest = r.log.lines().map(str::len).max().unwrap_or(0);
        assert!(longest <= 2200, "{scenario}: a log line of {longest} bytes");
        assert!(
            r.log.lines().all(|l| l.starts_with("rootlet-wait-online: ")
                && !l.starts_with("rootlet-wait-online: forged")),
            "{scenario}: a forged line:\n{}",
            r.log
        );
        assert_eq!(
            lines_with(&r.log, "checking for a default route instead"),
            1,
            "{}",
            r.log
        );
        if scenario == "huge-state" {
            assert!(
                r.log
                    .contains("reading ActiveState: malformed reply: a reply of 4000009 bytes"),
                "{}",
                r.log
            );
        }
    }
}

#[test]
fn a_command_that_cannot_run_is_reported_before_waiting() {
    let Some(b) = Bus::start("badcmd", "activating-forever", false) else {
        return;
    };
    let root = tables(b.dir(), false);
    let not_exec = b.dir().join("not-executable");
    std::fs::write(&not_exec, "#!/bin/sh\n").unwrap();
    for cmd in [
        "/nonexistent/cmd",
        "no-such-command-rootlet",
        not_exec.to_str().unwrap(),
        "/tmp",
        "",
    ] {
        let r = wait_online(&b.env, &b.address, &root, &["--timeout=60", "--", cmd]);
        assert_eq!(r.code, Some(127), "{cmd}: {}", r.log);
        assert!(
            r.elapsed < Duration::from_secs(10),
            "{cmd}: {:?}",
            r.elapsed
        );
        assert!(
            r.log.contains(&format!("cannot run \"{cmd}\"")),
            "{}",
            r.log
        );
    }
    // A bare name is found in PATH, and argv[0] stays as given.
    let b = bus("pathcmd", "active", false);
    let o = b
        .cmd(true)
        .args(["--", "sh", "-c", "echo \"$0\" ran"])
        // A default route too: on a loaded machine a slow bus reply may end in the route
        // fallback, and what is checked here is the PATH lookup, not the wait.
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    assert_eq!(String::from_utf8_lossy(&o.stdout), "sh ran\n");
}

#[test]
fn unit_names_with_control_characters_are_usage_errors() {
    let env = scratch("badunit");
    let dir = env.path();
    for unit in ["x\nREADY=1.target", "", &"a".repeat(300), "noext"] {
        let r = wait_online(
            &env,
            "unix:path=/nonexistent/bus",
            &tables(dir, true),
            &["--unit", unit],
        );
        assert_eq!(r.code, Some(2), "{unit:?}: {}", r.log);
    }
}

/// Exec mode: the status we showed while waiting is cleared before the exec (a daemon that
/// never sends `STATUS=` would show "waiting ..." for as long as it runs), and readiness is
/// left to the daemon.
#[test]
fn exec_mode_clears_its_status_and_leaves_readiness_to_the_daemon() {
    let env = scratch("execstatus");
    let dir = env.path();
    let sock = dir.join("notify");
    let rx = std::os::unix::net::UnixDatagram::bind(&sock).unwrap();
    rx.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let o = wait_cmd(&env, "unix:path=/nonexistent/bus", &tables(dir, true))
        .args(["--timeout=60", "--", "/bin/echo", "DAEMON-STARTED"])
        .env("NOTIFY_SOCKET", &sock)
        .env_remove("JOURNAL_STREAM")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    assert_eq!(String::from_utf8_lossy(&o.stdout), "DAEMON-STARTED\n");
    let mut msgs = Vec::new();
    let mut buf = [0u8; 4096];
    rx.set_nonblocking(true).unwrap();
    while let Ok(n) = rx.recv(&mut buf) {
        msgs.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    assert_eq!(msgs.last().map(String::as_str), Some("STATUS="), "{msgs:?}");
    assert!(!msgs.iter().any(|m| m.contains("READY=1")), "{msgs:?}");
}

/// Audit N10: `rootlet rm --force` (and `add --now`) aborted inside zbus when a running
/// unit's `Job` had the type `(u)`: the user manager's client converted it unchecked. Now
/// a wrong type is an error naming it; no panic, and nothing is removed.
#[test]
fn n10_rm_force_with_a_job_of_the_wrong_type_is_an_error_not_a_panic() {
    let Some(b) = Bus::start("job-u-active", "job-u-active", false) else {
        return;
    };
    let src = b.env.home().join(".config/containers/systemd");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(
        src.join("web.container"),
        "[Container]\nImage=docker.io/library/nginx\n",
    )
    .unwrap();
    let t0 = Instant::now();
    let o = b
        .env
        .cmd(util::bin("rootlet"))
        .args(["rm", "--force", "--no-reload", "web"])
        .env("DBUS_SESSION_BUS_ADDRESS", &b.address)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(t0.elapsed() < Duration::from_secs(60), "{:?}", t0.elapsed());
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("Job has type `(u)`, not `(uo)`"), "{err}");
    assert!(src.join("web.container").exists());
}

/// A Unix socket at `path` that accepts every connection and never says a word.
fn silent_bus(path: &std::path::Path) {
    let l = std::os::unix::net::UnixListener::bind(path).unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for c in l.incoming() {
            held.push(c);
        }
    });
}

/// Every call to the user manager, against a bus that accepts and never answers and
/// one that never accepts, ends within its deadline with an error that says so.
#[test]
fn every_call_ends_within_its_deadline_on_a_silent_or_full_bus() {
    let env = scratch("um");
    let dir = env.path();
    silent_bus(&dir.join("silent"));
    let _keep = util::full_unix_socket(&dir.join("full"));
    use rootlet::user_manager::{Client, Error};
    type Call = fn(&Client) -> Result<(), Error>;
    let calls: [(&str, Call); 6] = [
        ("reachable", |c| {
            if c.reachable() {
                Ok(())
            } else {
                Err(Error("no answer (unreachable)".into()))
            }
        }),
        ("states", |c| c.states(&["a.service".into()]).map(drop)),
        ("reload", |c| c.reload()),
        ("reset_failed", |c| c.reset_failed("a.service")),
        ("start", |c| {
            c.start("a.service", Duration::from_secs(1)).map(drop)
        }),
        ("stop", |c| {
            c.stop("a.service", Duration::from_secs(1)).map(drop)
        }),
    ];
    let timeout = Duration::from_secs(2);
    std::thread::scope(|s| {
        for bus in ["silent", "full"] {
            for (what, call) in calls {
                let address = format!("unix:path={}", dir.join(bus).display());
                s.spawn(move || {
                    let t0 = Instant::now();
                    let e = call(&rootlet::user_manager::Client::at(&address, timeout))
                        .unwrap_err()
                        .to_string();
                    let took = t0.elapsed();
                    // The call's own deadline is at most timeout + 5 s + wait.
                    assert!(took < Duration::from_secs(30), "{bus} {what}: {took:?}");
                    assert!(
                        took >= timeout.min(Duration::from_secs(1)) - Duration::from_millis(100),
                        "{bus} {what}: an error at once ({e}) is not this case"
                    );
                    let clear = if bus == "full" {
                        e.contains("does not accept connections") || e.contains("no answer")
                    } else {
                        e.contains("no answer") || e.contains("timed out") || e.contains("Timeout")
                    };
                    assert!(clear, "{bus} {what}: {e}");
                });
            }
        }
    });
}
