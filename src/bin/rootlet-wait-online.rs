//! rootlet-wait-online: wait for the system's network-online.target (or a default route
//! when it will never come), then exit, or exec a daemon in place keeping its sockets.

use clap::{Parser, ValueEnum};
use rootlet::wait::{self, Fallback, Outcome};
use std::ffi::OsString;
use std::process::ExitCode;

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
                  timeout), keeping socket-activation fds (LISTEN_FDS) and NOTIFY_SOCKET."
)]
struct Cli {
    /// Give up after this long (e.g. 90, 90s, 2min).
    #[arg(long, default_value = "90s", value_parser = wait::parse_duration)]
    timeout: std::time::Duration,
    /// What to do when the unit will never become active.
    #[arg(long, value_enum, default_value = "route")]
    fallback: FallbackArg,
    /// The system unit to wait for.
    #[arg(long, default_value = "network-online.target")]
    unit: String,
    /// Command to exec in place after waiting.
    #[arg(last = true, value_name = "COMMAND")]
    command: Vec<OsString>,
}

struct Stderr;

impl log::Log for Stderr {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }
    fn log(&self, r: &log::Record) {
        eprintln!("rootlet-wait-online: {}", r.args());
    }
    fn flush(&self) {}
}

fn init_logging() {
    let journal = systemd_journal_logger::connected_to_journal()
        .then(systemd_journal_logger::JournalLog::new)
        .and_then(Result::ok);
    match journal {
        Some(j) => {
            let _ = j
                .with_syslog_identifier("rootlet-wait-online".into())
                .install();
        }
        None => {
            let _ = log::set_logger(&Stderr);
        }
    }
    log::set_max_level(log::LevelFilter::Info);
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
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
    let exec_mode = !cli.command.is_empty();
    let outcome = wait::run(&opts, |s| {
        let _ = sd_notify::notify(&[sd_notify::NotifyState::Status(s)]);
    });
    if exec_mode {
        // The daemon reports readiness itself; ours would be premature.
        let e = rootlet::activation::exec(&cli.command);
        log::error!("cannot run {:?}: {e}", cli.command[0]);
        return ExitCode::from(127);
    }
    let _ = sd_notify::notify(&[
        sd_notify::NotifyState::Ready,
        sd_notify::NotifyState::Status(match outcome {
            Outcome::Active => "network is online",
            Outcome::Route(_) => "default route is up",
            Outcome::TimedOut => "gave up waiting (timeout)",
        }),
    ]);
    match outcome {
        Outcome::TimedOut => ExitCode::FAILURE,
        _ => ExitCode::SUCCESS,
    }
}
