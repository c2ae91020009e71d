//! `systemctl --user`, when a user manager is reachable and wanted. Unit names always
//! follow `--`: a valid unit name may begin with `-` and must never be read as an option.

use crate::env::UserEnv;
use std::process::Command;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum SystemctlError {
    #[error("no user manager reachable: run `{0}` in your session")]
    Unreachable(String),
    #[error("`{shown}` failed ({status})")]
    Failed {
        shown: String,
        status: std::process::ExitStatus,
    },
    #[error("cannot run `{shown}`: {source}")]
    Spawn {
        shown: String,
        #[source]
        source: std::io::Error,
    },
}

/// The user manager, when one is reachable and wanted.
pub struct Systemctl {
    pub enabled: bool,
}

/// The arguments of `systemctl --user ARGS -- UNITS` (no `--` without units).
pub fn argv(args: &[&str], units: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = std::iter::once("--user")
        .chain(args.iter().copied())
        .map(str::to_owned)
        .collect();
    if !units.is_empty() {
        v.push("--".into());
        v.extend(units.iter().map(|u| (*u).to_owned()));
    }
    v
}

impl Systemctl {
    /// Reachable: the manager's private socket or the user bus exists.
    pub fn detect(wanted: bool, user: &UserEnv) -> Systemctl {
        Systemctl {
            enabled: wanted && user.user_manager_reachable(),
        }
    }

    /// Whether `unit` is active or activating (quietly).
    pub fn is_active(&self, unit: &str) -> bool {
        self.enabled
            && Command::new("systemctl")
                .args(argv(&["is-active", "--quiet"], &[unit]))
                .status()
                .is_ok_and(|s| s.success())
    }

    /// Run `systemctl --user ARGS -- UNITS`; when disabled or failing, the error says what
    /// to run by hand.
    pub fn run(&self, args: &[&str], units: &[&str]) -> Result<(), SystemctlError> {
        let argv = argv(args, units);
        let shown = format!("systemctl {}", argv.join(" "));
        if !self.enabled {
            return Err(SystemctlError::Unreachable(shown));
        }
        match Command::new("systemctl").args(&argv).status() {
            Ok(s) if s.success() => Ok(()),
            Ok(status) => Err(SystemctlError::Failed { shown, status }),
            Err(source) => Err(SystemctlError::Spawn { shown, source }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn i3_names_follow_a_double_dash() {
        assert_eq!(
            argv(
                &["start", "--no-block"],
                &["-M.x.service", "--help.service"]
            ),
            [
                "--user",
                "start",
                "--no-block",
                "--",
                "-M.x.service",
                "--help.service"
            ]
        );
        assert_eq!(argv(&["daemon-reload"], &[]), ["--user", "daemon-reload"]);
    }
}
