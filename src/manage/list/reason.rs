//! Why a unit failed, for `rootlet list` and for `add --now`'s unit that did not start:
//! the first line of its last run's journal that says what went wrong ([`reason`]).

use crate::user_manager::{self as systemd, UnitState};
use std::time::Duration;

/// For a unit that failed, or fails and waits to be started again: why ([`reason`]).
pub(super) fn why(unit: &str, s: &UnitState) -> Option<String> {
    (s.active == "failed" || s.sub == "auto-restart")
        .then(|| reason(unit, Duration::from_secs(10)))
        .flatten()
}

/// Why a unit failed (or keeps failing): the first line of its last run that says what
/// went wrong, from the unit's journal (its own output and the manager's lines about it),
/// not the last line (after a failure that is mostly systemd's summary, or what podman
/// printed while cleaning up); else the last line ([`systemd::last_log_line`]). `None`
/// when the journal has nothing or does not answer within `deadline` (per call).
pub fn reason(unit: &str, deadline: Duration) -> Option<String> {
    systemd::journal(&["-n", "60", "-u", unit], deadline)
        .and_then(|lines| first_error(&lines))
        .or_else(|| systemd::last_log_line(unit, deadline))
}

/// The first line of the last run (after the last `Starting ...` of the manager) that
/// names an error, leaving out systemd's summaries, which say only that the unit failed.
pub fn first_error(lines: &[String]) -> Option<String> {
    const SUMMARY: &[&str] = &[
        "Failed with result",
        "Main process exited",
        "Control process exited",
        "Failed to start ",
        "Failed to listen on ",
        "Scheduled restart job",
        "Consumed ",
    ];
    const ERROR: &[&str] = &[
        "error",
        "fail",
        "cannot",
        "can't",
        "could not",
        "denied",
        "not found",
        "no such",
        "unable",
        "invalid",
        "refused",
        "in use",
        "missing",
        "timed out",
        "not permitted",
    ];
    let run = lines
        .iter()
        .rposition(|l| l.starts_with("Starting "))
        .map_or(lines, |i| &lines[i + 1..]);
    run.iter()
        .find(|l| {
            let low = l.to_ascii_lowercase();
            !SUMMARY.iter().any(|s| l.contains(s)) && ERROR.iter().any(|w| low.contains(w))
        })
        .cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_error_of_the_last_run() {
        let v = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        // A socket whose port is taken: the cause, not "Failed to listen on".
        let socket = v(&[
            "nginx.socket: Failed to create listening socket (0.0.0.0:8080): Address already in use",
            "nginx.socket: Failed to listen on sockets: Address already in use",
            "nginx.socket: Failed with result 'resources'.",
            "Failed to listen on nginx listening socket.",
        ]);
        assert_eq!(first_error(&socket).unwrap(), socket[0]);
        // A container that fails on each restart: this run's error, past the summaries and
        // podman's clean-up output.
        let restarts = v(&[
            "Starting db.service - db...",
            "Error: old reason",
            "Starting db.service - db...",
            "db.service: Main process exited, code=exited, status=1/FAILURE",
            "initdb: error: directory \"/var/lib/pg\" exists but is not empty",
            "db.service: Failed with result 'exit-code'.",
            "Failed to start db.service - db.",
            "systemd-db",
        ]);
        assert_eq!(first_error(&restarts).unwrap(), restarts[4]);
        // Stopped by hand and killed: the time-out, not podman's `rm` output.
        let killed = v(&[
            "Stopping web.service - web...",
            "web.service: State 'stop-sigterm' timed out. Killing.",
            "web.service: Killing process 12 (conmon) with signal SIGKILL.",
            "web.service: Failed with result 'timeout'.",
            "systemd-web",
        ]);
        assert_eq!(first_error(&killed).unwrap(), killed[1]);
        assert_eq!(first_error(&v(&["hello", "Stopped web."])), None);
    }
}
