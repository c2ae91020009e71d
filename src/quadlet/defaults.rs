//! The restart policy every generated service gets unless its file says otherwise.
//!
//! At boot a container may start before the network, its registry or a volume is there,
//! and fail; systemd's own defaults (no restart, or 5 starts in 10 s) turn that into "Start
//! request repeated too quickly". systemd 252 counts *every* start against the start limit,
//! automatic restarts and a person's `systemctl restart` (or a restart that reaches the unit
//! through `Requires=` on a restarted dependency) alike, in a fixed window that begins with
//! the first start. rootlet's defaults:
//!
//! ```text
//! [Unit]
//! StartLimitIntervalSec=600
//! StartLimitBurst=30
//! [Service]
//! Restart=on-failure
//! RestartSec=8
//! ```
//!
//! - a person is not refused: 30 starts per window leave room for 10 restarts of the unit
//!   and 10 of a dependency in a minute, beside its own start (and, for a unit that came up
//!   late, beside the automatic restarts it made at boot);
//! - a failed attempt is repeated 8 s after it ended, so a unit that can never start gives
//!   up after its 30th start, 4.2 to 5.4 min after the first (measured: 8.6 s a cycle for
//!   a container whose program exits at once, 11.2 s for a missing image, podman 4.3); a
//!   network, registry or volume that comes up to about 4 min late is ridden out, at
//!   0.07-0.13 s CPU and ~13 journal lines an attempt;
//! - the window is long (10 min), so the 31st start falls inside it even when an attempt
//!   takes up to ~12 s to fail; slower attempts (a registry that times out) keep being
//!   retried, at most one every ~20 s.
//!
//! `tests/e2e/restart.sh` measures all of it in a booted systemd 252. systemd 254's
//! `RestartSteps=`/`RestartMaxDelaySec=` are not emitted (systemd 252 warns about unknown
//! keys, and the generator does not ask which systemd runs it); on systemd >= 254 a user
//! may add them in the defaults file.
//!
//! A defaults file (`$XDG_CONFIG_HOME/rootlet/defaults.conf`) in the same syntax changes
//! them for all of a user's units: a key replaces the default of that name, an empty value
//! (`RestartSec=`) removes it, other keys are added. A key the source file sets itself
//! always wins over a default.
//!
//! A value systemd 252 would ignore ("Failed to parse ..., ignoring") does not count as
//! set: systemd would fall back to its own default (no restart at all for a bad
//! `Restart=`), which is the failure these defaults are there to avoid. Such a line is
//! reported with `file:line` and the values systemd takes, and left out of the unit;
//! rootlet's default stays (`values_systemd_ignores`).

use crate::error::SourceError;
use crate::unit::{Entry, UnitFile};
use std::borrow::Cow;
use std::path::Path;

/// Keys that are the same setting under two names.
const ALIASES: &[(&str, &str)] = &[("StartLimitIntervalSec", "StartLimitInterval")];

/// Keys that belong in `[Unit]` even when written in `[Service]` (systemd < 230 style).
const UNIT_ONLY: &[&str] = &[
    "StartLimitIntervalSec",
    "StartLimitInterval",
    "StartLimitBurst",
    "StartLimitAction",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Defaults {
    /// (Values are shared, not copied, into every unit: the built-in ones are constants.)
    pub unit: Vec<(Cow<'static, str>, Cow<'static, str>)>,
    pub service: Vec<(Cow<'static, str>, Cow<'static, str>)>,
}

impl Default for Defaults {
    fn default() -> Self {
        let p = |k: &'static str, v: &'static str| (Cow::Borrowed(k), Cow::Borrowed(v));
        Defaults {
            unit: vec![
                p("StartLimitIntervalSec", "600"),
                p("StartLimitBurst", "30"),
            ],
            service: vec![p("Restart", "on-failure"), p("RestartSec", "8")],
        }
    }
}

fn same_key(a: &str, b: &str) -> bool {
    a == b
        || ALIASES
            .iter()
            .any(|(x, y)| (a == *x && b == *y) || (a == *y && b == *x))
}

fn set(list: &mut Vec<(Cow<'static, str>, Cow<'static, str>)>, e: &Entry) {
    list.retain(|(k, _)| !same_key(k, &e.key));
    if !e.value.is_empty() {
        list.push((e.key.clone(), e.value.clone()));
    }
}

impl Defaults {
    /// Built-in defaults changed by a defaults file; a missing file is no error.
    pub fn load(path: &Path) -> Result<Defaults, SourceError> {
        let mut d = Defaults::default();
        // A regular file only, bounded: a FIFO here must not hang the generator.
        let mut data = Vec::new();
        match crate::fsutil::read_regular(path, 1 << 20, &mut data) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(d),
            Err(e) => return Err(SourceError::new(path, 0, e.to_string())),
        };
        let file = UnitFile::parse_bytes(&data)
            .map_err(|e| SourceError::new(path, e.line(), e.message()))?;
        for s in &file.sections {
            let list = match s.name.as_str() {
                "Unit" => &mut d.unit,
                "Service" => &mut d.service,
                other => {
                    return Err(SourceError::new(
                        path,
                        s.line,
                        format!(
                            "unknown section [{other}]: only [Unit] and [Service] take defaults"
                        ),
                    ))
                }
            };
            for e in &s.entries {
                // Empty removes a default; anything else must be what systemd takes.
                if let Some(why) = (!e.value.is_empty())
                    .then(|| systemd_ignores(&e.key, &e.value))
                    .flatten()
                {
                    return Err(SourceError::new(path, e.line, why));
                }
                set(list, e);
            }
        }
        Ok(d)
    }

    /// Add the defaults the file does not set itself, and move `StartLimit*` keys a user
    /// wrote in `[Service]` to `[Unit]`, where systemd reads them. A value systemd would
    /// ignore is left out and does not count as set: its line and why are returned.
    pub fn apply(&self, file: &mut UnitFile) -> Vec<(usize, String)> {
        let ignored = values_systemd_ignores(file);
        let moved: Vec<Entry> =
            match file.sections.iter_mut().find(|s| {
                s.name == "Service" && s.entries.iter().any(|e| UNIT_ONLY.contains(&&*e.key))
            }) {
                Some(svc) => {
                    let (m, keep) = svc
                        .entries
                        .drain(..)
                        .partition(|e| UNIT_ONLY.contains(&&*e.key));
                    svc.entries = keep;
                    m
                }
                None => Vec::new(),
            };
        let unit = file.section_mut("Unit");
        unit.entries.extend(moved);
        for (k, v) in &self.unit {
            if !unit.entries.iter().any(|e| same_key(&e.key, k)) {
                unit.add(k.clone(), v.clone());
            }
        }
        let svc = file.section_mut("Service");
        for (k, v) in &self.service {
            if !svc.entries.iter().any(|e| same_key(&e.key, k)) {
                svc.add(k.clone(), v.clone());
            }
        }
        let applies = |key: &str| {
            let e = file
                .sections
                .iter()
                .filter(|s| s.name == "Unit" || s.name == "Service")
                .flat_map(|s| &s.entries)
                .find(|e| same_key(&e.key, key));
            match e {
                Some(e) => format!("{}={} applies instead", e.key, e.value),
                None => "systemd's own default applies instead".to_owned(),
            }
        };
        ignored
            .into_iter()
            .map(|(line, key, why)| (line, format!("{why}; {}", applies(&key))))
            .collect()
    }
}

const RESTART: &[&str] = &[
    "no",
    "on-success",
    "on-failure",
    "on-abnormal",
    "on-watchdog",
    "on-abort",
    "always",
];

/// Why systemd 252 ignores `value` of `key`, for the keys rootlet sets defaults for
/// (and `TimeoutStartSec=`, which bounds a start); `None` when it takes it.
fn systemd_ignores(key: &str, value: &str) -> Option<String> {
    let ok = match key {
        "Restart" => RESTART.contains(&value),
        "RestartSec" | "TimeoutStartSec" | "StartLimitIntervalSec" | "StartLimitInterval" => {
            timespan(value)
        }
        "StartLimitBurst" => unsigned(value),
        _ => return None,
    };
    if ok {
        return None;
    }
    let takes = match key {
        "Restart" if value == "unless-stopped" => {
            "Docker's `unless-stopped` is systemd's `always`".to_owned()
        }
        "Restart" => format!("it takes {}", RESTART.join(", ")),
        "StartLimitBurst" => "it takes a number of starts".to_owned(),
        _ => "it takes a time span (`30`, `30s`, `5min 20s`, `infinity`)".to_owned(),
    };
    Some(match value {
        "" => format!("{key}: systemd ignores an empty value: {takes}"),
        v => format!("{key}: systemd ignores `{v}`: {takes}"),
    })
}

/// Take out of `[Unit]` and `[Service]` every value systemd would ignore
/// ([`systemd_ignores`]): (line, key, why) for each.
fn values_systemd_ignores(file: &mut UnitFile) -> Vec<(usize, Cow<'static, str>, String)> {
    let mut out = Vec::new();
    for s in file
        .sections
        .iter_mut()
        .filter(|s| s.name == "Unit" || s.name == "Service")
    {
        s.entries
            .retain(|e| match systemd_ignores(&e.key, &e.value) {
                Some(why) => {
                    out.push((e.line, e.key.clone(), why));
                    false
                }
                None => true,
            });
    }
    out
}

/// systemd 252's `parse_time` (`time-util.c`): numbers with an optional fraction and
/// unit, repeated, or `infinity`; the first unit in its table that the text starts with
/// is taken (`5secs` is `5sec` and a stray `s`: refused, as systemd does).
pub(crate) fn timespan(t: &str) -> bool {
    const UNITS: &[&str] = &[
        "seconds", "second", "sec", "s", "minutes", "minute", "min", "months", "month", "M",
        "msec", "ms", "m", "hours", "hour", "hr", "h", "days", "day", "d", "weeks", "week", "w",
        "years", "year", "y", "usec", "us", "\u{3bc}s", "\u{b5}s",
    ];
    let ws = |s: &str| s.trim_start_matches([' ', '\t', '\n', '\r']).len();
    let mut p = &t[t.len() - ws(t)..];
    if let Some(rest) = p.strip_prefix("infinity") {
        return ws(rest) == 0;
    }
    let digits = |s: &str| s.len() - s.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    let mut something = false;
    loop {
        p = &p[p.len() - ws(p)..];
        if p.is_empty() {
            return something;
        }
        // strtoll: an optional sign (`-` is refused), then digits.
        let q = p.strip_prefix('+').unwrap_or(p);
        if p.starts_with('-') {
            return false;
        }
        let n = digits(q);
        let mut e = &q[n..];
        if let Some(frac) = e.strip_prefix('.') {
            let f = digits(frac);
            if f == 0 {
                return false;
            }
            e = &frac[f..];
        } else if n == 0 {
            return false;
        }
        let after = &e[e.len() - ws(e)..];
        let s = UNITS
            .iter()
            .find_map(|u| after.strip_prefix(u))
            .unwrap_or(after);
        // "12.34.56" is refused; "12.34 .5" is not.
        if s.len() == e.len() && !s.is_empty() {
            return false;
        }
        p = s;
        something = true;
    }
}

/// systemd's `safe_atou`: an unsigned number, decimal or `0x` hexadecimal.
fn unsigned(v: &str) -> bool {
    let v = v.trim_start().strip_prefix('+').unwrap_or(v.trim_start());
    match v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
        Some(h) => !h.is_empty() && h.bytes().all(|b| b.is_ascii_hexdigit()),
        None => !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_keys_win_and_startlimit_moves_to_unit() {
        let mut f = UnitFile::parse("[Service]\nRestartSec=3\nStartLimitBurst=9\n").unwrap();
        Defaults::default().apply(&mut f);
        let out = f.write();
        assert!(
            out.contains("[Unit]\nStartLimitBurst=9\nStartLimitIntervalSec=600\n"),
            "{out}"
        );
        assert!(out.contains("RestartSec=3\nRestart=on-failure\n"), "{out}");
        assert!(!out.contains("StartLimitBurst=30"));
    }

    #[test]
    fn file_replaces_removes_and_adds() {
        let dir = std::env::temp_dir().join(format!("rootlet-defaults-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("defaults.conf");
        std::fs::write(
            &p,
            "[Unit]\nStartLimitInterval=1800\nStartLimitBurst=\n[Service]\nRestartSteps=5\n",
        )
        .unwrap();
        let d = Defaults::load(&p).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let mut f = UnitFile::parse("[Service]\nRestartSec=3\n").unwrap();
        d.apply(&mut f);
        let out = f.write();
        assert!(out.contains("[Unit]\nStartLimitInterval=1800\n"), "{out}");
        assert!(
            out.contains("RestartSec=3\nRestart=on-failure\nRestartSteps=5\n"),
            "{out}"
        );
        assert!(!out.contains("StartLimitIntervalSec") && !out.contains("StartLimitBurst"));
    }

    #[test]
    fn alias_counts_as_set() {
        let mut f = UnitFile::parse("[Unit]\nStartLimitInterval=5\n").unwrap();
        Defaults::default().apply(&mut f);
        assert!(!f.write().contains("StartLimitIntervalSec"));
    }

    /// Time spans as systemd 252 parses them (each checked with `systemd-analyze
    /// timespan`, which runs the same `parse_time`; again here when it is installed).
    #[test]
    fn timespans_like_systemd() {
        let good = [
            "2h30min",
            "1.5",
            "5 s",
            "infinity",
            "infinity ",
            "0",
            "1y",
            "3M",
            "10 ms",
            "1 2",
            "1s2",
            ".5s",
            "+5",
            " 5",
            "5 ",
            "1 min 2 s",
            "5\u{b5}s",
            "5\u{3bc}s",
            "5sec5",
        ];
        let bad = [
            "5x", "", "5.", "1e3", "\u{b5}s", "0x10", "Infinity", "1.5.3", "5secs", "-1", "+-5",
        ];
        for t in good {
            assert!(timespan(t), "{t:?}");
        }
        for t in bad {
            assert!(!timespan(t), "{t:?}");
        }
        if std::path::Path::new("/usr/bin/systemd-analyze").exists() {
            for t in good.iter().chain(&bad).filter(|t| !t.starts_with('-')) {
                let ok = std::process::Command::new("/usr/bin/systemd-analyze")
                    .args(["timespan", t])
                    .output()
                    .unwrap()
                    .status
                    .success();
                assert_eq!(ok, timespan(t), "systemd-analyze timespan {t:?}");
            }
        }
    }

    #[test]
    fn ignored_values_do_not_count_as_set() {
        let mut f = UnitFile::parse(
            "[Unit]\nStartLimitBurst=lots\n[Service]\nRestart=unless-stopped\nRestartSec=5x\nTimeoutStartSec=2min\n",
        )
        .unwrap();
        let ignored = Defaults::default().apply(&mut f);
        let out = f.write();
        assert!(
            out.contains("[Service]\nTimeoutStartSec=2min\nRestart=on-failure\nRestartSec=8\n"),
            "{out}"
        );
        assert!(out.contains("StartLimitBurst=30\n") && !out.contains("lots"));
        let lines: Vec<usize> = ignored.iter().map(|(l, _)| *l).collect();
        assert_eq!(lines, [2, 4, 5]);
        assert_eq!(
            ignored[1].1,
            "Restart: systemd ignores `unless-stopped`: Docker's `unless-stopped` is systemd's \
             `always`; Restart=on-failure applies instead"
        );
        assert!(ignored[2].1.contains("time span"), "{}", ignored[2].1);
        // Without a default, systemd's own applies.
        let d = Defaults {
            unit: Vec::new(),
            service: Vec::new(),
        };
        let mut f = UnitFile::parse("[Service]\nRestart=sometimes\n").unwrap();
        let ignored = d.apply(&mut f);
        assert_eq!(
            ignored[0].1,
            "Restart: systemd ignores `sometimes`: it takes no, on-success, on-failure, \
             on-abnormal, on-watchdog, on-abort, always; systemd's own default applies instead"
        );
    }

    #[test]
    fn a_defaults_file_with_an_ignored_value_is_an_error() {
        let dir = std::env::temp_dir().join(format!("rootlet-defaults-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("defaults.conf");
        std::fs::write(&p, "[Service]\nRestartSec=\nRestart=unless-stopped\n").unwrap();
        let e = Defaults::load(&p).unwrap_err();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(
            e.to_string().contains(":3: Restart: systemd ignores"),
            "{e}"
        );
    }
}
