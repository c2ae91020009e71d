//! Audits P3 and N9, as a class: every command of every binary, run with its stdout, its
//! stderr or both on a pipe whose reader is gone (`| head -0`, `| grep -q`), ends without a
//! panic and with the status it has when its output is read. `add` and `rm` print what
//! they changed before they reload the manager: the files are changed and the reload (and
//! `--now`'s start) still happen. The user manager is played by
//! tests/closed_pipe_support/fake_user_manager.py on a private `dbus-daemon`, which logs
//! every call. Also audit N20 (`list` escapes names) and `regenerate` printing warnings.

use std::fs;
use std::io::{BufRead, BufReader};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

const ROOTLET: &str = env!("CARGO_BIN_EXE_rootlet");
const GENERATOR: &str = env!("CARGO_BIN_EXE_rootlet-user-generator");
const WAIT: &str = env!("CARGO_BIN_EXE_rootlet-wait-online");
/// Debian's Python, where python3-dbus and python3-gi install (not a pyenv one on PATH).
const PYTHON: &str = "/usr/bin/python3";

const WEB: &str = "[Container]\nImage=docker.io/library/busybox\nExec=sleep 1000\n";

/// Kills what it holds when dropped (only processes this test started).
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A private session bus with the fake user manager on it.
struct Manager {
    address: String,
    log: PathBuf,
    _fake: Proc,
    _daemon: Proc,
}

impl Manager {
    /// `None` (said loudly) where dbus-daemon or the fake's Python bindings are missing.
    fn start(dir: &Path) -> Option<Manager> {
        let daemon = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--nopidfile", "--print-address"])
            .arg(format!("--address=unix:path={}", dir.join("bus").display()))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn();
        let Ok(mut daemon) = daemon else {
            crate::util::skip("the manager's side needs dbus-daemon");
            return None;
        };
        let mut address = String::new();
        BufReader::new(daemon.stdout.take()?)
            .read_line(&mut address)
            .ok()?;
        let daemon = Proc(daemon);
        let log = dir.join("calls");
        let script = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/closed_pipe_support/fake_user_manager.py");
        let mut fake = Command::new(PYTHON)
            .arg(script)
            .arg(address.trim())
            .arg(&log)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let mut ready = String::new();
        BufReader::new(fake.stdout.take()?)
            .read_line(&mut ready)
            .ok()?;
        if ready.trim() != "READY" {
            crate::util::skip("the manager's side needs python3-dbus and python3-gi");
            return None;
        }
        Some(Manager {
            address: address.trim().to_owned(),
            log,
            _fake: Proc(fake),
            _daemon: daemon,
        })
    }

    /// The calls logged since the last `take_calls`.
    fn take_calls(&self) -> String {
        let calls = fs::read_to_string(&self.log).unwrap_or_default();
        let _ = fs::remove_file(&self.log);
        calls
    }
}

/// A user's world: sources on the search path, files to add, a broken source, a fake
/// /proc + /sys with a default route for rootlet-wait-online.
struct World {
    tmp: tempfile::TempDir,
}

impl World {
    fn new() -> World {
        let w = World {
            tmp: tempfile::tempdir().unwrap(),
        };
        for n in ["web", "db", "a", "b"] {
            w.write(
                &format!("home/.config/containers/systemd/{n}.container"),
                WEB,
            );
        }
        w.write("in/new.container", WEB);
        w.write("bad/bad.container", "[Container]\nImage=x\nBad=1\n");
        w.write("run/.keep", "");
        let route =
            "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
                     veth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n";
        w.write("wait/proc/net/route", route);
        w.write("wait/proc/net/ipv6_route", "");
        w.write("wait/sys/class/net/veth0/flags", "0x1003\n");
        w
    }
    fn path(&self, rel: &str) -> PathBuf {
        self.tmp.path().join(rel)
    }
    fn write(&self, rel: &str, text: &str) {
        let p = self.path(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    }
    fn source(&self, name: &str) -> PathBuf {
        self.path("home/.config/containers/systemd").join(name)
    }
    /// `bin ARGS` as the user runs it; `{T}` in an argument is this world's directory.
    fn cmd(&self, bin: &str, args: &[&str], bus: Option<&Manager>) -> Command {
        let t = self.tmp.path().display().to_string();
        let mut c = Command::new(bin);
        c.args(args.iter().map(|a| a.replace("{T}", &t)))
            .current_dir(self.tmp.path())
            .env("HOME", self.path("home"))
            .env("XDG_RUNTIME_DIR", self.path("run"))
            .env("ROOTLET_WAIT_ROOT", self.path("wait"))
            .env(
                "DBUS_SYSTEM_BUS_ADDRESS",
                "unix:path=/nonexistent-rootlet-bus",
            )
            .env(
                "DBUS_SESSION_BUS_ADDRESS",
                bus.map_or("unix:path=/nonexistent-rootlet-bus", |b| &b.address),
            )
            .env("NO_COLOR", "1");
        for v in [
            "XDG_CONFIG_HOME",
            "XDG_DATA_HOME",
            "ROOTLET_UNIT_DIRS",
            "QUADLET_UNIT_DIRS",
            "PODMAN",
            "JOURNAL_STREAM",
            "NOTIFY_SOCKET",
        ] {
            c.env_remove(v);
        }
        c
    }
}

/// Which of the command's outputs go to a reader that is gone.
#[derive(Debug, Clone, Copy)]
enum Closed {
    Stdout,
    Stderr,
    Both,
}

/// A write end whose reader is already closed: every write is `EPIPE`, at once and
/// always (a socket pair with one end dropped; the same errno as a pipe, without the race
/// of dropping a pipe's reader after the child started).
fn gone() -> Stdio {
    let (w, r) = UnixStream::pair().unwrap();
    drop(r);
    Stdio::from(OwnedFd::from(w))
}

/// Run `c` with `closed` outputs gone; the other one is captured.
fn run_closed(mut c: Command, closed: Closed) -> Output {
    let (out, err) = match closed {
        Closed::Stdout => (gone(), Stdio::piped()),
        Closed::Stderr => (Stdio::piped(), gone()),
        Closed::Both => (gone(), gone()),
    };
    c.stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .output()
        .unwrap()
}

/// No panic: not killed by a signal (an abort), not Rust's panic status 101, and no
/// panic message where stderr could be read.
fn assert_no_panic(o: &Output, what: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        o.status.code().is_some() && !matches!(o.status.code(), Some(101 | 134)),
        "{what}: {:?}\n{err}",
        o.status
    );
    assert!(!err.contains("panicked"), "{what}:\n{err}");
}

/// Every subcommand of every binary (and help, version, bad usage).
fn commands() -> Vec<(&'static str, Vec<&'static str>)> {
    let r = |a: &[&'static str]| (ROOTLET, a.to_vec());
    vec![
        r(&["--help"]),
        r(&["--version"]),
        r(&["no-such-command"]),
        r(&["generate", "--dry-run", "{T}/in", "{T}/bad"]),
        r(&["generate", "-o", "{T}/out", "{T}/in"]),
        r(&["check"]),
        r(&["check", "{T}/in/new.container", "{T}/bad"]),
        r(&["doctor"]),
        r(&["doctor", "--json"]),
        r(&["install", "--user", "--no-systemctl"]),
        r(&["regenerate", "--no-systemctl"]),
        r(&["uninstall", "--user", "--no-systemctl"]),
        r(&["docker", "status"]),
        r(&["docker", "enable", "--no-reload"]),
        r(&["docker", "disable", "--no-reload"]),
        r(&["print", "web"]),
        r(&["print", "--unit", "web"]),
        r(&["cat", "no-such-name"]),
        r(&["list"]),
        r(&["list", "--format", "json"]),
        r(&["add", "{T}/in/new.container"]),
        r(&["add", "--now", "{T}/in/new.container"]),
        r(&["add", "{T}/bad/bad.container"]),
        r(&["rm", "web"]),
        r(&["rm", "--force", "a", "b"]),
        r(&["rm", "--all"]),
        (GENERATOR, vec!["{T}/normal"]),
        (GENERATOR, vec!["--help"]),
        (GENERATOR, vec!["--version"]),
        (GENERATOR, vec!["relative"]),
        (WAIT, vec!["--help"]),
        (WAIT, vec!["--version"]),
        (WAIT, vec!["--no-such-flag"]),
        (WAIT, vec!["--timeout=20s"]),
        // The daemon exec'd in place: its own output is its own business.
        (WAIT, vec!["--timeout=20s", "--", "/bin/sh", "-c", "exit 3"]),
    ]
}

#[test]
fn every_command_with_its_output_gone_ends_as_usual_without_a_panic() {
    let scratch = tempfile::tempdir().unwrap();
    let bus = Manager::start(scratch.path());
    for (bin, args) in commands() {
        let name = Path::new(bin).file_name().unwrap().to_string_lossy();
        // The status when the output is read, in a world of its own.
        let usual = World::new().cmd(bin, &args, bus.as_ref()).output().unwrap();
        assert_no_panic(&usual, &format!("{name} {args:?}"));
        for closed in [Closed::Stdout, Closed::Stderr, Closed::Both] {
            let what = format!("{name} {args:?}, {closed:?} gone");
            let w = World::new();
            if let Some(b) = &bus {
                b.take_calls();
            }
            let o = run_closed(w.cmd(bin, &args, bus.as_ref()), closed);
            assert_no_panic(&o, &what);
            assert_eq!(
                o.status.code(),
                usual.status.code(),
                "{what}: not the usual status\n{}",
                String::from_utf8_lossy(&o.stderr)
            );
            // The work after the output is done: files changed, manager reloaded.
            let calls = bus.as_ref().map(Manager::take_calls);
            let calls = calls.as_deref();
            match args.as_slice() {
                ["add", "--now", _] => {
                    assert!(w.source("new.container").is_file(), "{what}");
                    if let Some(calls) = calls {
                        assert_eq!(calls, "Reload\nStartUnit new.service\n", "{what}");
                    }
                }
                ["add", p] if p.contains("new") => {
                    assert!(w.source("new.container").is_file(), "{what}");
                    if let Some(calls) = calls {
                        assert_eq!(calls, "Reload\n", "{what}");
                    }
                }
                ["rm", rest @ ..] => {
                    let gone: &[&str] = match rest {
                        ["web"] => &["web"],
                        ["--force", ..] => &["a", "b"],
                        _ => &["web", "db", "a", "b"],
                    };
                    for n in gone {
                        assert!(!w.source(&format!("{n}.container")).exists(), "{what}");
                    }
                    if let Some(calls) = calls {
                        assert!(calls.ends_with("Reload\n"), "{what}: {calls}");
                    }
                }
                _ => {}
            }
        }
    }
}

/// Exit status of the first command of a shell pipeline (`${PIPESTATUS[0]}`), its stderr.
fn pipeline(w: &World, bus: Option<&Manager>, args: &str, reader: &str) -> (i32, String) {
    let script = format!("\"$0\" {args} | {reader}; exit ${{PIPESTATUS[0]}}");
    let mut c = w.cmd("bash", &["-c", &script, ROOTLET], bus);
    let o = c.stdin(Stdio::null()).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(!err.contains("panicked"), "{args} | {reader}:\n{err}");
    (o.status.code().unwrap(), err)
}

/// The audit's own command lines, through real pipes and `head`.
#[test]
fn the_audits_pipelines_through_head() {
    let scratch = tempfile::tempdir().unwrap();
    let bus = Manager::start(scratch.path());
    let w = World::new();
    // Enough output that `head -1` is gone long before the end (a pipe holds 64 KiB).
    for i in 0..600 {
        w.write(
            &format!(
                "home/.config/containers/systemd/{i:04}-{}.container",
                "x".repeat(60)
            ),
            WEB,
        );
    }
    w.write(
        "home/.config/containers/systemd/big.container",
        &format!("{WEB}{}", "# a comment line of the big file\n".repeat(8000)),
    );
    let (rc, err) = pipeline(&w, None, "list", "head -1");
    assert_eq!(rc, 0, "{err}");
    let (rc, err) = pipeline(&w, None, "print big", "head -1");
    assert_eq!(rc, 0, "{err}");
    // Another write error (a full disk) is said, and the status says it too.
    let (rc, err) = pipeline(&w, None, "print web >/dev/full", "cat");
    assert_eq!(rc, 1, "{err}");
    assert!(
        err.contains("rootlet: writing to stdout: No space left on device"),
        "{err}"
    );
    let (rc, err) = pipeline(&w, None, "doctor", "head -1");
    assert!(rc == 0 || rc == 1, "{rc}: {err}");
    if let Some(b) = &bus {
        b.take_calls();
    }
    let (rc, err) = pipeline(&w, bus.as_ref(), "rm a b", "head -n0");
    assert!(!w.source("a.container").exists() && !w.source("b.container").exists());
    if let Some(b) = &bus {
        assert_eq!(rc, 0, "{err}");
        assert!(b.take_calls().ends_with("Reload\n"));
    }
}

/// Audit N20: `rootlet list` printed terminal escapes and newlines from file names raw;
/// `print` and the messages quoting a name escape them the same way.
#[test]
fn list_escapes_control_characters_in_names() {
    let w = World::new();
    let name = "w\x1b]0;pwned\x07\x1b[2J\x1b[31mx\ny.container";
    w.write(&format!("home/.config/containers/systemd/{name}"), WEB);
    let o = w.cmd(ROOTLET, &["list"], None).output().unwrap();
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(o.status.success(), "{out}");
    assert!(!out.contains('\x1b') && !out.contains('\x07'), "{out:?}");
    let escaped = "w\\u{1b}]0;pwned\\u{7}\\u{1b}[2J\\u{1b}[31mx\\ny";
    let row = out
        .lines()
        .find(|l| l.starts_with(escaped))
        .unwrap_or_else(|| panic!("no row for the name: {out:?}"));
    // One line: the unit and the path are escaped the same way.
    assert!(row.contains(&format!("{escaped}.service")), "{row}");
    assert!(row.ends_with(&format!("{escaped}.container")), "{row}");
    // The head, web, db, a, b and this one (its name is no valid unit name: the line under
    // it says why it has no unit, escaped the same way).
    let rows = out.lines().filter(|l| !l.starts_with("  └ ")).count();
    assert_eq!(rows, 6, "{out:?}");
    // `print`'s header names the file the same way; a message quoting a name is one line.
    let o = w.cmd(ROOTLET, &["print", name], None).output().unwrap();
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(
        out.starts_with(&format!(
            "# {}\n",
            w.source(&format!("{escaped}.container")).display()
        )),
        "{out:?}"
    );
    let o = w
        .cmd(ROOTLET, &["rm", "x\x1b[2J\ny.container"], None)
        .output()
        .unwrap();
    let err = String::from_utf8(o.stderr).unwrap();
    assert_eq!(
        err,
        "rootlet: x\\u{1b}[2J\\ny.container: no such source on the search path\n"
    );
}

/// `rootlet regenerate` printed errors only, and dropped warnings and notes: it prints
/// what `rootlet check` and the generator print, in the same words.
#[test]
fn regenerate_prints_warnings_and_notes_as_check_does() {
    let w = World::new();
    // A warning (the unit is still made) and a note (a file not translated).
    w.write(
        "home/.config/containers/systemd/warn.container",
        "[Container]\nImage=busybox\n",
    );
    use std::os::unix::ffi::OsStrExt;
    let odd = std::ffi::OsStr::from_bytes(b"n\xff.container");
    fs::write(w.source("").join(odd), WEB).unwrap();
    let check = w.cmd(ROOTLET, &["check"], None).output().unwrap();
    let check_err = String::from_utf8_lossy(&check.stderr).into_owned();
    let lines = |s: &str, what: &str| -> Vec<String> {
        s.lines()
            .filter(|l| l.starts_with(what))
            .map(str::to_owned)
            .collect()
    };
    let warnings = lines(&check_err, "rootlet: warning: ");
    assert!(!warnings.is_empty(), "no warning to compare: {check_err}");
    assert!(
        !lines(&check_err, "rootlet: note: ").is_empty(),
        "{check_err}"
    );
    let regen = w
        .cmd(ROOTLET, &["regenerate", "--no-systemctl"], None)
        .output()
        .unwrap();
    let regen_err = String::from_utf8_lossy(&regen.stderr).into_owned();
    assert_eq!(
        lines(&regen_err, "rootlet: warning: "),
        warnings,
        "{regen_err}"
    );
    assert_eq!(
        lines(&regen_err, "rootlet: note: "),
        lines(&check_err, "rootlet: note: "),
        "{regen_err}"
    );
}
