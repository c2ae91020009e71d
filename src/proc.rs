//! Every program rootlet runs (podman, pasta, systemctl, journalctl, curl) runs here, under
//! one rule: it ends within its deadline, whatever the program or its children do.
//!
//! - The program gets a process group of its own; at the deadline the whole group is
//!   killed, not only the program (a wrapper script's `sleep` dies with it).
//! - Its stdout and stderr are read as they come (a full pipe never stalls it), on the
//!   calling thread with `poll`, each kept up to its cap; the rest is read and dropped.
//! - Once the program has exited, a child it left behind that still holds one of the pipes
//!   (`( sleep 100 ) &` in a wrapper, a daemon started without closing its stdout) is given
//!   a short grace and then its group is killed: what was written is kept, the wait ends.
//!   A child that let go of the pipes is left alone (a service podman starts is not ours).
//! - stdin is `/dev/null`: nothing here is interactive.
//!
//! `std::process::Command::{output,status}` and `Child::wait` are used nowhere else
//! (`exec` of the wait-online wrapper replaces the process and is not a wait).

// The one home of subprocesses: clippy.toml forbids `Command::{status,output,spawn}` and
// `Child::wait` everywhere else.
#![allow(clippy::disallowed_methods)]

use rustix::event::{PollFd, PollFlags};
use rustix::fs::OFlags;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How long the pipes are read after the program exited, for a child that still holds
/// them (its output is normally all there within a millisecond).
const GRACE: Duration = Duration::from_millis(500);

/// What a run may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// From the start to the end of everything, the grace included.
    pub deadline: Duration,
    /// Most bytes of stdout kept (0: stdout is `/dev/null`).
    pub max_out: usize,
    /// Most bytes of stderr kept (0: stderr is `/dev/null`).
    pub max_err: usize,
}

impl Limits {
    /// `deadline`, 64 KiB of stdout, 4 KiB of stderr (a version line, an error message).
    pub const fn new(deadline: Duration) -> Limits {
        Limits {
            deadline,
            max_out: 64 * 1024,
            max_err: 4 * 1024,
        }
    }
}

/// A program that ended within its deadline.
#[derive(Debug)]
pub struct Output {
    pub status: ExitStatus,
    /// At most [`Limits::max_out`] bytes.
    pub stdout: Vec<u8>,
    /// At most [`Limits::max_err`] bytes.
    pub stderr: Vec<u8>,
    /// More was written to stdout than kept.
    pub truncated: bool,
}

impl Output {
    /// stderr as text, trimmed: for messages.
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).trim().to_owned()
    }
}

/// Why a program gave no [`Output`].
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot run {prog}: {source}")]
    Spawn {
        prog: String,
        #[source]
        source: io::Error,
    },
    #[error("no answer from {prog} within {} s", .limit.as_secs())]
    Timeout { prog: String, limit: Duration },
    #[error("{prog}: {source}")]
    Io {
        prog: String,
        #[source]
        source: io::Error,
    },
}

/// Kill the process group led by `pid` (the program ran with `process_group(0)`).
fn kill_group(pid: u32) {
    if let Some(pid) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    {
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    }
}

/// One pipe being read: its end, what is kept of it, its cap.
struct Pipe {
    fd: Option<OwnedFd>,
    kept: Vec<u8>,
    max: usize,
    dropped: bool,
}

impl Pipe {
    fn new(fd: Option<OwnedFd>, max: usize) -> io::Result<Pipe> {
        if let Some(fd) = &fd {
            rustix::fs::fcntl_setfl(fd, OFlags::NONBLOCK)?;
        }
        Ok(Pipe {
            fd,
            kept: Vec::new(),
            max,
            dropped: false,
        })
    }

    /// Read what is there; close the pipe at its end or on an error.
    fn drain(&mut self) {
        let Some(fd) = &self.fd else { return };
        let mut chunk = [0u8; 16384];
        loop {
            match rustix::io::read(fd, &mut chunk[..]) {
                Ok(0) => break self.fd = None,
                Ok(n) => {
                    let room = self.max.saturating_sub(self.kept.len());
                    self.kept.extend_from_slice(&chunk[..n.min(room)]);
                    self.dropped |= n > room;
                }
                Err(rustix::io::Errno::INTR) => continue,
                Err(rustix::io::Errno::AGAIN) => return,
                Err(_) => break self.fd = None,
            }
        }
    }
}

/// Run `cmd` under `limits`. Its exit status is not judged here: a program that failed is
/// an `Ok` with that status (callers say what failing means for them).
pub fn run(cmd: &mut Command, limits: &Limits) -> Result<Output, Error> {
    let prog = cmd.get_program().to_string_lossy().into_owned();
    let io_err = |source| Error::Io {
        prog: prog.clone(),
        source,
    };
    let t0 = Instant::now();
    let mut child = spawn(cmd, limits).map_err(|source| Error::Spawn {
        prog: prog.clone(),
        source,
    })?;
    let pid = child.id();
    let pipes = (|| {
        Ok::<_, io::Error>([
            Pipe::new(child.stdout.take().map(OwnedFd::from), limits.max_out)?,
            Pipe::new(child.stderr.take().map(OwnedFd::from), limits.max_err)?,
        ])
    })();
    let mut pipes = match pipes {
        Ok(p) => p,
        Err(e) => {
            give_up(&mut child);
            return Err(io_err(e));
        }
    };
    let mut status: Option<(ExitStatus, Instant)> = None;
    // The exit is polled: short steps first (a version query takes milliseconds), then
    // up to 20 ms; data on the pipes wakes the loop at once.
    let mut step = Duration::from_millis(1);
    loop {
        if status.is_none() {
            match child.try_wait() {
                Ok(Some(s)) => status = Some((s, Instant::now())),
                Ok(None) => {}
                Err(e) => {
                    give_up(&mut child);
                    return Err(io_err(e));
                }
            }
        }
        let open = pipes.iter().any(|p| p.fd.is_some());
        if let Some((s, at)) = status {
            if !open {
                return Ok(finish(s, pipes));
            }
            if at.elapsed() >= GRACE || t0.elapsed() >= limits.deadline {
                // Something the program left behind holds a pipe: it goes with the group.
                kill_group(pid);
                return Ok(finish(s, pipes));
            }
        } else if t0.elapsed() >= limits.deadline {
            give_up(&mut child);
            return Err(Error::Timeout {
                prog,
                limit: limits.deadline,
            });
        }
        let left = limits.deadline.saturating_sub(t0.elapsed());
        let wait = step.min(left).max(Duration::from_millis(1));
        step = (step * 2).min(Duration::from_millis(20));
        if let Err(e) = read_pipes(&mut pipes, wait) {
            give_up(&mut child);
            return Err(io_err(e));
        }
    }
}

/// Start `cmd` in its own process group, stdin `/dev/null`, each output piped when its
/// limit lets anything through (`/dev/null` otherwise).
fn spawn(cmd: &mut Command, limits: &Limits) -> io::Result<std::process::Child> {
    let piped = |max: usize| {
        if max > 0 {
            Stdio::piped()
        } else {
            Stdio::null()
        }
    };
    cmd.stdin(Stdio::null())
        .stdout(piped(limits.max_out))
        .stderr(piped(limits.max_err))
        .process_group(0)
        .spawn()
}

/// Kill the program's group and the program itself, and reap it.
fn give_up(child: &mut std::process::Child) {
    kill_group(child.id());
    let _ = child.kill();
    // Reaped if it dies at once (it does, unless stuck in the kernel: then it stays a
    // zombie until rootlet exits, rather than holding the caller).
    for _ in 0..50 {
        if !matches!(child.try_wait(), Ok(None)) {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Wait up to `wait` for data on the open pipes (or just sleep when none is open), then
/// read what is there.
fn read_pipes(pipes: &mut [Pipe; 2], wait: Duration) -> io::Result<()> {
    let mut fds: Vec<PollFd<'_>> = pipes
        .iter()
        .filter_map(|p| p.fd.as_ref())
        .map(|fd| PollFd::new(fd, PollFlags::IN))
        .collect();
    if fds.is_empty() {
        std::thread::sleep(wait);
        return Ok(());
    }
    let ts = rustix::event::Timespec::try_from(wait).unwrap_or(rustix::event::Timespec {
        tv_sec: 0,
        tv_nsec: 20_000_000,
    });
    match rustix::event::poll(&mut fds, Some(&ts)) {
        Ok(_) | Err(rustix::io::Errno::INTR) => {}
        Err(e) => return Err(e.into()),
    }
    drop(fds);
    for p in pipes.iter_mut() {
        p.drain();
    }
    Ok(())
}

fn finish(status: ExitStatus, [mut out, mut err]: [Pipe; 2]) -> Output {
    // The last bytes, when the pipes were let go of after the grace.
    out.drain();
    err.drain();
    Output {
        status,
        truncated: out.dropped,
        stdout: out.kept,
        stderr: err.kept,
    }
}

/// For tests: write the program `path` with `text`, executable, the way a test may run it
/// at once. It is written by a child process (`sh`), so that no file descriptor of the
/// test process ever has it open for writing: written here, a `fork` by another test's
/// thread in that moment would hold such a descriptor until its child's `exec`, and
/// running the program meanwhile fails with "Text file busy" (ETXTBSY), now and then, on
/// a loaded machine. (`tests/it/util.rs` has the same for the integration tests.)
#[cfg(test)]
pub(crate) fn write_test_program(path: &std::path::Path, text: &str) {
    use std::io::Write;
    let mut child = Command::new("sh")
        .args(["-c", "cat > \"$1\" && chmod 755 \"$1\"", "sh"])
        .arg(path)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Command {
        let mut c = Command::new("/bin/sh");
        c.args(["-c", script]);
        c
    }

    /// Kill the group a test's shell led (its pid is the first line it printed).
    fn reap(out: &[u8]) {
        let text = String::from_utf8_lossy(out);
        if let Some(pgid) = text.lines().next().and_then(|l| l.trim().parse().ok()) {
            kill_group(pgid);
        }
    }

    #[test]
    fn output_status_and_caps() {
        let o = run(
            &mut sh("echo out; echo err >&2; exit 3"),
            &Limits::new(Duration::from_secs(30)),
        )
        .unwrap();
        assert_eq!(o.stdout, b"out\n");
        assert_eq!(o.stderr_text(), "err");
        assert_eq!(o.status.code(), Some(3));
        let limits = Limits {
            deadline: Duration::from_secs(30),
            max_out: 10,
            max_err: 0,
        };
        // Far more than a pipe holds: read and dropped, the program not stalled.
        let o = run(&mut sh("head -c 1000000 /dev/zero; echo e >&2"), &limits).unwrap();
        assert_eq!(o.stdout.len(), 10);
        assert!(o.truncated && o.stderr.is_empty() && o.status.success());
        assert!(matches!(
            run(&mut Command::new("/nonexistent/x"), &limits),
            Err(Error::Spawn { .. })
        ));
    }

    /// Audit H3/N7: at the deadline the whole group is killed, and the wait ends.
    #[test]
    fn the_deadline_holds_and_kills_the_group() {
        let t0 = Instant::now();
        let r = run(
            &mut sh("( exec sleep 120 ) & exec sleep 120"),
            &Limits::new(Duration::from_secs(1)),
        );
        assert!(matches!(r, Err(Error::Timeout { .. })), "{r:?}");
        assert!(r.unwrap_err().to_string().contains("within 1 s"));
        assert!(t0.elapsed() < Duration::from_secs(30), "{:?}", t0.elapsed());
    }

    /// Audit N7: a child left behind holding stdout (and stderr) does not hold the caller
    /// past the grace; the output written is kept, and the child is killed.
    #[test]
    fn a_grandchild_holding_the_pipes_does_not_hold_the_caller() {
        let t0 = Instant::now();
        let o = run(
            &mut sh("echo $$; ( exec sleep 120 ) & echo done"),
            &Limits::new(Duration::from_secs(60)),
        )
        .unwrap();
        assert!(t0.elapsed() < Duration::from_secs(20), "{:?}", t0.elapsed());
        let text = String::from_utf8_lossy(&o.stdout).into_owned();
        assert!(text.ends_with("done\n"), "{text}");
        let pgid: i32 = text.lines().next().unwrap().parse().unwrap();
        // The group is gone (killed, then reaped by init).
        let gone = (0..500).any(|_| {
            std::thread::sleep(Duration::from_millis(10));
            rustix::process::test_kill_process_group(rustix::process::Pid::from_raw(pgid).unwrap())
                .is_err()
        });
        reap(&o.stdout);
        assert!(gone, "the group of {pgid} still lives");
    }

    /// Every site that runs a program, with a program that answers at once but leaves a
    /// sleeping child holding stdout and stderr (audit H3/N7: a `curl`, `journalctl` or
    /// `podman` wrapper), returns its answer within seconds; with one that hangs too, the
    /// sites whose deadline a test can shorten return at it.
    #[test]
    fn every_site_ends_despite_a_grandchild_holding_the_pipe() {
        let dir = std::env::temp_dir().join(format!("rootlet-proc-sites-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let script = |name: &str, body: &str| {
            let p = dir.join(name);
            crate::proc::write_test_program(
                &p,
                &format!("#!/bin/sh\n( exec sleep 100 ) &\n{body}\n"),
            );
            p.to_str().unwrap().to_owned()
        };
        let answers = script("answers", "echo 'podman version 4.3.1'");
        let hangs = script("hangs", "echo 'podman version 4.3.1'; exec sleep 100");
        let long = Duration::from_secs(60);
        let short = Duration::from_secs(1);
        type Site = Box<dyn Fn(&str, Duration) -> bool + Sync>;
        let sites: Vec<(&str, Site, bool)> = vec![
            (
                "podman --version",
                Box::new(|p, d| crate::podman::detect(p, d).is_some()),
                true,
            ),
            (
                "doctor's programs",
                Box::new(|p, d| {
                    crate::doctor::runtime::output(std::path::Path::new(p), &["--version"], d)
                        .is_ok()
                }),
                true,
            ),
            (
                "journalctl",
                Box::new(|p, d| crate::user_manager::journal_with(p, &["-u", "x"], d).is_some()),
                true,
            ),
            (
                "curl",
                Box::new(|p, _| crate::manage::fetch::curl(p, "https://h/x.container").is_ok()),
                false,
            ),
            (
                "systemctl",
                Box::new(|p, _| {
                    crate::user_manager::systemctl_with(p, &crate::user_manager::Op::reload())
                        .is_ok()
                }),
                false,
            ),
        ];
        std::thread::scope(|s| {
            for (what, site, shortened) in &sites {
                let (answers, hangs) = (&answers, &hangs);
                s.spawn(move || {
                    let t0 = Instant::now();
                    assert!(site(answers, long), "{what}: no answer");
                    assert!(
                        t0.elapsed() < Duration::from_secs(20),
                        "{what}: {:?}",
                        t0.elapsed()
                    );
                    if *shortened {
                        let t0 = Instant::now();
                        assert!(!site(hangs, short), "{what}: an answer from a hung program");
                        assert!(
                            t0.elapsed() < Duration::from_secs(20),
                            "{what}: {:?}",
                            t0.elapsed()
                        );
                    }
                });
            }
        });
        let _ = std::fs::remove_dir_all(&dir);
    }
}
