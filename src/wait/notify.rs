//! `sd_notify(3)` that never blocks: one datagram to `$NOTIFY_SOCKET`, sent with
//! `MSG_DONTWAIT`. A manager that does not read its socket (a full queue) makes the message
//! get lost, not the wait hang past its deadline; `STATUS=` is refreshed anyway.

use std::io;
use std::os::unix::ffi::OsStrExt;

/// Send `text` (`KEY=VALUE` lines) to the service manager. `Ok(false)` when there is no
/// `$NOTIFY_SOCKET`.
pub fn notify(text: &str) -> io::Result<bool> {
    match std::env::var_os("NOTIFY_SOCKET") {
        Some(path) => notify_to(&path, text).map(|()| true),
        None => Ok(false),
    }
}

/// Send `text` to the socket `path` (`/path` or `@abstract`).
pub fn notify_to(path: &std::ffi::OsStr, text: &str) -> io::Result<()> {
    use rustix::net::{AddressFamily, SendFlags, SocketAddrUnix, SocketFlags, SocketType};
    let bytes = path.as_bytes();
    let addr = match bytes.first() {
        Some(b'@') => SocketAddrUnix::new_abstract_name(&bytes[1..])?,
        Some(b'/') => SocketAddrUnix::new(path)?,
        _ => return Err(io::Error::new(io::ErrorKind::InvalidInput, "NOTIFY_SOCKET")),
    };
    let fd = rustix::net::socket_with(
        AddressFamily::UNIX,
        SocketType::DGRAM,
        SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
        None,
    )?;
    rustix::net::sendto(
        &fd,
        text.as_bytes(),
        SendFlags::DONTWAIT | SendFlags::NOSIGNAL,
        &addr,
    )?;
    Ok(())
}

/// `STATUS=text`, the text on one line.
pub fn status(text: &str) {
    let _ = notify(&format!("STATUS={}", super::clip(text, 256)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manager_that_never_reads_does_not_block_us() {
        let dir = std::env::temp_dir().join(format!("rootlet-notify-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let sock = dir.join("notify");
        let rx = std::os::unix::net::UnixDatagram::bind(&sock).unwrap();
        let t = std::time::Instant::now();
        let mut errors = 0;
        for _ in 0..5000 {
            if notify_to(sock.as_os_str(), "STATUS=waiting").is_err() {
                errors += 1;
            }
        }
        assert!(errors > 0, "the queue filled up");
        assert!(t.elapsed() < std::time::Duration::from_secs(10));
        let mut buf = [0u8; 64];
        let n = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"STATUS=waiting");
        drop(rx);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
