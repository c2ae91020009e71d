//! What the integration tests share: scratch directories, the repository's paths, the
//! built binaries, readable diffs and [`skip`]. Each test module uses it with
//! `use crate::util;`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// Write the program `path` (parents made) with `text` and permissions `mode`, the way a
/// test may run it at once: written by a child process (`sh`), so that no file descriptor
/// of this test process ever has it open for writing. Written here, a `fork` by another
/// test's thread in that moment would hold such a descriptor until its child's `exec`, and
/// running the program meanwhile fails with "Text file busy" (ETXTBSY): a test that fails
/// now and then on a loaded machine.
pub fn write_program(path: &Path, text: &str, mode: u32) {
    use std::io::Write;
    use std::process::{Command, Stdio};
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("parent directories");
    }
    let mut child = Command::new("sh")
        .args(["-c", "cat > \"$1\" && chmod \"$2\" \"$1\"", "sh"])
        .arg(path)
        .arg(format!("{mode:o}"))
        .stdin(Stdio::piped())
        .spawn()
        .expect("sh writes a test program");
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(text.as_bytes())
            .expect("the test program's text");
    }
    assert!(child.wait().expect("sh").success(), "{}", path.display());
}

/// The repository's top directory.
pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `../shared/reference/DIR` beside the repository, when it is there: reference data
/// (podman's own quadlet cases, systemd vectors) read at test time, never copied in.
pub fn shared_reference(dir: &str) -> Option<PathBuf> {
    let p = repo().join("../shared/reference").join(dir);
    p.exists().then_some(p)
}

/// A test that cannot run here (`why`: what is missing, and what installs it) says so past
/// libtest's capture and the caller returns: the test passes. Under
/// `ROOTLET_REQUIRE_ALL=1` (scripts/test.sh sets it as root, where it installed every
/// prerequisite) it fails instead, as `E2E_REQUIRE=1` does for the end-to-end suites: the
/// full run can never pass with a test skipped.
pub fn skip(why: &str) {
    use std::io::Write;
    if std::env::var_os("ROOTLET_REQUIRE_ALL").is_some_and(|v| v == "1") {
        panic!("cannot run here, and ROOTLET_REQUIRE_ALL=1 forbids a skip: {why}");
    }
    // eprintln! would be captured (and never shown) for a test that passes.
    let _ = writeln!(std::io::stderr(), "!! SKIPPED LOUDLY: {why}");
}

/// [`skip`] for a test whose reference data is missing (`why`), except that it passes
/// under `ROOTLET_REQUIRE_ALL=1` too when `absent` is `1`: `scripts/test.sh` sets it when the
/// data is neither in `../shared` nor could be fetched (a bare clone with no network), and
/// never when `../shared` has it, so a full run with the data can never skip. Said loudly,
/// as `NOT RUN`.
pub fn skip_absent(absent: &str, why: &str) {
    use std::io::Write;
    if std::env::var_os(absent).is_some_and(|v| v == "1") {
        let _ = writeln!(
            std::io::stderr(),
            "!! NOT RUN ({absent}=1: scripts/test.sh found no copy and could not fetch one): {why}"
        );
        return;
    }
    skip(why)
}

/// A path of one of the crate's binaries, built by cargo for integration tests.
pub fn bin(name: &str) -> PathBuf {
    match name {
        "rootlet" => PathBuf::from(env!("CARGO_BIN_EXE_rootlet")),
        "rootlet-user-generator" => PathBuf::from(env!("CARGO_BIN_EXE_rootlet-user-generator")),
        "rootlet-wait-online" => PathBuf::from(env!("CARGO_BIN_EXE_rootlet-wait-online")),
        other => panic!("no binary {other}"),
    }
}

/// A scratch directory, removed when dropped (kept with `ROOTLET_KEEP_TMP=1`, to look at
/// after a failure).
pub struct Tmp(Option<tempfile::TempDir>);

impl Tmp {
    pub fn new(tag: &str) -> Tmp {
        let d = tempfile::Builder::new()
            .prefix(&format!("rootlet-{tag}-"))
            .tempdir()
            .expect("a scratch directory");
        Tmp(Some(d))
    }

    /// [`Tmp::new`] on tmpfs (`/dev/shm`) when there is one: for a test about the code,
    /// not the disk.
    pub fn on_tmpfs(tag: &str) -> Tmp {
        let shm = Path::new("/dev/shm");
        if !shm.is_dir() {
            return Tmp::new(tag);
        }
        let d = tempfile::Builder::new()
            .prefix(&format!("rootlet-{tag}-"))
            .tempdir_in(shm)
            .expect("a scratch directory");
        Tmp(Some(d))
    }

    pub fn path(&self) -> &Path {
        self.0.as_ref().expect("live").path()
    }

    /// `path/rel`, its parent directories created.
    pub fn join(&self, rel: &str) -> PathBuf {
        let p = self.path().join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("parent directories");
        }
        p
    }

    /// Write `rel` (parents created) and return its path.
    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.join(rel);
        std::fs::write(&p, text).expect("write a test file");
        p
    }
}

impl Drop for Tmp {
    fn drop(&mut self) {
        if std::env::var_os("ROOTLET_KEEP_TMP").is_some() {
            if let Some(d) = self.0.take() {
                eprintln!("kept {}", d.keep().display());
            }
        }
    }
}

/// A unified line diff of two texts (`diff -u` style), for failure messages.
pub fn diff(name: &str, expected: &str, actual: &str) -> String {
    similar::TextDiff::from_lines(expected, actual)
        .unified_diff()
        .context_radius(3)
        .header(&format!("{name} (expected)"), &format!("{name} (actual)"))
        .to_string()
}

/// A listening socket at `path` that takes no connection: backlog 0, filled (a hung
/// `dbus-daemon` or user manager). The sockets are returned to be kept open.
pub fn full_unix_socket(path: &std::path::Path) -> Vec<std::os::fd::OwnedFd> {
    use rustix::net::{AddressFamily, SocketAddrUnix, SocketFlags, SocketType};
    let _ = std::fs::remove_file(path);
    let addr = SocketAddrUnix::new(path).unwrap();
    let sock = || {
        rustix::net::socket_with(
            AddressFamily::UNIX,
            SocketType::STREAM,
            SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
            None,
        )
        .unwrap()
    };
    let l = sock();
    rustix::net::bind(&l, &addr).unwrap();
    rustix::net::listen(&l, 0).unwrap();
    let mut keep = vec![l];
    for _ in 0..16 {
        let c = sock();
        let full = rustix::net::connect(&c, &addr).is_err();
        keep.push(c);
        if full {
            break;
        }
    }
    keep
}

/// A user's world in a scratch directory, the one fixture for running a binary as a user
/// runs it: nothing of the caller's environment but `PATH` (after `fakebin/`, where
/// [`UserEnv::fake_program`] puts programs in place of real ones); `HOME` is `home/`,
/// `XDG_RUNTIME_DIR` is `run/` (both made); no bus (both bus addresses name a socket that
/// does not exist, so nothing reaches the caller's session or system); `NO_COLOR=1`. The
/// working directory is the scratch directory.
pub struct UserEnv {
    tmp: Tmp,
}

impl UserEnv {
    pub fn new(tag: &str) -> UserEnv {
        UserEnv::in_tmp(Tmp::new(tag))
    }

    /// [`UserEnv::new`] on tmpfs ([`Tmp::on_tmpfs`]).
    pub fn on_tmpfs(tag: &str) -> UserEnv {
        UserEnv::in_tmp(Tmp::on_tmpfs(tag))
    }

    fn in_tmp(tmp: Tmp) -> UserEnv {
        tmp.join("home/.keep");
        tmp.join("run/.keep");
        UserEnv { tmp }
    }

    /// The scratch directory (`home/` and `run/` are in it).
    pub fn path(&self) -> &Path {
        self.tmp.path()
    }

    /// `path/rel`, its parent directories created.
    pub fn join(&self, rel: &str) -> PathBuf {
        self.tmp.join(rel)
    }

    pub fn home(&self) -> PathBuf {
        self.path().join("home")
    }

    pub fn runtime_dir(&self) -> PathBuf {
        self.path().join("run")
    }

    /// Write `rel` of the scratch directory (parents created) and return its path.
    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        self.tmp.write(rel, text)
    }

    /// The user's own source directory, `~/.config/containers/systemd` (made).
    pub fn sources(&self) -> PathBuf {
        let d = self.home().join(".config/containers/systemd");
        std::fs::create_dir_all(&d).expect("the source directory");
        d
    }

    /// Write `name` (any bytes; parents created) in [`UserEnv::sources`], return its path.
    pub fn write_source(&self, name: &str, data: impl AsRef<[u8]>) -> PathBuf {
        let p = self.sources().join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("parent directories");
        }
        std::fs::write(&p, data).expect("write a source");
        p
    }

    /// Write `rel` of the home directory (parents created) and return its path.
    pub fn write_home(&self, rel: &str, text: &str) -> PathBuf {
        self.tmp.write(&format!("home/{rel}"), text)
    }

    /// The directory of [`UserEnv::fake_program`]s, first in `PATH`.
    pub fn fake_bin(&self) -> PathBuf {
        self.path().join("fakebin")
    }

    /// An executable shell script `name` in [`UserEnv::fake_bin`] (`body` follows its
    /// `#!/bin/sh` line): found before the real program of that name.
    pub fn fake_program(&self, name: &str, body: &str) -> PathBuf {
        let p = self.path().join("fakebin").join(name);
        write_program(&p, &format!("#!/bin/sh\n{body}"), 0o755);
        p
    }

    /// A [`UserEnv::fake_program`] `name` that appends its arguments to `NAME.log` in the
    /// scratch directory, one call a line (`[arg] [arg] ... `), then runs `then` (shell).
    /// Returns the log's path.
    pub fn logging_program(&self, name: &str, then: &str) -> PathBuf {
        let log = self.path().join(format!("{name}.log"));
        self.fake_program(
            name,
            &format!(
                "for a in \"$@\"; do printf '[%s] ' \"$a\"; done >> '{log}'\necho >> '{log}'\n{then}",
                log = log.display()
            ),
        );
        log
    }

    /// `PATH` of this user: [`UserEnv::fake_bin`], then the caller's.
    pub fn path_var(&self) -> std::ffi::OsString {
        let mut v = self.fake_bin().into_os_string();
        v.push(":");
        v.push(std::env::var_os("PATH").unwrap_or_default());
        v
    }

    /// `program` (a path, or a name looked up in `PATH`) in this user's environment.
    pub fn cmd(&self, program: impl AsRef<std::ffi::OsStr>) -> std::process::Command {
        let mut c = std::process::Command::new(program);
        c.current_dir(self.path())
            .env_clear()
            .env("PATH", self.path_var())
            .env("HOME", self.home())
            .env("XDG_RUNTIME_DIR", self.runtime_dir())
            .env(
                "DBUS_SESSION_BUS_ADDRESS",
                "unix:path=/nonexistent-rootlet-bus",
            )
            .env(
                "DBUS_SYSTEM_BUS_ADDRESS",
                "unix:path=/nonexistent-rootlet-bus",
            )
            .env("NO_COLOR", "1");
        c
    }

    /// Run one of the crate's binaries ([`bin`]) with `args`, to the end.
    pub fn run<A: AsRef<std::ffi::OsStr>>(
        &self,
        bin_name: &str,
        args: &[A],
    ) -> std::process::Output {
        self.cmd(bin(bin_name))
            .args(args)
            .output()
            .expect("run the binary")
    }
}
