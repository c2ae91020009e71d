//! One request to the user manager ([`Op`]): the value the client carries out (over D-Bus,
//! or through `systemctl --user`) and the command line the user is told to run by hand
//! when rootlet does not or cannot reach the manager. Both come from the same value, so
//! what rootlet does and what it tells the user to do cannot differ.

/// What is asked of the manager.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    /// `daemon-reload` (D-Bus `Reload`): generators run again.
    Reload,
    /// `start` (D-Bus `StartUnit`), waited for.
    Start,
    /// `start --no-block`: queued, not waited for.
    StartNoBlock,
    /// `stop` (D-Bus `StopUnit`), waited for.
    Stop,
    /// `restart` (D-Bus `RestartUnit`), not waited for.
    Restart,
    /// `reset-failed` (D-Bus `ResetFailedUnit`).
    ResetFailed,
    /// `disable`: removes the user's own `enable` links (only ever shown, never run).
    Disable,
    /// `is-active --quiet`: the exit status tells.
    IsActive,
}

impl Verb {
    /// The words of `systemctl --user` before the unit names.
    fn words(self) -> &'static [&'static str] {
        match self {
            Verb::Reload => &["daemon-reload"],
            Verb::Start => &["start"],
            Verb::StartNoBlock => &["start", "--no-block"],
            Verb::Stop => &["stop"],
            Verb::Restart => &["restart"],
            Verb::ResetFailed => &["reset-failed"],
            Verb::Disable => &["disable"],
            Verb::IsActive => &["is-active", "--quiet"],
        }
    }

    /// The manager's D-Bus method for one unit (or none at all for `Reload`), `None` for
    /// what only `systemctl` does.
    pub(super) fn method(self) -> Option<&'static str> {
        match self {
            Verb::Reload => Some("Reload"),
            Verb::Start | Verb::StartNoBlock => Some("StartUnit"),
            Verb::Stop => Some("StopUnit"),
            Verb::Restart => Some("RestartUnit"),
            Verb::ResetFailed => Some("ResetFailedUnit"),
            Verb::Disable | Verb::IsActive => None,
        }
    }
}

/// One request to the user manager: a verb and the units it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Op {
    pub verb: Verb,
    pub units: Vec<String>,
}

impl Op {
    /// `verb` for `units` (none for `Reload`).
    pub fn new<S: AsRef<str>>(verb: Verb, units: impl IntoIterator<Item = S>) -> Op {
        Op {
            verb,
            units: units.into_iter().map(|u| u.as_ref().to_owned()).collect(),
        }
    }

    /// `daemon-reload`.
    pub fn reload() -> Op {
        Op::new::<&str>(Verb::Reload, [])
    }

    /// The arguments of `systemctl` for this request: `--user VERB -- UNITS` (no `--`
    /// without units). Unit names always follow `--`: a valid unit name may begin with `-`
    /// and must never be read as an option (audit I3).
    pub fn argv(&self) -> Vec<String> {
        let mut v: Vec<String> = std::iter::once("--user")
            .chain(self.verb.words().iter().copied())
            .map(str::to_owned)
            .collect();
        if !self.units.is_empty() {
            v.push("--".into());
            v.extend(self.units.iter().cloned());
        }
        v
    }

    /// The command line the user runs by hand for this request: `systemctl` and
    /// [`Op::argv`], each word as a shell reads it back and harmless on a terminal
    /// ([`shell_word`]).
    pub fn shown(&self) -> String {
        std::iter::once("systemctl".to_owned())
            .chain(self.argv().iter().map(|w| shell_word(w)))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// `s` as one word of a command line to copy into a shell: on one line and harmless on a
/// terminal by the output's one rule ([`crate::error::show_path`]: control characters
/// escaped, a backslash doubled, which is also how a shell reads one back, as in
/// `foo\\x2dbar.service`), and every other character a shell would read specially (a
/// space, a quote, `$`, `*`, ...) after a backslash. A name with a control character is no
/// valid unit name, so no shell needs to read that one back.
pub fn shell_word(s: &str) -> String {
    if s.is_empty() {
        return "''".into();
    }
    let safe = |c: char| !c.is_ascii() || c.is_ascii_alphanumeric() || "-_.:@%+=,/\\".contains(c);
    let mut out = String::with_capacity(s.len());
    for c in crate::error::show_path(std::path::Path::new(s)).chars() {
        if !safe(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The commands of `ops`, each on a line of its own after `indent`, to run in that order.
pub fn shown_all(ops: &[Op], indent: &str) -> String {
    ops.iter()
        .map(|op| format!("{indent}{}\n", op.shown()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argv_puts_names_after_a_double_dash() {
        assert_eq!(
            Op::new(Verb::StartNoBlock, ["-M.x.service", "--help.service"]).argv(),
            [
                "--user",
                "start",
                "--no-block",
                "--",
                "-M.x.service",
                "--help.service"
            ]
        );
        assert_eq!(Op::reload().argv(), ["--user", "daemon-reload"]);
        assert_eq!(
            Op::new(Verb::IsActive, ["a.service"]).argv(),
            ["--user", "is-active", "--quiet", "--", "a.service"]
        );
    }

    #[test]
    fn shown_is_what_a_shell_reads_back() {
        assert_eq!(Op::reload().shown(), "systemctl --user daemon-reload");
        assert_eq!(
            Op::new(Verb::Stop, ["web.service", "web.socket"]).shown(),
            "systemctl --user stop -- web.service web.socket"
        );
        // systemd's escapes (`\x2d`) survive a shell; so do spaces, quotes and `$`.
        let names = [
            "foo\\x2dbar@1.service",
            "a b.service",
            "it's$HOME*.service",
            "",
        ];
        let line = Op::new(Verb::Disable, names).shown();
        let out = std::process::Command::new("sh")
            .args(["-c", &format!("printf '%s\\n' {}", line)])
            .output()
            .unwrap();
        let words: Vec<String> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect();
        let mut want = vec!["systemctl", "--user", "disable", "--"];
        want.extend(names);
        assert_eq!(words, want, "{line}");
    }

    #[test]
    fn shown_never_puts_a_control_character_on_the_terminal() {
        let line = Op::new(Verb::Stop, ["a\n\u{1b}[31mb.service"]).shown();
        assert!(!line.contains(|c: char| c.is_control()), "{line:?}");
        assert!(line.contains("a\\n"), "{line}");
    }

    #[test]
    fn every_verb_the_client_sends_has_its_method() {
        for (v, m) in [
            (Verb::Reload, Some("Reload")),
            (Verb::Start, Some("StartUnit")),
            (Verb::StartNoBlock, Some("StartUnit")),
            (Verb::Stop, Some("StopUnit")),
            (Verb::Restart, Some("RestartUnit")),
            (Verb::ResetFailed, Some("ResetFailedUnit")),
            (Verb::Disable, None),
            (Verb::IsActive, None),
        ] {
            assert_eq!(v.method(), m, "{v:?}");
        }
    }
}
