//! File-system primitives every writer and reader of rootlet uses, so that the rules hold
//! everywhere: a write is atomic (a new temporary file in the same directory, renamed into
//! place) and never goes through a symlink; a read takes only a regular file, never blocks
//! on a FIFO or a device, and is bounded.

// The one home of file writes: clippy.toml forbids `std::fs::write`, `File::create` and
// `OpenOptions::open` everywhere else.
#![allow(clippy::disallowed_methods)]

use rustix::fs::{AtFlags, Mode, OFlags};
use rustix::io::Errno;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// Open a directory (following symlinks in the path: a user's home may be one).
pub fn open_dir(p: &Path) -> io::Result<OwnedFd> {
    Ok(rustix::fs::open(
        p,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

/// Open the directory `name` inside `dir`, refusing a symlink there (`O_NOFOLLOW`): a
/// planted `X.wants -> /elsewhere` must not let rootlet create links outside its tree.
pub fn open_subdir_nofollow(dir: BorrowedFd<'_>, name: &str) -> io::Result<OwnedFd> {
    Ok(rustix::fs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

/// This process's id, asked once (a generator writes a temporary file per unit; the
/// syscall each time was a measurable part of a run). A forked child that has not
/// exec'd keeps the parent's id here: its temporary names can then collide with the
/// parent's, which `O_EXCL` turns into an error, never into a shared file.
fn pid() -> i32 {
    static PID: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);
    match PID.load(Ordering::Relaxed) {
        0 => {
            let p = rustix::process::getpid().as_raw_nonzero().get();
            PID.store(p, Ordering::Relaxed);
            p
        }
        p => p,
    }
}

/// A name for a temporary file beside `name`, unique in this process and across
/// processes (pid), hidden, and ending in `.tmp` so that nothing reads it as a unit.
pub fn temp_name(name: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let pid = pid();
    let stem = String::from_utf8_lossy(temp_stem(name.as_bytes()));
    format!(".#{stem}.{pid}.{n}.tmp")
}

/// The part of `name` a temporary name keeps: at most 200 bytes, so that the temporary
/// stays within NAME_MAX even for a 255-byte `name` (cut at a character boundary).
pub fn temp_stem(name: &[u8]) -> &[u8] {
    let mut end = name.len().min(200);
    while end < name.len() && (name[end] & 0xc0) == 0x80 {
        end -= 1;
    }
    &name[..end]
}

/// When `file` is a temporary name of [`write_atomic_at`]'s (`.#STEM.PID.N.tmp`) whose
/// process is gone (killed between creating and renaming it): its stem. A process that may
/// still run (or an unknown one) keeps its temporaries.
pub fn stale_temp_stem(file: &[u8]) -> Option<&[u8]> {
    let inner = file.strip_prefix(b".#")?.strip_suffix(b".tmp")?;
    let mut parts = inner.rsplitn(3, |&b| b == b'.');
    let (n, pid, stem) = (parts.next()?, parts.next()?, parts.next()?);
    let digits = |x: &[u8]| !x.is_empty() && x.iter().all(u8::is_ascii_digit);
    if !digits(n) || !digits(pid) {
        return None;
    }
    let pid = std::str::from_utf8(pid)
        .ok()
        .and_then(|p| p.parse::<i32>().ok())
        .and_then(rustix::process::Pid::from_raw)?;
    let gone = matches!(rustix::process::test_kill_process(pid), Err(Errno::SRCH));
    gone.then_some(stem)
}

/// Remove the regular files in `dir` that are stale temporaries ([`stale_temp_stem`])
/// for which `ours(stem, content)` holds: the writer says what it could have left there.
/// Never follows a symlink; reads at most 1 MiB of each. Returns how many it removed.
pub fn sweep_stale_temporaries(dir: &Path, ours: impl Fn(&[u8], &[u8]) -> bool) -> usize {
    use std::os::unix::ffi::OsStrExt;
    let (Ok(fd), Ok(rd)) = (open_dir(dir), std::fs::read_dir(dir)) else {
        return 0;
    };
    let mut removed = 0;
    let mut buf = Vec::new();
    for e in rd.flatten() {
        let name = e.file_name();
        let Some(stem) = stale_temp_stem(name.as_bytes()) else {
            continue;
        };
        if read_regular_at(fd.as_fd(), &name, 1 << 20, &mut buf).is_ok()
            && ours(stem, &buf)
            && rustix::fs::unlinkat(&fd, name.as_os_str(), AtFlags::empty()).is_ok()
        {
            removed += 1;
        }
    }
    removed
}

/// Write `data` to `dir/name` atomically: to a new temporary file in `dir` (created with
/// `O_EXCL|O_NOFOLLOW`, so never through a link), optionally fsynced, then renamed over
/// `name`. Readers see the old file or the new one, never a truncated one; a full disk
/// leaves the old file as it was. A symlink at `name` is replaced, not written through:
/// callers that must keep foreign symlinks check for them first.
pub fn write_atomic_at(
    dir: BorrowedFd<'_>,
    name: &str,
    data: &[u8],
    mode: u32,
    sync: bool,
) -> io::Result<()> {
    let tmp = write_temp(dir, name, data, mode, sync)?;
    rustix::fs::renameat(dir, tmp.as_str(), dir, name).inspect_err(|_| {
        let _ = rustix::fs::unlinkat(dir, tmp.as_str(), AtFlags::empty());
    })?;
    Ok(())
}

/// A new temporary file beside `name` (`O_EXCL|O_NOFOLLOW`) holding `data`, optionally
/// fsynced; its name. On an error nothing of it stays.
fn write_temp(
    dir: BorrowedFd<'_>,
    name: &str,
    data: &[u8],
    mode: u32,
    sync: bool,
) -> io::Result<String> {
    let tmp = temp_name(name);
    let fd = rustix::fs::openat(
        dir,
        tmp.as_str(),
        OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(mode),
    )?;
    let mut f = std::fs::File::from(fd);
    if let Err(e) = f
        .write_all(data)
        .and_then(|()| if sync { f.sync_all() } else { Ok(()) })
    {
        drop(f);
        let _ = rustix::fs::unlinkat(dir, tmp.as_str(), AtFlags::empty());
        return Err(e);
    }
    Ok(tmp)
}

/// [`write_atomic_at`] that never replaces anything: the complete temporary file is
/// hard-linked to `name` (`linkat` fails with `EEXIST` when anything, a symlink too, is
/// there), then its temporary name removed. Readers never see a partial file, and a file
/// that appeared at `name` meanwhile is kept: `EEXIST`.
pub fn write_new_at(dir: BorrowedFd<'_>, name: &str, data: &[u8], mode: u32) -> io::Result<()> {
    let tmp = write_temp(dir, name, data, mode, true)?;
    let result = rustix::fs::linkat(dir, tmp.as_str(), dir, name, AtFlags::empty());
    let _ = rustix::fs::unlinkat(dir, tmp.as_str(), AtFlags::empty());
    Ok(result?)
}

/// Create `dir/name`, which must not exist yet (`O_CREAT|O_EXCL|O_NOFOLLOW`), with
/// `data`; on any error the file is removed again, so a full disk leaves no truncated or
/// empty file behind. For a directory nobody reads while it is written (a generator's
/// output: systemd empties it, runs the generators, and only then loads units), this is as
/// good as [`write_atomic_at`] at half the directory operations. `EEXIST` when the name is
/// taken: the caller then uses [`write_atomic_at`].
pub fn create_new_at(dir: BorrowedFd<'_>, name: &str, data: &[u8], mode: u32) -> io::Result<()> {
    let fd = rustix::fs::openat(
        dir,
        name,
        OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(mode),
    )?;
    let mut f = std::fs::File::from(fd);
    if let Err(e) = f.write_all(data) {
        drop(f);
        let _ = rustix::fs::unlinkat(dir, name, AtFlags::empty());
        return Err(e);
    }
    Ok(())
}

/// [`write_atomic_at`] by path: the parent directory is opened (symlinks in it followed),
/// the last component never.
pub fn write_atomic(path: &Path, data: &[u8], mode: u32, sync: bool) -> io::Result<()> {
    let (dir, name) = split(path)?;
    let dirfd = open_dir(dir)?;
    write_atomic_at(dirfd.as_fd(), name, data, mode, sync)
}

/// Create or replace the symlink `dir/name -> target` atomically (a temporary symlink
/// renamed over it): at no moment is the link missing, and a directory or file at `name`
/// is never followed.
pub fn symlink_atomic_at(dir: BorrowedFd<'_>, name: &str, target: &str) -> io::Result<()> {
    match rustix::fs::symlinkat(target, dir, name) {
        Ok(()) => return Ok(()),
        Err(Errno::EXIST) => {}
        Err(e) => return Err(e.into()),
    }
    let tmp = temp_name(name);
    rustix::fs::symlinkat(target, dir, tmp.as_str())?;
    rustix::fs::renameat(dir, tmp.as_str(), dir, name).inspect_err(|_| {
        let _ = rustix::fs::unlinkat(dir, tmp.as_str(), AtFlags::empty());
    })?;
    Ok(())
}

/// [`read_regular`] of `dir/name`, the last component never followed (`O_NOFOLLOW`): a
/// symlink there is an error (`ELOOP`), as is anything but a regular file.
pub fn read_regular_at(
    dir: BorrowedFd<'_>,
    name: &std::ffi::OsStr,
    limit: u64,
    buf: &mut Vec<u8>,
) -> io::Result<std::fs::Metadata> {
    buf.clear();
    let fd = rustix::fs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOCTTY | OFlags::NOFOLLOW,
        Mode::empty(),
    )?;
    read_opened(fd, limit, buf)
}

/// A file its directory listed as a regular file (not a symlink), read bounded without the
/// `fstat` of [`read_regular`] (a system call in seven of a generator run, per source).
/// `O_NOFOLLOW`: a symlink put in its place is an error; `O_NONBLOCK`: a FIFO put in its
/// place cannot block (it reads as what is in it, or fails); a device node cannot be made
/// by its owner. A regular file gives fewer bytes than asked only at its end.
pub fn read_listed(path: &Path, limit: u64, buf: &mut Vec<u8>) -> io::Result<()> {
    buf.clear();
    let fd = rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOCTTY | OFlags::NOFOLLOW,
        Mode::empty(),
    )?;
    let f = std::fs::File::from(fd);
    // A page first (most sources are far smaller), then twice as much each time: the
    // bytes asked for are zeroed first, so asking for much more than comes costs.
    read_capped(&f, PAGE, limit, buf, true)
}

/// The opened file `fd` if it is a regular file (`fstat`), read bounded; its metadata.
fn read_opened(fd: OwnedFd, limit: u64, buf: &mut Vec<u8>) -> io::Result<std::fs::Metadata> {
    let f = std::fs::File::from(fd);
    let meta = f.metadata()?;
    if !meta.is_file() {
        return Err(not_regular());
    }
    read_sized(&f, meta.len(), limit, buf)?;
    Ok(meta)
}

/// Read the regular file `f`, `size` bytes long by its `fstat`, into `buf`: at most
/// `limit` bytes, or an error. One `read` when the size is right (a regular file gives
/// fewer bytes than asked only at its end), so a source costs no second `read` to see
/// the end; a file that grew meanwhile is read on to its end, still bounded. The first
/// read asks for at least a page: a file whose `st_size` says nothing (0 for a `/proc/sys`
/// value, whose handler answers only a read at offset 0) is then read whole, not as its
/// first byte.
fn read_sized(f: &std::fs::File, size: u64, limit: u64, buf: &mut Vec<u8>) -> io::Result<()> {
    let first = size.max(PAGE as u64 - 1).min(limit) as usize + 1;
    read_capped(f, first, limit, buf, true)
}

/// One page: the least a pseudo-file's `read` is asked for.
const PAGE: usize = 4096;

/// Read `f` into `buf` until its end, at most `limit` bytes (more is an error): `first`
/// bytes asked for at once, then twice as much each time. `short_is_end`: a read that
/// gives fewer bytes than asked is the end (true of a regular file on a disk, not of a
/// pipe or a pseudo-file). `EINTR` is retried.
fn read_capped(
    mut f: &std::fs::File,
    first: usize,
    limit: u64,
    buf: &mut Vec<u8>,
    short_is_end: bool,
) -> io::Result<()> {
    buf.clear();
    let mut want = first.max(1);
    loop {
        let at = buf.len();
        let ask = want.min((limit as usize).saturating_add(1) - at);
        buf.resize(at + ask, 0);
        let n = loop {
            match f.read(&mut buf[at..]) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => break r,
            }
        };
        let n = match n {
            Ok(n) => n,
            Err(e) => {
                buf.truncate(at);
                return Err(e);
            }
        };
        buf.truncate(at + n);
        if buf.len() as u64 > limit {
            return Err(io::Error::other(format!("larger than {limit} bytes")));
        }
        if n == 0 || (short_is_end && n < ask) {
            return Ok(());
        }
        want = want.saturating_mul(2);
    }
}

/// Read a kernel pseudo-file (`/proc`, `/sys`) of at most `limit` bytes into `buf`. Its
/// `st_size` means nothing (0, or 4096 for any sysfs attribute) and a handler may answer
/// only a read at offset 0, so every read asks for at least a page and the file is read
/// until a read gives nothing. Opened non-blocking, and it must be a regular file by
/// `fstat` (what procfs and sysfs files are): a FIFO, a device (`/dev/zero` behind a
/// symlink) or a directory at the path is an error, never a hang or an endless read.
pub fn read_pseudo(path: &Path, limit: u64, buf: &mut Vec<u8>) -> io::Result<()> {
    buf.clear();
    let fd = rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOCTTY,
        Mode::empty(),
    )?;
    let f = std::fs::File::from(fd);
    if !f.metadata()?.is_file() {
        return Err(not_regular());
    }
    read_capped(&f, PAGE, limit, buf, false)
}

fn not_regular() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, "not a regular file")
}

/// Create the directory `dir/name` (mode `mode`, umask applied). Returns `false` when
/// something already exists at `name` (of any type: the caller checks what).
pub fn mkdir_at(dir: BorrowedFd<'_>, name: &std::ffi::OsStr, mode: u32) -> io::Result<bool> {
    match rustix::fs::mkdirat(dir, name, Mode::from_raw_mode(mode)) {
        Ok(()) => Ok(true),
        Err(Errno::EXIST) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

fn split(path: &Path) -> io::Result<(&Path, &str)> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    Ok((dir, name))
}

/// Read a regular file of at most `limit` bytes into `buf`. Opened non-blocking (a FIFO
/// or a device at the path cannot block the caller) and checked with `fstat`: anything
/// but a regular file is an error. Symlinks are followed (quadlet follows them); callers
/// that check ownership use the returned metadata, which is the file actually read.
pub fn read_regular(path: &Path, limit: u64, buf: &mut Vec<u8>) -> io::Result<std::fs::Metadata> {
    buf.clear();
    let fd = rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOCTTY,
        Mode::empty(),
    )?;
    read_opened(fd, limit, buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn tmpdir(tag: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!(
            "rootlet-fsutil-{tag}-{}",
            rustix::process::getpid().as_raw_nonzero()
        ));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn read_listed_is_bounded_follows_no_symlink_and_never_blocks() {
        let d = tmpdir("listed");
        let mut buf = Vec::new();
        // Sizes around the first read and the limit.
        for n in [0usize, 1, 4095, 4096, 4097, 8192, 20000] {
            std::fs::write(d.join("f"), vec![b'a'; n]).unwrap();
            read_listed(&d.join("f"), 20000, &mut buf).unwrap();
            assert_eq!(buf.len(), n);
            assert!(read_listed(&d.join("f"), n as u64, &mut buf).is_ok());
            if n > 0 {
                assert!(read_listed(&d.join("f"), n as u64 - 1, &mut buf).is_err());
            }
        }
        symlink(d.join("f"), d.join("link")).unwrap();
        assert!(read_listed(&d.join("link"), 100, &mut buf).is_err());
        // A FIFO put where a file was listed: read at once (nothing in it), never waited on.
        rustix::fs::mknodat(
            rustix::fs::CWD,
            d.join("fifo"),
            rustix::fs::FileType::Fifo,
            Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        let t = std::time::Instant::now();
        let _ = read_listed(&d.join("fifo"), 100, &mut buf);
        assert!(t.elapsed() < std::time::Duration::from_secs(5));
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn atomic_write_replaces_a_symlink_and_never_writes_through_it() {
        let d = tmpdir("symlink");
        std::fs::write(d.join("victim"), "keep").unwrap();
        symlink(d.join("victim"), d.join("unit.service")).unwrap();
        write_atomic(&d.join("unit.service"), b"new", 0o644, false).unwrap();
        assert_eq!(std::fs::read_to_string(d.join("victim")).unwrap(), "keep");
        assert_eq!(
            std::fs::read_to_string(d.join("unit.service")).unwrap(),
            "new"
        );
        assert!(!std::fs::symlink_metadata(d.join("unit.service"))
            .unwrap()
            .file_type()
            .is_symlink());
        // No temporary file is left behind.
        assert_eq!(std::fs::read_dir(&d).unwrap().count(), 2);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn symlink_replaced_atomically() {
        let d = tmpdir("link");
        let dir = open_dir(&d).unwrap();
        symlink_atomic_at(dir.as_fd(), "l", "a").unwrap();
        symlink_atomic_at(dir.as_fd(), "l", "b").unwrap();
        assert_eq!(
            std::fs::read_link(d.join("l")).unwrap(),
            Path::new("b").to_path_buf()
        );
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_fifo_is_refused_at_once() {
        let d = tmpdir("fifo");
        let p = d.join("x.conf");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &p,
            rustix::fs::FileType::Fifo,
            Mode::from_raw_mode(0o644),
            0,
        )
        .unwrap();
        let mut buf = Vec::new();
        let e = read_regular(&p, 100, &mut buf).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn read_is_bounded() {
        let d = tmpdir("bound");
        std::fs::write(d.join("f"), vec![b'a'; 11]).unwrap();
        let mut buf = Vec::new();
        assert!(read_regular(&d.join("f"), 10, &mut buf).is_err());
        assert!(read_regular(&d.join("f"), 11, &mut buf).is_ok());
        assert_eq!(buf.len(), 11);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn subdir_symlink_refused() {
        let d = tmpdir("subdir");
        std::fs::create_dir(d.join("real")).unwrap();
        symlink(d.join("real"), d.join("x.wants")).unwrap();
        let top = open_dir(&d).unwrap();
        assert!(open_subdir_nofollow(top.as_fd(), "x.wants").is_err());
        assert!(open_subdir_nofollow(top.as_fd(), "real").is_ok());
        std::fs::remove_dir_all(&d).unwrap();
    }

    /// Every reader against what a path rootlet did not create can hold: a FIFO (no hang),
    /// a symlink to `/dev/zero` (no endless read), a directory and an unreadable file
    /// (errors); each ends at once with an error.
    #[test]
    fn readers_refuse_fifos_devices_directories_and_unreadable_files_at_once() {
        let d = tmpdir("class");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            d.join("fifo"),
            rustix::fs::FileType::Fifo,
            Mode::from_raw_mode(0o644),
            0,
        )
        .unwrap();
        symlink("/dev/zero", d.join("zero")).unwrap();
        std::fs::create_dir(d.join("dir")).unwrap();
        std::fs::write(d.join("secret"), "x").unwrap();
        std::fs::set_permissions(
            d.join("secret"),
            std::os::unix::fs::PermissionsExt::from_mode(0o000),
        )
        .unwrap();
        let mut paths = vec![d.join("fifo"), d.join("zero"), d.join("dir")];
        // Root reads a mode-000 file; /proc/self/mem is a regular file nobody can read
        // at offset 0 (EIO).
        if !rustix::process::geteuid().is_root() {
            paths.push(d.join("secret"));
        }
        paths.push("/proc/self/mem".into());
        let mut buf = Vec::new();
        for p in &paths {
            let t = std::time::Instant::now();
            assert!(read_regular(p, 1 << 20, &mut buf).is_err(), "{p:?}");
            assert!(read_pseudo(p, 1 << 20, &mut buf).is_err(), "{p:?}");
            let top = open_dir(p.parent().unwrap()).unwrap();
            let name = p.file_name().unwrap();
            assert!(read_regular_at(top.as_fd(), name, 1 << 20, &mut buf).is_err());
            assert!(t.elapsed() < std::time::Duration::from_secs(10), "{p:?}");
        }
        let _ = std::fs::remove_dir_all(&d);
    }

    /// New-user P1: a `/proc/sys` file reports `st_size` 0 and answers only a read at
    /// offset 0; it must be read whole (`cat`'s bytes), by both readers.
    #[test]
    fn proc_sys_files_are_read_whole() {
        for p in [
            "/proc/sys/net/ipv4/ip_unprivileged_port_start",
            "/proc/sys/user/max_user_namespaces",
            "/proc/sys/net/ipv4/ping_group_range",
            // (not `status`: its counters change between the two reads)
            "/proc/self/limits",
        ] {
            let Ok(want) = std::fs::read(p) else { continue };
            let mut buf = Vec::new();
            read_pseudo(Path::new(p), 1 << 20, &mut buf).unwrap();
            assert_eq!(buf, want, "{p}");
            if !p.contains("self") {
                read_regular(Path::new(p), 1 << 20, &mut buf).unwrap();
                assert_eq!(buf, want, "{p}");
            }
        }
        let mut buf = Vec::new();
        assert!(read_pseudo(Path::new("/proc/self/status"), 10, &mut buf).is_err());
    }
}
