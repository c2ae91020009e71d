//! rootlet-wait-online: wait for the system's network-online.target (or a default route
//! when it will never come), then exit, or exec a daemon in place keeping its sockets.

use clap::{Parser, ValueEnum};
use rootlet::wait::{self, Fallback, Outcome};
use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};

#[derive(Clone, Copy, ValueEnum)]
enum FallbackArg {
    /// Wait for a default route through an up, non-loopback interface.
    Route,
    /// Wait for the unit only.
    None,
}

#[derive(Parser)]
#[command(
    name = "rootlet-wait-online",
    version,
    about = "Wait for the system's network-online.target from a user unit, without polling",
    after_help = "Exit status: 0 when the unit is active or a default route is up, 1 on timeout \
                  (units ordered after this one with Wants= start anyway), 2 on bad usage. \
                  With -- COMMAND, the command is exec'd in place after the wait (also after a \
                  timeout), keeping socket-activation fds (LISTEN_FDS) and NOTIFY_SOCKET; \
                  127 at once when it cannot be executed."
)]
struct Cli {
    /// Give up after this long (e.g. 90, 90s, 2min).
    #[arg(long, default_value = "90s", value_parser = wait::parse_duration)]
    timeout: std::time::Duration,
    /// What to do when the unit will never become active.
    #[arg(long, value_enum, default_value = "route")]
    fallback: FallbackArg,
    /// The system unit to wait for.
    #[arg(long, default_value = "network-online.target", value_parser = unit_name)]
    unit: String,
    /// Command to exec in place after waiting.
    #[arg(last = true, value_name = "COMMAND")]
    command: Vec<OsString>,
}

/// The logger: every line clipped to [`wait::MAX_LOG_LINE`] bytes with control characters
/// escaped, at most [`MAX_INFO_LINES`] informational lines (stderr may be a pipe nobody
/// reads: a bounded amount of text cannot fill it), and no write error is ever fatal.
struct Logger {
    journal: Option<systemd_journal_logger::JournalLog>,
    info_lines: AtomicUsize,
}

const MAX_INFO_LINES: usize = 100;

impl log::Log for Logger {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }
    fn log(&self, r: &log::Record) {
        if r.level() >= log::Level::Info {
            let n = self.info_lines.fetch_add(1, Ordering::Relaxed);
            if n > MAX_INFO_LINES {
                return;
            }
            if n == MAX_INFO_LINES {
                return self.write(r, format_args!("(further changes are not logged)"));
            }
        }
        self.write(r, *r.args());
    }
    fn flush(&self) {}
}

impl Logger {
    fn write(&self, r: &log::Record, args: std::fmt::Arguments<'_>) {
        let text = wait::clip_fmt(args, wait::MAX_LOG_LINE);
        match &self.journal {
            Some(j) => log::Log::log(
                j,
                &log::Record::builder()
                    .args(format_args!("{text}"))
                    .level(r.level())
                    .target(r.target())
                    .module_path(r.module_path())
                    .file(r.file())
                    .line(r.line())
                    .build(),
            ),
            None => {
                // EPIPE or a closed stderr: the line is lost, the wait (and the exec) go on.
                let line = format!("rootlet-wait-online: {text}\n");
                let _ = std::io::stderr().lock().write_all(line.as_bytes());
            }
        }
    }
}

fn init_logging() {
    let journal = systemd_journal_logger::connected_to_journal()
        .then(systemd_journal_logger::JournalLog::new)
        .and_then(Result::ok)
        .map(|j| j.with_syslog_identifier("rootlet-wait-online".into()));
    let logger = Box::new(Logger {
        journal,
        info_lines: AtomicUsize::new(0),
    });
    let _ = log::set_boxed_logger(logger);
    log::set_max_level(log::LevelFilter::Info);
}

/// A unit name as systemd accepts them: at most 255 bytes of `[A-Za-z0-9:_.\\@-]`, with
/// a dot before the type.
fn unit_name(s: &str) -> Result<String, String> {
    let ok = !s.is_empty()
        && s.len() <= 255
        && s.contains('.')
        && !s.starts_with('.')
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b":_.\\@-".contains(&b));
    if ok {
        Ok(s.to_owned())
    } else {
        Err(format!("`{}` is not a unit name", wait::clip(s, 64)))
    }
}

/// After a panic anywhere: say so (clipped). A helper thread (D-Bus, zbus's own) is parked
/// for good, its bus reported lost, so the wait goes on with the route check; the main
/// thread in exec mode still starts the daemon. Otherwise the process aborts (release
/// builds have `panic = "abort"`).
fn install_panic_hook(exec: Option<(PathBuf, Vec<OsString>)>) {
    std::panic::set_hook(Box::new(move |info| {
        let what = wait::clip_fmt(format_args!("{info}"), 512);
        if std::thread::current().name() != Some("main") {
            // Logged once, as the reason to fall back.
            wait::dbus::report_panic(&what);
            loop {
                std::thread::park();
            }
        }
        log::error!("internal error: {what}");
        if let Some((program, argv)) = &exec {
            let e = rootlet::activation::exec(program, argv);
            log::error!("cannot run {:?}: {e}", program);
            std::process::exit(127);
        }
    }));
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    // In exec mode, a command that cannot run is said at once, not after the wait.
    let exec = match cli.command.first() {
        None => None,
        Some(prog) => match rootlet::activation::resolve(prog) {
            Ok(program) => Some((program, cli.command.clone())),
            Err(e) => {
                let shown = wait::clip(&prog.to_string_lossy(), 256);
                log::error!("cannot run \"{shown}\": {e}");
                return ExitCode::from(127);
            }
        },
    };
    install_panic_hook(exec.clone());
    let mut opts = wait::Options {
        unit: cli.unit,
        timeout: cli.timeout,
        fallback: match cli.fallback {
            FallbackArg::Route => Fallback::Route,
            FallbackArg::None => Fallback::None,
        },
        ..wait::Options::default()
    };
    // Tests point the route check at fake /proc and /sys trees.
    if let Some(root) = std::env::var_os("ROOTLET_WAIT_ROOT") {
        opts.tables.root = root.into();
        opts.tick = std::time::Duration::from_millis(100);
    }
    let outcome = wait::run(&opts, wait::notify::status);
    if let Some((program, argv)) = exec {
        // The daemon reports readiness itself; ours would be premature. Our last
        // `STATUS=` would stay on the unit for as long as the daemon runs (most daemons
        // never send one): clear it.
        let _ = wait::notify::notify("STATUS=");
        let e = rootlet::activation::exec(&program, &argv);
        let shown = wait::clip(&argv[0].to_string_lossy(), 256);
        log::error!("cannot run \"{shown}\": {e}");
        return ExitCode::from(127);
    }
    let _ = wait::notify::notify(&format!(
        "READY=1\nSTATUS={}",
        match outcome {
            Outcome::Active => "network is online",
            Outcome::Route(_) => "default route is up",
            Outcome::TimedOut => "gave up waiting (timeout)",
        }
    ));
    match outcome {
        Outcome::TimedOut => ExitCode::FAILURE,
        _ => ExitCode::SUCCESS,
    }
}
