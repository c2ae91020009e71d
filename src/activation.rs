//! Socket activation across `execve`: the daemon started by `rootlet-wait-online -- CMD`
//! gets exactly the sockets systemd passed, and nothing else of ours.
//!
//! systemd passes sockets as fds 3..3+`LISTEN_FDS` with `LISTEN_PID` set to the pid it
//! started; the names are in `LISTEN_FDNAMES`. `execve` keeps the pid, so the variables stay
//! true for the new program as they are: they are left untouched (as is `NOTIFY_SOCKET`).
//! Unlike `listenfd` or `sd_notify::listen_fds()`, nothing is unset and no passed fd gets
//! `FD_CLOEXEC`; every other fd of ours (D-Bus, netlink, journal) does.

use std::io;
use std::os::fd::{BorrowedFd, RawFd};

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

/// Replace this process with `argv` (same pid, same environment), passing the sockets.
/// Returns only on failure.
pub fn exec(argv: &[std::ffi::OsString]) -> io::Error {
    use std::os::unix::process::CommandExt;
    let Some((prog, args)) = argv.split_first() else {
        return io::Error::new(io::ErrorKind::InvalidInput, "no command");
    };
    if let Err(e) = prepare_exec() {
        return e;
    }
    std::process::Command::new(prog).args(args).exec()
}
