//! The decision, as a pure function of what systemd reports: done, wait, or fall back.

/// What the system manager said about the unit and itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// The unit's `ActiveState`: active, activating, inactive, failed, ...
    pub active_state: String,
    /// A job (start, ...) is queued for the unit.
    pub job: bool,
    /// The manager's `SystemState`: initializing, starting, running, degraded, ...
    pub system_state: String,
}

/// What to do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// The unit is active: stop waiting.
    Done,
    /// It is coming (or may still come): keep sleeping on systemd's signals.
    Wait(String),
    /// It will not come: check the network itself instead. The reason is logged.
    Fallback(String),
}

/// Whether the manager has finished starting up (no more jobs from the boot transaction).
pub fn system_started(system_state: &str) -> bool {
    matches!(system_state, "running" | "degraded" | "maintenance")
}

/// Decide for `unit` from what systemd reports.
pub fn decide(unit: &str, o: &Observed) -> Decision {
    match o.active_state.as_str() {
        "active" => Decision::Done,
        "activating" | "reloading" => Decision::Wait(format!("{unit} is {}", o.active_state)),
        _ if o.job => Decision::Wait(format!("{unit} is {} with a job queued", o.active_state)),
        "failed" => Decision::Fallback(format!("{unit} failed")),
        state if system_started(&o.system_state) => Decision::Fallback(format!(
            "{unit} is {state} with no job queued and the system has finished starting \
             ({}): nothing pulls it in, it will never become active",
            o.system_state
        )),
        state => Decision::Wait(format!(
            "{unit} is {state} and the system is still {}",
            o.system_state
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn o(a: &str, job: bool, s: &str) -> Observed {
        Observed {
            active_state: a.into(),
            job,
            system_state: s.into(),
        }
    }

    #[test]
    fn decisions() {
        let u = "network-online.target";
        assert_eq!(decide(u, &o("active", false, "running")), Decision::Done);
        assert_eq!(decide(u, &o("active", true, "starting")), Decision::Done);
        assert!(matches!(
            decide(u, &o("activating", true, "starting")),
            Decision::Wait(_)
        ));
        assert!(matches!(
            decide(u, &o("inactive", true, "running")),
            Decision::Wait(_)
        ));
        assert!(matches!(
            decide(u, &o("inactive", false, "starting")),
            Decision::Wait(_)
        ));
        assert!(matches!(
            decide(u, &o("inactive", false, "initializing")),
            Decision::Wait(_)
        ));
        let Decision::Fallback(why) = decide(u, &o("inactive", false, "running")) else {
            panic!()
        };
        assert!(why.contains("never"), "{why}");
        assert!(matches!(
            decide(u, &o("inactive", false, "degraded")),
            Decision::Fallback(_)
        ));
        assert!(matches!(
            decide(u, &o("failed", false, "starting")),
            Decision::Fallback(_)
        ));
        // A failed unit with a restart job queued may still come.
        assert!(matches!(
            decide(u, &o("failed", true, "running")),
            Decision::Wait(_)
        ));
    }
}
