//! The class test of the second audit's hangs and unbounded reads (N6, and H1 before it):
//! every command that reads the user's directories, with something that is not a regular
//! file planted at each path it reads. A FIFO (a read blocks until a writer comes), a
//! symlink to `/dev/zero` (a read never ends), a directory, and a file that cannot be read
//! (a symlink to `/proc/self/mem`, which even root cannot read at offset 0: `EIO`).
//!
//! Each command must end within its deadline, without a panic, and with bounded output;
//! what it says about the planted path is its own business (a note, a warning, an error).
//! A hang is what this test exists to catch: a command still running at the deadline is
//! killed, and the test fails naming the command and the path.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::util;

/// Long enough for a loaded 2-core machine; every command here takes well under a second
/// when nothing hangs.
const DEADLINE: Duration = Duration::from_secs(60);
/// Output beyond this means something read without bound.
const MAX_OUTPUT: usize = 4 << 20;

const WEB: &str = "[Container]\nImage=docker.io/library/busybox:latest\nExec=sleep 1000\n";

/// The paths in the user's home that some command reads and the user (or another
/// program) could have put something into.
const PATHS: &[&str] = &[
    // a source and a drop-in of a source
    ".config/containers/systemd/p.container",
    ".config/containers/systemd/p.socket",
    ".config/containers/systemd/web.container.d/p.conf",
    ".config/containers/systemd/container.d/p.conf",
    // rootlet's own defaults and records
    ".config/rootlet/defaults.conf",
    ".local/share/rootlet/apps",
    ".local/share/rootlet/installed.list",
    ".local/share/rootlet/generated.list",
    // the Docker daemon's drop-in and rootlet's copy of it
    ".config/systemd/user/docker.service.d/50-rootlet.conf",
    // a unit in the user's unit directory
    ".config/systemd/user/p.service",
];

#[derive(Clone, Copy, Debug)]
enum Plant {
    Fifo,
    DevZero,
    Directory,
    Unreadable,
}

const PLANTS: &[Plant] = &[
    Plant::Fifo,
    Plant::DevZero,
    Plant::Directory,
    Plant::Unreadable,
];

fn plant(p: &Path, what: Plant) {
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    match what {
        Plant::Fifo => {
            rustix::fs::mkfifoat(rustix::fs::CWD, p, rustix::fs::Mode::from_raw_mode(0o644))
                .unwrap()
        }
        Plant::DevZero => symlink("/dev/zero", p).unwrap(),
        Plant::Directory => fs::create_dir(p).unwrap(),
        Plant::Unreadable => symlink("/proc/self/mem", p).unwrap(),
    }
}

/// The commands that read the user's directories, as the user runs them (no bus, no
/// podman needed: a missing bus and podman are answered, not waited for).
fn commands() -> Vec<(&'static str, Vec<&'static str>)> {
    let r = "rootlet";
    vec![
        (r, vec!["check"]),
        (r, vec!["generate", "--dry-run"]),
        (r, vec!["list"]),
        (r, vec!["print", "web"]),
        (r, vec!["print", "--unit", "web"]),
        (r, vec!["add", "--no-reload", "{T}/in/new.container"]),
        (r, vec!["rm", "--no-reload", "web"]),
        (r, vec!["doctor"]),
        (r, vec!["docker", "status"]),
        (
            "rootlet-user-generator",
            vec!["{T}/gen/normal", "{T}/gen/early", "{T}/gen/late"],
        ),
    ]
}

struct Home {
    tmp: util::UserEnv,
}

impl Home {
    fn new() -> Home {
        let h = Home {
            tmp: util::UserEnv::new("planted"),
        };
        h.tmp
            .write("home/.config/containers/systemd/web.container", WEB);
        h.tmp.write("in/new.container", WEB);
        h.tmp.write("run/.keep", "");
        h.tmp.write("gen/.keep", "");
        h
    }

    fn run(&self, bin: &str, args: &[&str]) -> (Option<i32>, Duration, String, usize) {
        let t = self.tmp.path().display().to_string();
        let mut c = self.tmp.cmd(util::bin(bin));
        c.args(args.iter().map(|a| a.replace("{T}", &t)))
            // podman is not asked: the version is given (a planted path is what is tested)
            .env("ROOTLET_PODMAN_VERSION", "4.3.1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let start = Instant::now();
        let mut child = c.spawn().unwrap();
        // Read both pipes on threads, bounded: the test itself must not hang or fill memory.
        let read = |mut r: Box<dyn std::io::Read + Send>| {
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 64 * 1024];
                let (mut kept, mut total) = (Vec::new(), 0usize);
                while let Ok(n) = r.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    total += n;
                    if kept.len() < 64 * 1024 {
                        kept.extend_from_slice(&buf[..n.min(64 * 1024)]);
                    }
                }
                (kept, total)
            })
        };
        let out = read(Box::new(child.stdout.take().unwrap()));
        let err = read(Box::new(child.stderr.take().unwrap()));
        let code = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s.code();
            }
            if start.elapsed() > DEADLINE {
                // This test's own child, by its handle.
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let took = start.elapsed();
        let (_, out_len) = out.join().unwrap();
        let (err_text, err_len) = err.join().unwrap();
        (
            code,
            took,
            String::from_utf8_lossy(&err_text).into_owned(),
            out_len + err_len,
        )
    }
}

fn check(path: &str, what: Plant) -> Vec<String> {
    let mut failures = Vec::new();
    for (bin, args) in commands() {
        let h = Home::new();
        let p: PathBuf = h.tmp.path().join("home").join(path);
        plant(&p, what);
        let (code, took, err, len) = h.run(bin, &args);
        let what_ran = format!("{bin} {} with a {what:?} at ~/{path}", args.join(" "));
        match code {
            // Killed by this test at the deadline, or by a signal (the OOM killer, for a
            // command that read /dev/zero without bound).
            None => failures.push(format!(
                "{what_ran}: still running, or killed by a signal, after {took:?}"
            )),
            Some(101 | 134) => failures.push(format!("{what_ran}: exit {code:?}: {err}")),
            _ if err.contains("panicked") => failures.push(format!("{what_ran}: {err}")),
            _ if len > MAX_OUTPUT => failures.push(format!("{what_ran}: {len} bytes of output")),
            _ => {}
        }
    }
    failures
}

/// Every command × every path × every plant. The paths are split over four tests (one per
/// plant) so that the test harness runs them side by side.
fn all_paths(what: Plant) {
    if !Path::new("/dev/zero").exists() || !Path::new("/proc/self/mem").exists() {
        crate::util::skip("no /dev/zero or /proc/self/mem");
        return;
    }
    let mut failures = Vec::new();
    for path in PATHS {
        failures.extend(check(path, what));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_fifo_at_any_path_hangs_no_command() {
    all_paths(PLANTS[0]);
}

#[test]
fn dev_zero_at_any_path_is_read_by_no_command_without_bound() {
    all_paths(PLANTS[1]);
}

#[test]
fn a_directory_at_any_path_is_no_panic() {
    all_paths(PLANTS[2]);
}

#[test]
fn an_unreadable_file_at_any_path_is_no_panic() {
    all_paths(PLANTS[3]);
}
