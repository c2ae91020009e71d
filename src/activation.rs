//! Socket activation across `execve`: the daemon started by `rootlet-wait-online -- CMD`
//! gets exactly the sockets systemd passed, and nothing else of ours.
//!
//! systemd passes sockets as fds 3..3+`LISTEN_FDS` with `LISTEN_PID` set to the pid it
//! started; the names are in `LISTEN_FDNAMES`. `execve` keeps the pid, so the variables stay
//! true for the new program as they are: they are left untouched (as is `NOTIFY_SOCKET`).
//! Unlike `listenfd` or `sd_notify::listen_fds()`, nothing is unset and no passed fd gets
//! `FD_CLOEXEC`; every other fd of ours (D-Bus, netlink, journal) does.

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::{BorrowedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// The first passed fd (`SD_LISTEN_FDS_START`).
pub const LISTEN_FDS_START: RawFd = 3;

/// How many fds systemd passed to *this* process (0 when `LISTEN_PID` is not our pid).
pub fn passed_fds() -> usize {
    let ours = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|p| p.parse::<u32>().ok())
        .is_some_and(|p| p == std::process::id());
    if !ours {
        return 0;
    }
    std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(0)
        .min(4096)
}

fn open_fds() -> Vec<RawFd> {
    match std::fs::read_dir("/proc/self/fd") {
        Ok(rd) => {
            let v: Vec<RawFd> = rd
                .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect();
            v
        }
        Err(_) => (0..1024).collect(),
    }
}

/// Make the passed fds survive `execve` and every other fd ≥ 3 close on it.
/// Returns how many fds are passed on.
pub fn prepare_exec() -> io::Result<usize> {
    let passed = passed_fds();
    let end = LISTEN_FDS_START + passed as RawFd;
    for fd in open_fds() {
        if fd < LISTEN_FDS_START {
            continue;
        }
        // SAFETY: the fd number comes from /proc/self/fd (or a probe that tolerates EBADF);
        // it is only borrowed for the fcntl calls, never closed here.
        let b = unsafe { BorrowedFd::borrow_raw(fd) };
        let Ok(mut flags) = rustix::io::fcntl_getfd(b) else {
            continue; // the read_dir fd itself, closed by now, or no fd at all
        };
        if fd < end {
            flags.remove(rustix::io::FdFlags::CLOEXEC);
        } else {
            flags.insert(rustix::io::FdFlags::CLOEXEC);
        }
        rustix::io::fcntl_setfd(b, flags)?;
    }
    Ok(passed)
}

/// Where `prog` runs from, checked now rather than after a wait of minutes: a name with a
/// `/` as it is, otherwise the first match in `$PATH` (an empty entry is the current
/// directory, no `$PATH` means `/usr/bin:/bin`, as for `execvp`). It must be a file that
/// this process may execute.
pub fn resolve(prog: &OsStr) -> io::Result<PathBuf> {
    fn usable(p: &Path) -> io::Result<()> {
        let m = std::fs::metadata(p)?;
        if m.is_dir() {
            return Err(io::Error::other("is a directory"));
        }
        rustix::fs::access(p, rustix::fs::Access::EXEC_OK)?;
        Ok(())
    }
    if prog.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            "empty command name",
        ));
    }
    if prog.as_bytes().contains(&b'/') {
        let p = PathBuf::from(prog);
        usable(&p)?;
        return Ok(p);
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into());
    let mut denied = None;
    for dir in path.as_bytes().split(|b| *b == b':') {
        let dir = if dir.is_empty() {
            Path::new(".")
        } else {
            Path::new(OsStr::from_bytes(dir))
        };
        let candidate = dir.join(prog);
        match usable(&candidate) {
            Ok(()) => return Ok(candidate),
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => denied = Some(e),
            Err(_) => {}
        }
    }
    Err(denied.unwrap_or_else(|| io::Error::new(io::ErrorKind::NotFound, "not found in PATH")))
}

/// Replace this process with `program` (as resolved by [`resolve`]) and `argv` (whose first
/// word is the command as given, the new program's `argv[0]`); same pid, same environment,
/// the sockets passed. Returns only on failure.
pub fn exec(program: &Path, argv: &[OsString]) -> io::Error {
    use std::os::unix::process::CommandExt;
    let Some((arg0, args)) = argv.split_first() else {
        return io::Error::new(io::ErrorKind::InvalidInput, "no command");
    };
    if let Err(e) = prepare_exec() {
        return e;
    }
    std::process::Command::new(program)
        .arg0(arg0)
        .args(args)
        .exec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_resolved_up_front() {
        assert!(resolve(OsStr::new("sh")).is_ok_and(|p| p.is_absolute() || p.starts_with(".")));
        assert!(resolve(OsStr::new("/bin/sh")).is_ok());
        let plain = std::env::temp_dir().join(format!("rootlet-plain-{}", std::process::id()));
        std::fs::write(&plain, "#!/bin/sh\n").unwrap();
        let plain_s = plain.to_str().unwrap();
        for bad in [
            "",
            "/nonexistent/cmd",
            "no-such-command-rootlet",
            plain_s,
            "/tmp",
        ] {
            assert!(resolve(OsStr::new(bad)).is_err(), "{bad}");
        }
        let _ = std::fs::remove_file(&plain);
    }
}
