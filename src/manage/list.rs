//! `rootlet list`: every source on the search path with its unit, its application and the
//! unit's state in the user manager (over D-Bus); for a failed unit or one waiting to be
//! restarted, its result and the last journal line; for a source that yields no unit, its
//! `file:line` error. Without a reachable user manager the states are unknown.
//!
//! A socket-activated source also shows its sockets (its own `[Socket]`'s, or `.socket`
//! files that activate its unit) and, in proxy mode, the proxy's service; a service whose
//! socket listens while it is inactive is `idle`, not stopped: the next connection starts
//! it ([`Entry::idle`]).
//!
//! The filters (`--filter`) are in `filter.rs`, why a unit failed (its journal) in
//! `reason.rs`.

use super::{socket_files, Held, Made, ManageError, Places};
use crate::user_manager::{self as systemd, UnitState};
use std::os::fd::AsFd;
use std::path::PathBuf;

mod filter;
mod reason;
pub use filter::{glob_match, parse_filter, Filter};
use reason::why;
pub use reason::{first_error, reason};

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
    /// For a unit that is failed or waiting to be restarted: its last journal line.
    pub last_log: Option<String>,
    /// For a source that yields no unit: why, `file:line: message`.
    pub error: Option<String>,
    /// The sockets that start the unit: the one its own `[Socket]` makes, and `.socket`
    /// files that activate it (by name or `Service=`), by name.
    pub sockets: Vec<Part>,
    /// Proxy mode (`ProxyTo=`): the proxy's service between the socket and the container.
    pub proxy: Option<Part>,
}

/// A unit that comes with a source's own (its socket, its proxy), and its state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Part {
    pub unit: String,
    /// `None`: the manager could not be asked.
    pub state: Option<UnitState>,
    /// For a unit that failed or waits to be restarted: why (as [`Entry::last_log`]).
    pub last_log: Option<String>,
}

impl Entry {
    /// Socket-activated and waiting for its first connection: a socket listens, the unit
    /// (and its proxy) is inactive. Not stopped, not broken: the next connection starts it.
    pub fn idle(&self) -> bool {
        let inactive = |s: &Option<UnitState>| s.as_ref().is_some_and(|s| s.active == "inactive");
        inactive(&self.state)
            && self.proxy.as_ref().map_or(true, |p| inactive(&p.state))
            && self.sockets.iter().any(|s| listening(&s.state))
    }

    /// The unit's state as `list` shows it: `idle` ([`Entry::idle`]), else
    /// [`state_text`].
    pub fn status(&self) -> String {
        if self.idle() {
            "idle".into()
        } else {
            state_text(&self.state)
        }
    }

    /// The proxy's state as `list` shows it: `idle` with the entry, else [`state_text`].
    pub fn proxy_status(&self) -> Option<String> {
        let p = self.proxy.as_ref()?;
        Some(if self.idle() {
            "idle".into()
        } else {
            state_text(&p.state)
        })
    }

    /// The sockets and the proxy, each `UNIT STATE` (`web.socket listening`), joined by
    /// `, `; `-` without any.
    pub fn socket_text(&self) -> String {
        let mut parts: Vec<String> = (self.sockets.iter())
            .map(|s| format!("{} {}", s.unit, socket_state_text(&s.state)))
            .collect();
        if let (Some(p), Some(st)) = (&self.proxy, self.proxy_status()) {
            parts.push(format!("{} {st}", p.unit));
        }
        if parts.is_empty() {
            "-".into()
        } else {
            parts.join(", ")
        }
    }

    /// Every unit of the entry: its own, its sockets, its proxy.
    fn units(&self) -> impl Iterator<Item = &str> {
        (std::iter::once(self.unit.as_str()))
            .chain(self.sockets.iter().map(|s| s.unit.as_str()))
            .chain(self.proxy.iter().map(|p| p.unit.as_str()))
    }
}

/// A socket that listens: active (`listening`, or `running` while its service has its
/// file descriptors; the socket is bound all the same).
pub fn listening(s: &Option<UnitState>) -> bool {
    s.as_ref().is_some_and(|s| s.active == "active")
}

/// A unit's state for people: `ACTIVE/SUB`, `failed (RESULT)`, `not loaded` when the
/// manager does not know it, `unknown` when it could not be asked.
pub fn state_text(s: &Option<UnitState>) -> String {
    match s {
        None => "unknown".into(),
        Some(s) if s.load == "not-found" => "not loaded".into(),
        Some(s) if s.active == "failed" && !s.result.is_empty() => {
            format!("failed ({})", s.result)
        }
        Some(s) => format!("{}/{}", s.active, s.sub),
    }
}

/// A socket's state for people: `listening` ([`listening`]), else [`state_text`].
pub fn socket_state_text(s: &Option<UnitState>) -> String {
    if listening(s) {
        "listening".into()
    } else {
        state_text(s)
    }
}

/// The listing, and why states are unknown if they are.
#[derive(Debug, Default)]
pub struct Listing {
    pub entries: Vec<Entry>,
    pub states_unknown: Option<String>,
}

/// List the sources (filtered by `filters`, all must match), with states unless `states`
/// is false; with `opts`, the sources are translated too, and one that yields no unit of
/// its own says why.
pub fn list(
    places: &Places,
    filters: &[Filter],
    states: bool,
    opts: Option<&crate::generator::Options>,
) -> Result<Listing, ManageError> {
    let mut out = Listing {
        entries: entries(places, filters)?,
        ..Listing::default()
    };
    if out.entries.is_empty() {
        return Ok(out);
    }
    if let Some(opts) = opts {
        let run = crate::generator::run(opts);
        for e in &mut out.entries {
            // The source's own error, the first by line (a unit of its name may still be
            // there: another source's, which won a clash).
            let mut errs: Vec<_> = run.errors.iter().filter(|x| x.path == e.path).collect();
            errs.sort_by_key(|x| x.line);
            e.error = errs.first().map(|x| x.to_string());
        }
    }
    if states {
        ask_states(&mut out);
    }
    Ok(out)
}

/// The sources of the search path that match every one of `filters`, each with the units
/// it makes (its sockets: its own `[Socket]`'s and the `.socket` files that activate it)
/// and its application; no state yet.
fn entries(places: &Places, filters: &[Filter]) -> Result<Vec<Entry>, ManageError> {
    let disc = places.discover();
    let apps = places.apps()?;
    let install_fd = crate::fsutil::open_dir(&places.install_dir).ok();
    let mut out = Vec::new();
    // The `.socket` files' units, each with the service it activates.
    let socket_sockets: Vec<(String, String)> = (socket_files(&disc).into_iter())
        .map(|(f, service)| (Made::of_found(f, &disc).unit, service))
        .collect();
    for f in &disc.sources {
        // An application's file only while it is still what `add` wrote.
        let app = match (apps.member(&f.name), &install_fd) {
            (Some((a, m)), Some(fd))
                if f.path.parent() == Some(places.install_dir.as_path())
                    && m.state_in(fd.as_fd()) == Held::Written =>
            {
                Some(a.to_owned())
            }
            _ => None,
        };
        let made = Made::of_found(f, &disc);
        let part = |unit: &String| Part {
            unit: unit.clone(),
            ..Part::default()
        };
        let mut sockets: Vec<Part> = made.socket.iter().map(part).collect();
        sockets.extend(
            (socket_sockets.iter())
                .filter(|(_, service)| *service == made.unit)
                .map(|(s, _)| part(s)),
        );
        sockets.sort_by(|a, b| a.unit.cmp(&b.unit));
        sockets.dedup();
        let e = Entry {
            name: f.name.clone(),
            unit: made.unit.clone(),
            path: f.path.clone(),
            app,
            sockets,
            proxy: made.proxy.as_ref().map(part),
            ..Entry::default()
        };
        if filters.iter().all(|x| x.matches(&e)) {
            out.push(e);
        }
    }
    Ok(out)
}

/// The states of every unit of every entry, asked in one round of calls, each under the
/// client's deadline, and for a unit that failed, why; without an answer, why not
/// ([`Listing::states_unknown`]).
fn ask_states(out: &mut Listing) {
    let units: Vec<String> = (out.entries.iter())
        .flat_map(|e| e.units().map(str::to_owned).collect::<Vec<_>>())
        .collect();
    match systemd::states(&units) {
        Ok(st) => {
            let mut st = st.into_iter();
            for e in &mut out.entries {
                e.state = st.next();
                e.last_log = e.state.as_ref().and_then(|s| why(&e.unit, s));
                for p in e.sockets.iter_mut().chain(e.proxy.as_mut()) {
                    p.state = st.next();
                    p.last_log = p.state.as_ref().and_then(|s| why(&p.unit, s));
                }
            }
        }
        Err(e) => out.states_unknown = Some(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(active: &str, sub: &str) -> Option<UnitState> {
        Some(UnitState {
            load: "loaded".into(),
            active: active.into(),
            sub: sub.into(),
            result: "success".into(),
        })
    }

    fn part(unit: &str, state: Option<UnitState>) -> Part {
        Part {
            unit: unit.into(),
            state,
            last_log: None,
        }
    }

    /// Issue 26: a socket-activated unit that waits for its first connection is `idle`
    /// (not `inactive/dead`, which reads as stopped or broken); running once connected;
    /// neither when the socket does not listen or its state is unknown.
    #[test]
    fn idle_is_a_listening_socket_and_an_inactive_service() {
        let mut e = Entry {
            unit: "web.service".into(),
            state: st("inactive", "dead"),
            sockets: vec![part("web.socket", st("active", "listening"))],
            proxy: Some(part("web-proxy.service", st("inactive", "dead"))),
            ..Entry::default()
        };
        assert!(e.idle());
        assert_eq!(e.status(), "idle");
        assert_eq!(
            e.socket_text(),
            "web.socket listening, web-proxy.service idle"
        );
        // Connected: the proxy and the container run; the socket still listens.
        e.state = st("active", "running");
        e.proxy = Some(part("web-proxy.service", st("active", "running")));
        e.sockets[0].state = st("active", "running");
        assert!(!e.idle());
        assert_eq!(e.status(), "active/running");
        assert_eq!(
            e.socket_text(),
            "web.socket listening, web-proxy.service active/running"
        );
        // The socket stopped: the service is just inactive.
        e.state = st("inactive", "dead");
        e.proxy = None;
        e.sockets[0].state = st("inactive", "dead");
        assert!(!e.idle());
        assert_eq!(e.status(), "inactive/dead");
        assert_eq!(e.socket_text(), "web.socket inactive/dead");
        // A socket that failed to listen.
        e.sockets[0].state = Some(UnitState {
            result: "resources".into(),
            ..st("failed", "failed").unwrap_or_default()
        });
        assert_eq!(e.socket_text(), "web.socket failed (resources)");
        // Failed service behind a listening socket: failed, not idle.
        e.sockets[0].state = st("active", "listening");
        e.state = st("failed", "failed");
        assert!(!e.idle());
        // No manager: unknown, not idle.
        e.state = None;
        e.sockets[0].state = None;
        assert!(!e.idle());
        assert_eq!(e.socket_text(), "web.socket unknown");
        // No socket at all.
        e.sockets.clear();
        e.state = st("inactive", "dead");
        assert!(!e.idle());
        assert_eq!(e.socket_text(), "-");
    }
}
