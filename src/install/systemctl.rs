//! `systemctl --user` for install and uninstall, when a user manager is reachable and
//! wanted; the calls themselves (with their deadline) are [`crate::user_manager`]'s.

use crate::env::UserEnv;
use crate::user_manager;
pub use crate::user_manager::SystemctlError;

/// The user manager, when one is reachable and wanted.
pub struct Systemctl {
    pub enabled: bool,
    /// Not `--no-systemctl`: the user wants rootlet to run the commands.
    pub wanted: bool,
}

impl Systemctl {
    /// Reachable: the manager's private socket or the user bus exists.
    pub fn detect(wanted: bool, user: &UserEnv) -> Systemctl {
        Systemctl {
            enabled: wanted && user.user_manager_reachable(),
            wanted,
        }
    }

    /// Whether `unit` is active or activating (quietly).
    pub fn is_active(&self, unit: &str) -> bool {
        self.enabled && user_manager::is_active(unit)
    }

    /// Run `op` through `systemctl --user`; when disabled or failing, the error says what
    /// to run by hand (the same `op`, [`user_manager::Op::shown`]).
    pub fn run(&self, op: &user_manager::Op) -> Result<(), SystemctlError> {
        if !self.wanted {
            return Err(SystemctlError::NotAsked(op.shown()));
        }
        if !self.enabled {
            return Err(SystemctlError::Unreachable(op.shown()));
        }
        user_manager::systemctl(op)
    }
}
