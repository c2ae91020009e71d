//! The programs of the user manager: `journalctl --user` and `systemctl --user`, each
//! run under [`crate::proc::run`]'s deadline and bounds.

use super::{one_line, Op, Verb, CALL_TIMEOUT};
use crate::proc;
use std::time::Duration;

/// The last journal line about a failed user unit, or `None` when there is none or
/// journalctl does not answer within `deadline` (per call). The unit's own processes are
/// asked first (`_SYSTEMD_USER_UNIT=UNIT`: the program's, podman's and the container's
/// output, podman's container ids and event records left out), then everything about the unit
/// (`journalctl --user -u UNIT -n 1 -o cat`: systemd's own lines too).
pub fn last_log_line(unit: &str, deadline: Duration) -> Option<String> {
    let own = format!("_SYSTEMD_USER_UNIT={unit}");
    // Container ids (`podman rm` prints them) and podman's event records
    // (`2026-01-01 10:00:00.1 +0000 UTC m=+0.03 container remove ...`) say nothing new.
    let is_id = |l: &str| {
        (l.len() == 64 && l.bytes().all(|b| b.is_ascii_hexdigit())) || l.contains(" UTC m=+")
    };
    journal(&["-n", "10", own.as_str()], deadline)
        .and_then(|lines| lines.into_iter().rev().find(|l| !is_id(l)))
        .or_else(|| journal(&["-n", "1", "-u", unit], deadline)?.pop())
}

/// `journalctl --user --no-pager -q -o cat ARGS`: its non-empty lines, or `None` if it
/// cannot be run or does not finish within `deadline` (then its process group is killed).
pub(crate) fn journal(args: &[&str], deadline: Duration) -> Option<Vec<String>> {
    journal_with("journalctl", args, deadline)
}

/// [`journal`] with another program in place of `journalctl` (tests).
pub(crate) fn journal_with(prog: &str, args: &[&str], deadline: Duration) -> Option<Vec<String>> {
    let out = proc::run(
        std::process::Command::new(prog)
            .args(["--user", "--no-pager", "-q", "-o", "cat"])
            .args(args),
        &proc::Limits {
            deadline,
            max_out: 256 * 1024,
            max_err: 0,
        },
    )
    .ok()?;
    let lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim_end().to_owned())
        .filter(|l| !l.trim().is_empty())
        .collect();
    (!lines.is_empty()).then_some(lines)
}

// --- systemctl --user

/// How long one `systemctl --user` may take: longer than a stop job may (systemd's
/// default `TimeoutStopSec=` is 90 s), so a slow stop is not cut short.
pub const SYSTEMCTL_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Debug, thiserror::Error)]
pub enum SystemctlError {
    #[error("no user manager reachable: run `{0}` in your session")]
    Unreachable(String),
    /// The user asked rootlet not to run it (`--no-systemctl`).
    #[error("run `{0}` in your session")]
    NotAsked(String),
    /// `why`: what systemctl said on stderr (empty, or `: ` and the text).
    #[error("`{shown}` failed ({status}){why}")]
    Failed {
        shown: String,
        status: std::process::ExitStatus,
        why: String,
    },
    #[error("`{shown}`: {source}; run it in your session")]
    Run {
        shown: String,
        #[source]
        source: proc::Error,
    },
}

/// Run `op` through `systemctl` ([`Op::argv`]) within [`SYSTEMCTL_TIMEOUT`]; an error
/// says what to run by hand ([`Op::shown`]).
pub fn systemctl(op: &Op) -> Result<(), SystemctlError> {
    systemctl_with("systemctl", op)
}

pub(crate) fn systemctl_with(prog: &str, op: &Op) -> Result<(), SystemctlError> {
    let shown = op.shown();
    let out = proc::run(
        std::process::Command::new(prog).args(op.argv()),
        &proc::Limits {
            deadline: SYSTEMCTL_TIMEOUT,
            // systemctl's own message goes into the error.
            max_out: 0,
            max_err: 4096,
        },
    )
    .map_err(|source| SystemctlError::Run {
        shown: shown.clone(),
        source,
    })?;
    if out.status.success() {
        return Ok(());
    }
    let why = one_line(&out.stderr_text(), 1024);
    Err(SystemctlError::Failed {
        shown,
        status: out.status,
        why: if why.is_empty() {
            why
        } else {
            format!(": {why}")
        },
    })
}

/// Whether `unit` is active or activating (`systemctl --user is-active --quiet`), within
/// [`CALL_TIMEOUT`]; `false` when it cannot be told.
pub fn is_active(unit: &str) -> bool {
    proc::run(
        std::process::Command::new("systemctl").args(Op::new(Verb::IsActive, [unit]).argv()),
        &proc::Limits {
            deadline: CALL_TIMEOUT,
            max_out: 0,
            max_err: 0,
        },
    )
    .is_ok_and(|o| o.status.success())
}
