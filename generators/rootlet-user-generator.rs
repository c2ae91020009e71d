//! rootlet-user-generator: a systemd user generator (systemd.generator(7)).
//!
//! `rootlet-user-generator NORMAL [EARLY LATE]`: reads quadlet's user search path and
//! writes units and install symlinks into NORMAL only. Errors go to stderr (the user
//! manager puts them in the journal) as `file:line: message`; every good file is still
//! generated; the exit status is 1 if any file failed.

use rootlet::generator;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Print to stderr (the journal); a closed or broken stderr must not fail the run, nor
/// panic (`eprintln!` would).
macro_rules! say {
    ($($t:tt)*) => {{
        let _ = writeln!(std::io::stderr(), $($t)*);
    }};
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        let kinds: Vec<String> = (rootlet::kind::KINDS.iter())
            .map(|k| format!(".{}", k.extension))
            .collect();
        let _ = writeln!(
            std::io::stdout(),
            "usage: rootlet-user-generator NORMAL-DIR [EARLY-DIR LATE-DIR]\n\n\
             A systemd user generator (systemd.generator(7)): translates quadlet-compatible\n\
             files from quadlet's user search path (ROOTLET_UNIT_DIRS replaces it) into\n\
             units and install symlinks in NORMAL-DIR.\n\
             Files: {}.\n\
             See rootlet-user-generator(8).",
            kinds.join(", ")
        );
        return ExitCode::SUCCESS;
    }
    if args.iter().any(|a| a == "--version") {
        let _ = writeln!(
            std::io::stdout(),
            "rootlet-user-generator {}",
            env!("CARGO_PKG_VERSION")
        );
        return ExitCode::SUCCESS;
    }
    let normal = match args.as_slice() {
        [n] | [n, _, _] if n.starts_with('/') => PathBuf::from(n),
        _ => {
            say!("usage: rootlet-user-generator NORMAL-DIR [EARLY-DIR LATE-DIR] (absolute paths)");
            return ExitCode::from(2);
        }
    };
    tune_malloc();
    let (opts, defaults_err) = generator::Options::from_env();
    let (run, written) = generator::generate(&opts, &normal);
    // Every note, warning and error, in the format `rootlet check` prints them.
    let _ = std::io::stderr()
        .lock()
        .write_all(run.diagnostics(defaults_err.as_ref()).as_bytes());
    let failed = run.failed(defaults_err.as_ref());
    if let Err(e) = written {
        say!(
            "rootlet: writing to {}: {e}",
            rootlet::error::show_path(&normal)
        );
        return ExitCode::FAILURE;
    }
    // Exit without dropping `run`: freeing thousands of small allocations one by one is
    // pure waste for a process that ends here (a measurable part of a 1,000-file run).
    std::process::exit(i32::from(failed))
}

/// Let glibc's malloc take memory in 8 MiB steps instead of one page at a time: a
/// 1,000-file run otherwise makes about 1,600 `mprotect` calls growing its threads' heaps
/// (and every one takes the address-space lock the other threads' page faults need).
/// Only address space is reserved; pages are still touched as they are used.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn tune_malloc() {
    use std::ffi::c_int;
    extern "C" {
        fn mallopt(param: c_int, value: c_int) -> c_int;
    }
    const M_TOP_PAD: c_int = -2;
    // SAFETY: mallopt(3) only sets a tuning parameter; no thread exists yet.
    unsafe {
        mallopt(M_TOP_PAD, 8 << 20);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn tune_malloc() {}
