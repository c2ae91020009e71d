//! The daemon's unit as the user manager would load it: found on the user unit search
//! path, its drop-ins read in systemd's order, its `ExecStart=` split.

use super::{io_err, DockerError, DROPIN, MAX_UNIT};
use crate::env::UserEnv;
use crate::exec;
use crate::fsutil;
use crate::unit::UnitFile;
use std::path::{Path, PathBuf};

/// The daemon's unit as systemd would load it: the fragment found first on the user unit
/// search path, then its drop-ins (rootlet's own left out) in systemd's order.
#[derive(Debug, Clone)]
pub struct DaemonUnit {
    pub name: String,
    pub fragment: PathBuf,
    pub dropins: Vec<PathBuf>,
    /// rootlet's own drop-in ([`DROPIN`]), where systemd would read it from.
    pub rootlet_dropin: Option<PathBuf>,
    /// `Environment=` assignments in effect, `KEY=VALUE` each, in order.
    pub environment: Vec<String>,
    /// `ExecStart=` lines in effect (an empty assignment resets the list), as written.
    pub exec_start: Vec<String>,
    pub unit_type: Option<String>,
    pub restart: Option<String>,
    pub syslog_identifier: Option<String>,
    /// The unit sets its start timeout (`TimeoutSec=`/`TimeoutStartSec=`; Docker's setup
    /// tool writes `TimeoutSec=0`, none).
    pub start_timeout_set: bool,
}

fn read_unit(path: &Path) -> Result<UnitFile, DockerError> {
    let mut buf = Vec::new();
    fsutil::read_regular(path, MAX_UNIT, &mut buf).map_err(io_err(path))?;
    UnitFile::parse_bytes(&buf).map_err(|e| DockerError::Unit {
        path: path.to_owned(),
        message: format!("line {}: {}", e.line(), e.message()),
    })
}

/// Find `name` (normally `docker.service`) as the user manager would.
pub fn find(env: &UserEnv, name: &str) -> Result<DaemonUnit, DockerError> {
    find_in(&env.unit_search_path(|d| PathBuf::from(d)), name)
}

/// [`find`] on the given unit search path, highest precedence first.
pub fn find_in(dirs: &[PathBuf], name: &str) -> Result<DaemonUnit, DockerError> {
    let fragment = dirs
        .iter()
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .ok_or_else(|| DockerError::NotFound {
            unit: name.to_owned(),
            searched: dirs
                .iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        })?;
    // Drop-ins: the first directory that has a file of a name wins; applied sorted by name.
    let mut by_name: std::collections::BTreeMap<String, PathBuf> = Default::default();
    let mut rootlet_dropin = None;
    for d in dirs {
        let dd = d.join(format!("{name}.d"));
        let Ok(rd) = std::fs::read_dir(&dd) else {
            continue;
        };
        for e in rd.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if n == DROPIN {
                rootlet_dropin.get_or_insert_with(|| e.path());
            } else if n.ends_with(".conf") {
                by_name.entry(n).or_insert_with(|| e.path());
            }
        }
    }
    let dropins: Vec<PathBuf> = by_name.into_values().collect();
    let mut unit = DaemonUnit {
        name: name.to_owned(),
        fragment: fragment.clone(),
        dropins: dropins.clone(),
        rootlet_dropin,
        environment: Vec::new(),
        exec_start: Vec::new(),
        unit_type: None,
        restart: None,
        syslog_identifier: None,
        start_timeout_set: false,
    };
    for p in std::iter::once(&fragment).chain(dropins.iter()) {
        let f = read_unit(p)?;
        let Some(s) = f.section("Service") else {
            continue;
        };
        for e in &s.entries {
            match &*e.key {
                "Environment" if e.value.is_empty() => unit.environment.clear(),
                "ExecStart" if e.value.is_empty() => unit.exec_start.clear(),
                "ExecStart" => unit.exec_start.push(e.value.to_string()),
                "Type" => unit.unit_type = Some(e.value.to_string()),
                "Restart" => unit.restart = Some(e.value.to_string()),
                "SyslogIdentifier" => unit.syslog_identifier = Some(e.value.to_string()),
                "TimeoutSec" | "TimeoutStartSec" => unit.start_timeout_set = true,
                "Environment" => match exec::split(&e.value) {
                    Ok(words) => unit.environment.extend(words),
                    Err(_) => unit.environment.push(e.value.to_string()),
                },
                _ => {}
            }
        }
    }
    Ok(unit)
}

impl DaemonUnit {
    /// The last value of `KEY` in the unit's `Environment=`.
    pub fn env(&self, key: &str) -> Option<&str> {
        self.environment
            .iter()
            .rev()
            .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
    }

    /// The program of the `ExecStart=` in effect (the last one), unquoted.
    pub fn program(&self) -> Option<String> {
        split_exec(self.exec_start.last()?).map(|(_, p, _)| p)
    }
}

/// `(prefix, program, rest)` of an `ExecStart=` value: systemd's prefixes (`-@:+!`),
/// the program word unquoted, and the rest of the line exactly as written (the user's
/// quoting and `$VAR`s kept).
pub(super) fn split_exec(line: &str) -> Option<(&str, String, &str)> {
    let body = line.trim_start_matches(['-', '@', ':', '+', '!']);
    let prefix = &line[..line.len() - body.len()];
    let body = body.trim_start_matches([' ', '\t']);
    // The first word ends at the first space or tab outside quotes and escapes.
    let (mut quote, mut escaped, mut end) = (None, false, body.len());
    for (i, c) in body.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' | '\'' if quote.is_none() => quote = Some(c),
            _ if quote == Some(c) => quote = None,
            ' ' | '\t' if quote.is_none() => {
                end = i;
                break;
            }
            _ => {}
        }
    }
    let program = exec::split(&body[..end]).ok()?.into_iter().next()?;
    Some((prefix, program, &body[end..]))
}
