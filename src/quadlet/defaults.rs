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
    pub unit: Vec<(Cow<'static, str>, String)>,
    pub service: Vec<(Cow<'static, str>, String)>,
}

impl Default for Defaults {
    fn default() -> Self {
        let p = |k: &'static str, v: &str| (Cow::Borrowed(k), v.to_owned());
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

fn set(list: &mut Vec<(Cow<'static, str>, String)>, e: &Entry) {
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
                set(list, e);
            }
        }
        Ok(d)
    }

    /// Add the defaults the file does not set itself, and move `StartLimit*` keys a user
    /// wrote in `[Service]` to `[Unit]`, where systemd reads them.
    pub fn apply(&self, file: &mut UnitFile) {
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
}
