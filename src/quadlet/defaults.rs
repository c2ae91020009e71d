//! The restart policy every generated service gets unless its file says otherwise.
//!
//! At boot a container may start before the network is usable and fail; systemd's own
//! defaults (no restart, or 5 starts in 10 s) turn that into "Start request repeated too
//! quickly". rootlet's defaults retry every 10 s and give up after 3 starts in 60 s:
//!
//! ```text
//! [Unit]
//! StartLimitIntervalSec=60
//! StartLimitBurst=3
//! [Service]
//! Restart=on-failure
//! RestartSec=10
//! ```
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
            unit: vec![p("StartLimitIntervalSec", "60"), p("StartLimitBurst", "3")],
            service: vec![p("Restart", "on-failure"), p("RestartSec", "10")],
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
            out.contains("[Unit]\nStartLimitBurst=9\nStartLimitIntervalSec=60\n"),
            "{out}"
        );
        assert!(out.contains("RestartSec=3\nRestart=on-failure\n"), "{out}");
        assert!(!out.contains("StartLimitBurst=3"));
    }

    #[test]
    fn alias_counts_as_set() {
        let mut f = UnitFile::parse("[Unit]\nStartLimitInterval=5\n").unwrap();
        Defaults::default().apply(&mut f);
        assert!(!f.write().contains("StartLimitIntervalSec"));
    }
}
