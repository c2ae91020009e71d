//! `rootlet list`: every source on the search path with its unit, its application and the
//! unit's state in the user manager (over D-Bus); for a failed unit, its result and the last
//! journal line. Without a reachable user manager the states are unknown.

use super::{unit_of, ManageError, Places};
use crate::user_manager::{self as systemd, UnitState};
use std::path::PathBuf;
use std::time::Duration;

/// One source and its unit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Entry {
    /// File name (`web.container`).
    pub name: String,
    pub unit: String,
    pub path: PathBuf,
    pub app: Option<String>,
    /// `None`: the manager could not be asked.
    pub state: Option<UnitState>,
    /// For a failed unit: its last journal line.
    pub last_log: Option<String>,
}

/// The listing, and why states are unknown if they are.
#[derive(Debug, Default)]
pub struct Listing {
    pub entries: Vec<Entry>,
    pub states_unknown: Option<String>,
}

/// `name=GLOB` filters (all must match the file name or the unit name).
pub fn parse_filter(f: &str) -> Result<String, ManageError> {
    match f.split_once('=') {
        Some(("name", glob)) => Ok(glob.to_owned()),
        _ => Err(ManageError::BadInput(format!(
            "--filter {f}: only name=GLOB is supported"
        ))),
    }
}

/// Shell-like glob: `*`, `?`, `[abc]`/`[a-z]`/`[!a]`, `\x`.
pub fn glob_match(pat: &str, s: &str) -> bool {
    let p: Vec<char> = pat.chars().collect();
    let s: Vec<char> = s.chars().collect();
    // Iterative with one backtrack point per `*` (linear-ish, no recursion blow-up).
    let (mut pi, mut si) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        let step = if pi < p.len() {
            match p[pi] {
                '*' => {
                    star = Some((pi, si));
                    pi += 1;
                    continue;
                }
                '?' => Some(pi + 1),
                '[' => class(&p, pi, s[si]),
                '\\' if pi + 1 < p.len() => (p[pi + 1] == s[si]).then_some(pi + 2),
                c => (c == s[si]).then_some(pi + 1),
            }
        } else {
            None
        };
        match step {
            Some(next) => {
                pi = next;
                si += 1;
            }
            None => match star {
                Some((sp, ss)) => {
                    pi = sp + 1;
                    si = ss + 1;
                    star = Some((sp, ss + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Match `c` against the class starting at `p[at] == '['`: the index after it if it
/// matches; an unclosed `[` is a literal.
fn class(p: &[char], at: usize, c: char) -> Option<usize> {
    let mut i = at + 1;
    let negate = i < p.len() && (p[i] == '!' || p[i] == '^');
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    while i < p.len() && (p[i] != ']' || first) {
        first = false;
        if i + 2 < p.len() && p[i + 1] == '-' && p[i + 2] != ']' {
            if p[i] <= c && c <= p[i + 2] {
                matched = true;
            }
            i += 3;
        } else {
            if p[i] == c {
                matched = true;
            }
            i += 1;
        }
    }
    if i >= p.len() {
        return (c == '[').then_some(at + 1); // no closing ']': a literal '['
    }
    (matched != negate).then_some(i + 1)
}

/// List the sources (filtered by `globs` on the file or unit name), with states unless
/// `states` is false.
pub fn list(places: &Places, globs: &[String], states: bool) -> Result<Listing, ManageError> {
    let disc = places.discover();
    let apps = places.apps()?;
    let mut out = Listing::default();
    for f in &disc.sources {
        let unit = unit_of(f);
        if !globs
            .iter()
            .all(|g| glob_match(g, &f.name) || glob_match(g, &unit))
        {
            continue;
        }
        let app = if f.path.parent() == Some(places.install_dir.as_path()) {
            apps.app_of(&f.name).map(str::to_owned)
        } else {
            None
        };
        out.entries.push(Entry {
            name: f.name.clone(),
            unit,
            path: f.path.clone(),
            app,
            state: None,
            last_log: None,
        });
    }
    if !states || out.entries.is_empty() {
        return Ok(out);
    }
    let units: Vec<String> = out.entries.iter().map(|e| e.unit.clone()).collect();
    match systemd::states(&units) {
        Ok(st) => {
            for (e, s) in out.entries.iter_mut().zip(st) {
                if s.active == "failed" {
                    e.last_log = systemd::last_log_line(&e.unit, Duration::from_secs(10));
                }
                e.state = Some(s);
            }
        }
        Err(e) => out.states_unknown = Some(e.to_string()),
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("web*", "web.container"));
        assert!(glob_match("*.container", "web.container"));
        assert!(!glob_match("*.network", "web.container"));
        assert!(glob_match("w?b.*", "web.x"));
        assert!(glob_match("[vw]eb*", "web"));
        assert!(!glob_match("[!w]eb*", "web"));
        assert!(glob_match("a[", "a["));
        assert!(glob_match("*", ""));
        assert!(!glob_match("", "a"));
        assert!(!glob_match("*a*a*a*a*b", &"a".repeat(40)));
    }
}
