//! The one client of the user manager, for every command (`add`, `rm`, `list`, `doctor`,
//! `install`, `docker`): over the user's D-Bus session bus (zbus, no tokio) for unit
//! states, start, stop and reload; `systemctl --user` (through [`crate::proc`]) where
//! install and uninstall want its `enable`/`start --no-block`; `journalctl` for a unit's
//! last line.
//!
//! Nothing here waits without a deadline: connecting (a bus whose listener does not
//! accept blocks a plain `connect()` forever, audit N5) is bounded by [`connect_unix`];
//! every D-Bus operation runs on a thread of its own that the caller gives up at its
//! deadline; every program runs under [`crate::proc::run`]. Nothing in a reply is trusted:
//! a reply's and a property's type are checked before any conversion ([`typed`]), so a
//! wrong one is an error, never a panic inside zbus (audit N10).

use std::os::unix::net::UnixStream;
use std::sync::mpsc;
use std::time::{Duration, Instant};
use zbus::{Connection, OwnedObjectPath, OwnedVariant};

mod op;
mod programs;
pub use op::{shell_word, shown_all, Op, Verb};
pub(crate) use programs::journal;
pub use programs::{is_active, last_log_line, systemctl, SystemctlError, SYSTEMCTL_TIMEOUT};
#[cfg(test)]
pub(crate) use programs::{journal_with, systemctl_with};

const SD: &str = "org.freedesktop.systemd1";
const SD_PATH: &str = "/org/freedesktop/systemd1";
const MANAGER: &str = "org.freedesktop.systemd1.Manager";
const UNIT: &str = "org.freedesktop.systemd1.Unit";
const PROPS: &str = "org.freedesktop.DBus.Properties";

/// Why the user manager could not be asked, or did not do what was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("user manager: {0}")]
pub struct Error(pub String);

/// A unit's state as the manager reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnitState {
    /// `loaded`, `not-found`, `error`, ...
    pub load: String,
    /// `active`, `inactive`, `failed`, `activating`, ...
    pub active: String,
    /// `running`, `dead`, `failed`, `listening`, ...
    pub sub: String,
    /// The service's or socket's `Result` (`success`, `exit-code`, ...), empty for other types.
    pub result: String,
}

impl UnitState {
    /// Running or on its way up or down: what `rm` refuses to remove without `--force`.
    pub fn is_running(&self) -> bool {
        matches!(
            self.active.as_str(),
            "active" | "activating" | "deactivating" | "reloading" | "refreshing"
        )
    }
}

/// How long one call to the manager may take (connect and answer).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(25);

/// Run `make()`'s future on a thread of its own; give up after `deadline`.
fn on_thread<T, F, Fut>(deadline: Duration, make: F) -> Result<T, Error>
where
    T: Send + 'static,
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("dbus".into())
        .spawn(move || {
            let _ = tx.send(zbus::block_on(make()));
        })
        .map_err(|e| Error(format!("cannot start a thread: {e}")))?;
    match rx.recv_timeout(deadline) {
        Ok(r) => r.map_err(Error),
        Err(mpsc::RecvTimeoutError::Timeout) => {
            Err(Error(format!("no answer within {} s", deadline.as_secs())))
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => Err(Error("the D-Bus thread failed".into())),
    }
}

/// How long connecting to a socket may take. A listener that does not accept (a hung
/// `dbus-daemon`, a frozen manager) leaves `connect()` waiting while its queue is full.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Connect to the Unix socket at `addr`, waiting at most `timeout` for the listener to
/// take the connection (`SO_SNDTIMEO` bounds a blocking Unix `connect()` on Linux).
pub fn connect_unix(
    addr: &rustix::net::SocketAddrUnix,
    timeout: Duration,
) -> std::io::Result<UnixStream> {
    connect_unix_with(addr, timeout, |_| Ok(()))
}

/// [`connect_unix`], with `on_socket` called on the socket before it connects (to keep a
/// duplicate that can shut it down).
pub fn connect_unix_with(
    addr: &rustix::net::SocketAddrUnix,
    timeout: Duration,
    on_socket: impl FnOnce(&std::os::fd::OwnedFd) -> std::io::Result<()>,
) -> std::io::Result<UnixStream> {
    use rustix::net::{sockopt, AddressFamily, SocketFlags, SocketType};
    let fd = rustix::net::socket_with(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::CLOEXEC,
        None,
    )?;
    on_socket(&fd)?;
    sockopt::set_socket_timeout(&fd, sockopt::Timeout::Send, Some(timeout))?;
    match rustix::net::connect(&fd, addr) {
        Ok(()) => {}
        // The listener's queue stayed full for all of `timeout`.
        Err(rustix::io::Errno::AGAIN) | Err(rustix::io::Errno::INPROGRESS) => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!(
                    "does not accept connections (none within {} s)",
                    timeout.as_secs()
                ),
            ))
        }
        Err(e) => return Err(e.into()),
    }
    sockopt::set_socket_timeout(&fd, sockopt::Timeout::Send, None)?;
    Ok(UnixStream::from(fd))
}

/// The session bus's socket connected by us (bounded, [`connect_unix`]) when it is a Unix
/// socket; zbus connects to other transports itself (still within the caller's deadline).
async fn connect(client: &Client) -> Result<Connection, String> {
    use zbus::address::transport::{Transport, UnixSocket};
    let what = |e: &dyn std::fmt::Display| format!("cannot connect to the session bus: {e}");
    let address = match &client.address {
        Some(a) => a.parse::<zbus::Address>(),
        None => zbus::Address::session(),
    }
    .map_err(|e| what(&e))?;
    let addr = match address.transport() {
        Transport::Unix(unix) => match unix.path() {
            UnixSocket::File(p) => Some(rustix::net::SocketAddrUnix::new(p.as_path())),
            UnixSocket::Abstract(name) => Some(rustix::net::SocketAddrUnix::new_abstract_name(
                std::os::unix::ffi::OsStrExt::as_bytes(name.as_os_str()),
            )),
            _ => None,
        },
        _ => None,
    };
    let builder = match addr {
        Some(addr) => {
            let addr = addr.map_err(|e| what(&e))?;
            let stream =
                connect_unix(&addr, CONNECT_TIMEOUT.min(client.timeout)).map_err(|e| what(&e))?;
            zbus::connection::Builder::unix_stream(stream)
        }
        None => zbus::connection::Builder::session(),
    };
    builder
        .method_timeout(client.timeout)
        .build()
        .await
        .map_err(|e| what(&e))
}

/// Every value read from a bus reply, typed defensively: its signature is checked before
/// it is converted (zbus panics converting a structure of another shape, audit N10), and a
/// wrong one is an error naming what came. `wait::dbus` reads the system manager through
/// these too.
pub mod typed {
    use zbus::{OwnedObjectPath, OwnedVariant};

    /// A signature as text, clipped (a hostile one can be 255 bytes of nesting).
    fn sig(s: &zbus::Signature) -> String {
        super::one_line(&s.to_string(), 64)
    }

    /// A reply body's signature must be `want` (and the body at most `max` bytes).
    pub fn check_body(body: &zbus::message::Body, want: &str, max: usize) -> Result<(), String> {
        if body.len() > max {
            return Err(format!("a reply of {} bytes", body.len()));
        }
        if body.signature().to_string() != want {
            return Err(format!(
                "a reply of type `{}`, not `{want}`",
                sig(body.signature())
            ));
        }
        Ok(())
    }

    /// A string property (`s`).
    pub fn string(prop: &str, v: OwnedVariant) -> Result<String, String> {
        let s = sig(v.value_signature());
        if s != "s" {
            return Err(format!("{prop} has type `{s}`, not `s`"));
        }
        String::try_from(v).map_err(|e| format!("{prop}: {e}"))
    }

    /// The `Job` property of a unit (`(uo)`): the job's id, 0 for none.
    pub fn job_id(v: OwnedVariant) -> Result<u32, String> {
        let s = sig(v.value_signature());
        if s != "(uo)" {
            return Err(format!("Job has type `{s}`, not `(uo)`"));
        }
        // The signature is checked: this conversion cannot meet a structure of another shape.
        let (id, _path) = <(u32, OwnedObjectPath)>::try_from(v).map_err(|e| format!("Job: {e}"))?;
        Ok(id)
    }
}

/// At most `max` characters of a text from elsewhere (a bus, a program's stderr), on one
/// line: control characters become spaces.
fn one_line(s: &str, max: usize) -> String {
    s.chars()
        .take(max)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// The largest reply read (systemd's are a few dozen bytes).
const MAX_REPLY: usize = 64 * 1024;

async fn get(
    conn: &Connection,
    path: &str,
    iface: &str,
    prop: &str,
) -> Result<OwnedVariant, String> {
    let reply = conn
        .call_method(Some(SD), path, Some(PROPS), "Get", &(iface, prop))
        .await
        .map_err(|e| format!("reading {prop}: {e}"))?;
    let body = reply.body();
    typed::check_body(&body, "v", MAX_REPLY).map_err(|e| format!("reading {prop}: {e}"))?;
    body.deserialize::<OwnedVariant>()
        .map_err(|e| format!("reading {prop}: {e}"))
}

async fn get_string(
    conn: &Connection,
    path: &str,
    iface: &str,
    prop: &str,
) -> Result<String, String> {
    typed::string(prop, get(conn, path, iface, prop).await?)
}

async fn unit_path(conn: &Connection, unit: &str) -> Result<String, String> {
    let reply = conn
        .call_method(Some(SD), SD_PATH, Some(MANAGER), "LoadUnit", &(unit,))
        .await
        .map_err(|e| format!("LoadUnit({unit}): {e}"))?;
    let body = reply.body();
    typed::check_body(&body, "o", MAX_REPLY).map_err(|e| format!("LoadUnit({unit}): {e}"))?;
    let p: OwnedObjectPath = body
        .deserialize()
        .map_err(|e| format!("LoadUnit({unit}): {e}"))?;
    Ok(p.as_str().to_owned())
}

async fn state(conn: &Connection, unit: &str) -> Result<UnitState, String> {
    let path = unit_path(conn, unit).await?;
    let mut s = UnitState {
        load: get_string(conn, &path, UNIT, "LoadState").await?,
        active: get_string(conn, &path, UNIT, "ActiveState").await?,
        sub: get_string(conn, &path, UNIT, "SubState").await?,
        result: String::new(),
    };
    let iface = match unit.rsplit_once('.').map(|(_, t)| t) {
        Some("service") => Some("org.freedesktop.systemd1.Service"),
        Some("socket") => Some("org.freedesktop.systemd1.Socket"),
        _ => None,
    };
    if let (Some(iface), "loaded") = (iface, s.load.as_str()) {
        s.result = get_string(conn, &path, iface, "Result")
            .await
            .unwrap_or_default();
    }
    Ok(s)
}

async fn has_job(conn: &Connection, path: &str) -> Result<bool, String> {
    Ok(typed::job_id(get(conn, path, UNIT, "Job").await?)? != 0)
}

/// Where the user manager is asked, and how long one call may take. The functions below
/// ask the session bus ([`Client::session`]); a client of another address is for tests.
#[derive(Debug, Clone)]
pub struct Client {
    /// A D-Bus address; `None`: the session bus (`$DBUS_SESSION_BUS_ADDRESS`, else
    /// `$XDG_RUNTIME_DIR/bus`).
    address: Option<String>,
    /// One call's limit, connecting included ([`CALL_TIMEOUT`]).
    timeout: Duration,
}

impl Client {
    /// The user's session bus, [`CALL_TIMEOUT`] per call.
    pub fn session() -> Client {
        Client {
            address: None,
            timeout: CALL_TIMEOUT,
        }
    }

    /// The bus at `address` (`unix:path=...`), `timeout` per call.
    pub fn at(address: &str, timeout: Duration) -> Client {
        Client {
            address: Some(address.to_owned()),
            timeout,
        }
    }

    /// Whether the user manager can be asked at all (the bus is there and answers).
    pub fn reachable(&self) -> bool {
        let c = self.clone();
        on_thread(self.timeout, move || async move {
            let conn = connect(&c).await?;
            conn.call_method(Some(SD), SD_PATH, Some(PROPS), "Get", &(MANAGER, "Version"))
                .await
                .map_err(|e| e.to_string())?;
            Ok(())
        })
        .is_ok()
    }

    /// The states of `units`, in order (one connection for all).
    pub fn states(&self, units: &[String]) -> Result<Vec<UnitState>, Error> {
        let units = units.to_vec();
        let deadline = self.timeout + Duration::from_millis(50 * units.len() as u64);
        let c = self.clone();
        on_thread(deadline, move || async move {
            let conn = connect(&c).await?;
            let mut v = Vec::with_capacity(units.len());
            for u in &units {
                v.push(state(&conn, u).await?);
            }
            Ok(v)
        })
    }

    /// `Manager.Reload()` (what `systemctl --user daemon-reload` does): generators run
    /// again.
    pub fn reload(&self) -> Result<(), Error> {
        self.run(&Op::reload())
    }

    /// `ResetFailedUnit(unit)`: forget a failed unit's state (after its source is removed).
    pub fn reset_failed(&self, unit: &str) -> Result<(), Error> {
        self.run(&Op::new(Verb::ResetFailed, [unit]))
    }

    /// Carry out `op` over the bus, its units in order, without waiting for the jobs it
    /// queues ([`Client::start`] and [`Client::stop`] wait). A verb only `systemctl` has
    /// is an error saying what to run. On an error, `op.shown()` is what the user runs by
    /// hand: the same request.
    pub fn run(&self, op: &Op) -> Result<(), Error> {
        let Some(method) = op.verb.method() else {
            return Err(Error(format!("`{}` is not asked over the bus", op.shown())));
        };
        let op = op.clone();
        let c = self.clone();
        let deadline = self.timeout + Duration::from_secs(5);
        on_thread(deadline, move || async move {
            let conn = connect(&c).await?;
            if op.units.is_empty() {
                conn.call_method(Some(SD), SD_PATH, Some(MANAGER), method, &())
                    .await
                    .map_err(|e| format!("{method}: {e}"))?;
            }
            for u in &op.units {
                let reply = if op.verb == Verb::ResetFailed {
                    conn.call_method(Some(SD), SD_PATH, Some(MANAGER), method, &(u.as_str(),))
                        .await
                } else {
                    conn.call_method(
                        Some(SD),
                        SD_PATH,
                        Some(MANAGER),
                        method,
                        &(u.as_str(), "replace"),
                    )
                    .await
                };
                reply.map_err(|e| format!("{method}({u}): {e}"))?;
            }
            Ok(())
        })
    }

    /// Queue `verb`'s method (`StartUnit`, `StopUnit`) for `unit` and wait, polling every 100 ms,
    /// until its job is done and the unit has settled (not activating, e.g. waiting to be
    /// restarted, nor deactivating), or `wait` has passed; returns the state then.
    fn job(&self, verb: Verb, unit: &str, wait: Duration) -> Result<UnitState, Error> {
        let Some(method) = verb.method() else {
            return Err(Error(format!("{verb:?} is no job")));
        };
        let unit = unit.to_owned();
        let c = self.clone();
        on_thread(wait + self.timeout, move || async move {
            let conn = connect(&c).await?;
            conn.call_method(
                Some(SD),
                SD_PATH,
                Some(MANAGER),
                method,
                &(unit.as_str(), "replace"),
            )
            .await
            .map_err(|e| format!("{method}({unit}): {e}"))?;
            let path = unit_path(&conn, &unit).await?;
            let until = Instant::now() + wait;
            loop {
                let settled = !has_job(&conn, &path).await?
                    && !matches!(
                        get_string(&conn, &path, UNIT, "ActiveState")
                            .await?
                            .as_str(),
                        "activating" | "deactivating" | "reloading" | "refreshing"
                    );
                if settled || Instant::now() >= until {
                    return state(&conn, &unit).await;
                }
                // The connection is read again on the next call; nothing is lost meanwhile.
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    }

    /// Start `unit`, wait for the start job (at most `wait`).
    pub fn start(&self, unit: &str, wait: Duration) -> Result<UnitState, Error> {
        self.job(Verb::Start, unit, wait)
    }

    /// Stop `unit`, wait for the stop job (at most `wait`).
    pub fn stop(&self, unit: &str, wait: Duration) -> Result<UnitState, Error> {
        self.job(Verb::Stop, unit, wait)
    }
}

/// [`Client::reachable`] of the session bus.
pub fn reachable() -> bool {
    Client::session().reachable()
}

/// [`Client::states`] of the session bus.
pub fn states(units: &[String]) -> Result<Vec<UnitState>, Error> {
    Client::session().states(units)
}

/// [`Client::reload`] of the session bus.
pub fn reload() -> Result<(), Error> {
    Client::session().reload()
}

/// [`Client::run`] of the session bus.
pub fn run(op: &Op) -> Result<(), Error> {
    Client::session().run(op)
}

/// [`Client::reset_failed`] of the session bus.
pub fn reset_failed(unit: &str) -> Result<(), Error> {
    Client::session().reset_failed(unit)
}

/// [`Client::start`] of the session bus.
pub fn start(unit: &str, wait: Duration) -> Result<UnitState, Error> {
    Client::session().start(unit, wait)
}

/// [`Client::stop`] of the session bus.
pub fn stop(unit: &str, wait: Duration) -> Result<UnitState, Error> {
    Client::session().stop(unit, wait)
}

/// [`start`] or [`stop`] for several units at once (each on its own thread, so that slow
/// ones do not add up); results in order.
pub fn all(
    f: fn(&str, Duration) -> Result<UnitState, Error>,
    units: &[String],
    wait: Duration,
) -> Vec<Result<UnitState, Error>> {
    std::thread::scope(|s| {
        let handles: Vec<_> = units.iter().map(|u| s.spawn(move || f(u, wait))).collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(Error("a D-Bus thread failed".into())))
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Audit N10: a property of the wrong type is an error naming it, never a panic
    /// (`wait::dbus`'s tests cover more shapes through the same functions).
    #[test]
    fn properties_of_the_wrong_type_are_errors() {
        use zbus::{ObjectPath, Structure, Variant};
        let owned = |v: Variant<'static>| OwnedVariant::try_from(v).unwrap();
        let u_only = owned(Variant::from(Structure::from((7u32,))));
        assert_eq!(
            typed::job_id(u_only).unwrap_err(),
            "Job has type `(u)`, not `(uo)`"
        );
        assert!(typed::string("ActiveState", owned(Variant::from(7u32))).is_err());
        assert_eq!(
            typed::string("ActiveState", owned(Variant::from("active"))).unwrap(),
            "active"
        );
        let job = Structure::from((7u32, ObjectPath::try_from("/j").unwrap()));
        assert_eq!(typed::job_id(owned(Variant::from(job))).unwrap(), 7);
    }
}
