//! Every byte the `rootlet` binary writes goes through here: [`say!`] to stderr, [`out`] to
//! stdout, [`shown`] for a name or path taken from the user's files, and [`Exit`] for the
//! exit status.
//!
//! Rust ignores SIGPIPE, so a reader that went away (`| head -1`, `| grep -q`) is an
//! `EPIPE` on the next write, and `print!`/`println!`/`eprintln!` panic on it (an abort in
//! release builds). Here no write can panic, and no write error stops the work that
//! follows it: `add` and `rm` print what they changed before they reload the manager, and
//! the reload must still happen. The output is lost, the command finishes, and its status
//! is what it would have been ([`finish`] turns it into a failure only for a write error
//! that is not `EPIPE`, such as a full disk under `> file`).

use std::io::Write as _;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

/// Print a message to stderr, as one line ([`say_line`]); a closed or broken stderr is no
/// reason to fail, nor to panic.
macro_rules! say {
    ($($t:tt)*) => {
        crate::ui::say_line(&format!($($t)*))
    };
}
pub(crate) use say;

/// Longest message line [`say!`] prints (longer ones end in `...`): a value from a file or
/// the bus cannot make one line of megabytes.
const MAX_LINE: usize = 16 * 1024;

/// `message` on one line of stderr. Whatever a message quotes (a name from the user's
/// files, a value from the bus, a library error's text) cannot start a second line or
/// drive the terminal: control characters are escaped (`\n`, `\u{1b}`) as in `file:line:`
/// messages ([`rootlet::error::escape_bounded`]).
pub fn say_line(message: &str) {
    let mut line = rootlet::error::escape_bounded(message, MAX_LINE);
    line.push('\n');
    err(&line);
}

/// A write to stdout failed for another reason than a reader that went away.
static OUT_FAILED: AtomicBool = AtomicBool::new(false);
/// The reader of stdout went away: the rest of the output is dropped without trying.
static OUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// Write `text` to stdout. After `EPIPE` the output ends quietly (later calls write
/// nothing); any other error is said once on stderr and makes [`finish`] fail.
pub fn out(text: &str) {
    if OUT_CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let mut o = std::io::stdout().lock();
    match o.write_all(text.as_bytes()).and_then(|()| o.flush()) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            OUT_CLOSED.store(true, Ordering::Relaxed);
        }
        Err(e) => {
            OUT_CLOSED.store(true, Ordering::Relaxed);
            OUT_FAILED.store(true, Ordering::Relaxed);
            say!("rootlet: writing to stdout: {e}");
        }
    }
}

/// Write `text` (whole lines, already escaped: [`rootlet::generator::Run::diagnostics`])
/// to stderr, ignoring errors.
pub fn err(text: &str) {
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// A name or path from the user's files (or the environment) for a message or a listing,
/// on one line and harmless on a terminal: control characters (a newline, an escape
/// sequence) escaped, bytes that are not UTF-8 as `\xNN`. The library's one rule,
/// [`rootlet::error::show_path`], which `file:line:` messages use too.
pub fn shown(name: impl AsRef<std::ffi::OsStr>) -> String {
    rootlet::error::show_path(std::path::Path::new(name.as_ref()))
}

/// Said when another rootlet run holds the lock of a state directory and this one waits
/// for it (`install`, `regenerate`, `uninstall`, `add`, `rm`, `docker enable|disable`).
pub fn lock_wait(lock_file: &std::path::Path) {
    say!(
        "rootlet: another rootlet run is under way ({} is locked): waiting for it, {} s at most",
        shown(lock_file),
        rootlet::install::lock::DEFAULT_WAIT.as_secs()
    );
}

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: done.
    Ok,
    /// 1: something failed (a broken file, a refused change, an unreachable manager).
    Failed,
    /// 2: bad usage (clap's own errors exit 2 too).
    Usage,
}

impl Exit {
    /// `Failed` when `bad`, else `Ok`.
    pub fn failed_if(bad: bool) -> Exit {
        if bad {
            Exit::Failed
        } else {
            Exit::Ok
        }
    }
}

/// The process's exit status: `exit`, or a failure when stdout could not be written (for
/// another reason than a reader that went away).
pub fn finish(exit: Exit) -> ExitCode {
    match exit {
        Exit::Ok if OUT_FAILED.load(Ordering::Relaxed) => ExitCode::FAILURE,
        Exit::Ok => ExitCode::SUCCESS,
        Exit::Failed => ExitCode::FAILURE,
        Exit::Usage => ExitCode::from(2),
    }
}
