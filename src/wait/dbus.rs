//! The system manager over D-Bus: `Subscribe()` (or systemd sends no unit signals),
//! `LoadUnit` (not `GetUnit`: that fails for a unit nothing loaded), the unit's
//! `ActiveState` and `Job`, the manager's `SystemState`; then sleep on the unit's
//! `PropertiesChanged`, the manager's `StartupFinished` and the bus name's owner changes.
//! No polling: every read follows a signal.
//!
//! The bus is not trusted to behave. Before each exchange the thread reports the [`Step`]
//! it starts, and the waiting loop gives every step [`STEP_TIMEOUT`]: a bus that accepts
//! the connection and then says nothing (or answers `Hello` but not `Subscribe`) is given
//! up after a few seconds, not after `--timeout`, and [`Cancel`] shuts the socket down so
//! that nothing keeps reading from it. Every reply has its signature checked before it is
//! converted (a wrong one is a [`DbusError::Malformed`], never a panic inside zbus), and
//! the states must be short names: an absurd reply is refused, not logged.

use super::clip;
use super::state::Observed;
use crate::user_manager::typed;
use std::fmt;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use zbus::{Connection, MessageStream, OwnedObjectPath, OwnedVariant};

const SD: &str = "org.freedesktop.systemd1";
const SD_PATH: &str = "/org/freedesktop/systemd1";
const MANAGER: &str = "org.freedesktop.systemd1.Manager";
const UNIT: &str = "org.freedesktop.systemd1.Unit";
const PROPS: &str = "org.freedesktop.DBus.Properties";
const BUS: &str = "org.freedesktop.DBus";

/// How long one exchange with the bus (connecting and authenticating, one method call)
/// may take before the bus counts as lost. Far below the default `--timeout` of 90 s;
/// systemd answers these calls in milliseconds even while booting.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a whole reading may take: connecting and the first three properties, or the
/// three properties read again after a signal. A bus that answers every call just before
/// [`STEP_TIMEOUT`] is given up after this, not after nine steps.
pub const READING_TIMEOUT: Duration = Duration::from_secs(12);
/// The longest state name accepted (systemd's longest is `deactivating`, 12 bytes).
const MAX_STATE: usize = 32;
/// The longest unit object path accepted (systemd's are a few dozen bytes).
const MAX_PATH: usize = 1024;
/// The largest reply read (a property of systemd's is a few dozen bytes).
const MAX_REPLY: usize = 64 * 1024;
/// How much of a text that comes from the bus (an error message) is kept.
const MAX_TEXT: usize = 256;

/// One exchange with the bus, reported before it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Connecting, authenticating and `Hello`.
    Connect,
    Subscribe,
    LoadUnit,
    AddMatch,
    /// `Properties.Get` of this property.
    Read(&'static str),
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Connect => f.write_str("connecting to the system bus"),
            Step::Subscribe => f.write_str("Manager.Subscribe"),
            Step::LoadUnit => f.write_str("Manager.LoadUnit"),
            Step::AddMatch => f.write_str("subscribing to signals"),
            Step::Read(p) => write!(f, "reading {p}"),
        }
    }
}

/// Why the bus cannot be used. Texts from the bus are clipped to a few hundred bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DbusError {
    #[error("cannot connect to the system bus: {0}")]
    Connect(String),
    #[error("{step}: access denied ({text})")]
    AccessDenied { step: Step, text: String },
    #[error("{step}: {text}")]
    Call { step: Step, text: String },
    #[error("{step}: malformed reply: {what}")]
    Malformed { step: Step, what: String },
    #[error("no reply from the system bus within {} s ({step})", timeout.as_secs())]
    NoReply { step: Step, timeout: Duration },
    #[error("no complete reading from the system bus within {} s", .0.as_secs())]
    SlowReading(Duration),
    #[error("the system bus connection was closed")]
    Closed,
    #[error("the system bus connection failed: {0}")]
    Failed(String),
    #[error("{SD} left the system bus")]
    ManagerLeft,
    #[error("cannot start the D-Bus thread: {0}")]
    Spawn(String),
    #[error("internal error while talking to the system bus: {0}")]
    Internal(String),
}

/// What the watcher thread reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// An exchange with the bus starts; it has [`STEP_TIMEOUT`] to finish.
    Step(Step),
    /// A fresh reading after a change (the first one right after connecting). The thread
    /// then sleeps on signals, with no time limit.
    Observed(Observed),
    /// The bus cannot be used (unreachable, access denied, malformed, connection lost).
    Lost(DbusError),
    /// rtnetlink saw a link or route change.
    RouteChanged,
}

/// Stops the watcher: shuts its socket down, so that whatever zbus is doing with it (an
/// endless handshake line, a call never answered) ends at once.
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<Mutex<CancelState>>);

#[derive(Debug, Default)]
struct CancelState {
    cancelled: bool,
    socket: Option<OwnedFd>,
}

impl Cancel {
    fn state(&self) -> std::sync::MutexGuard<'_, CancelState> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keep a duplicate of the connection's socket to shut it down on [`Cancel::cancel`].
    fn watch(&self, socket: OwnedFd) {
        let mut s = self.state();
        if s.cancelled {
            shut(&socket);
        }
        s.socket = Some(socket);
    }

    /// Give up on the bus: the socket is shut down (both ways) and the thread ends.
    pub fn cancel(&self) {
        let mut s = self.state();
        s.cancelled = true;
        if let Some(fd) = s.socket.take() {
            shut(&fd);
        }
    }

    pub fn is_cancelled(&self) -> bool {
        self.state().cancelled
    }
}

/// Shut `socket` down both ways, and drop what the peer had queued already (up to a few
/// MB): zbus then reads the end at once, instead of scanning that backlog (an endless
/// handshake line costs it time quadratic in the length).
fn shut(socket: &OwnedFd) {
    use rustix::net::RecvFlags;
    let _ = rustix::net::shutdown(socket, rustix::net::Shutdown::Both);
    let mut buf = vec![0u8; 65536];
    for _ in 0..64 {
        match rustix::net::recv(socket, &mut buf[..], RecvFlags::DONTWAIT) {
            Ok((n, _)) if n > 0 => continue,
            _ => break,
        }
    }
}

fn describe(step: Step, e: zbus::Error) -> DbusError {
    if let zbus::Error::InputOutput(io) = &e {
        if io.kind() == std::io::ErrorKind::TimedOut {
            return DbusError::NoReply {
                step,
                timeout: STEP_TIMEOUT,
            };
        }
    }
    let text = clip(&e.to_string(), MAX_TEXT);
    if text.contains("AccessDenied") {
        DbusError::AccessDenied { step, text }
    } else {
        DbusError::Call { step, text }
    }
}

fn malformed(step: Step, what: impl Into<String>) -> DbusError {
    DbusError::Malformed {
        step,
        what: what.into(),
    }
}

/// The value of a `ActiveState`-like property: a short lowercase name, nothing else.
pub fn state_name(step: Step, prop: &str, v: OwnedVariant) -> Result<String, DbusError> {
    let s = typed::string(prop, v).map_err(|e| malformed(step, clip(&e, MAX_TEXT)))?;
    let name_like = !s.is_empty()
        && s.len() <= MAX_STATE
        && s.bytes().all(|b| b.is_ascii_lowercase() || b == b'-');
    if !name_like {
        return Err(malformed(
            step,
            format!(
                "{prop} is not a state name ({} bytes: `{}`)",
                s.len(),
                clip(&s, MAX_STATE)
            ),
        ));
    }
    Ok(s)
}

/// Whether the unit's `Job` property (`(uo)`: id and path, id 0 for none) names a job.
pub fn job_queued(step: Step, v: OwnedVariant) -> Result<bool, DbusError> {
    let id = typed::job_id(v).map_err(|e| malformed(step, clip(&e, MAX_TEXT)))?;
    Ok(id != 0)
}

/// Where a call goes: destination, object path, interface, method.
type Target<'a> = (&'a str, &'a str, &'a str, &'a str);

async fn call(
    conn: &Connection,
    tx: &Sender<Event>,
    step: Step,
    (dest, path, iface, method): Target<'_>,
    body: &(impl zbus::export::serde::ser::Serialize + zbus::DynamicType),
) -> Result<zbus::Message, DbusError> {
    let _ = tx.send(Event::Step(step));
    conn.call_method(Some(dest), path, Some(iface), method, body)
        .await
        .map_err(|e| describe(step, e))
}

async fn get(
    conn: &Connection,
    tx: &Sender<Event>,
    path: &str,
    iface: &str,
    prop: &'static str,
) -> Result<OwnedVariant, DbusError> {
    let step = Step::Read(prop);
    let reply = call(conn, tx, step, (SD, path, PROPS, "Get"), &(iface, prop)).await?;
    let body = reply.body();
    // Refused before any copy is made of it.
    typed::check_body(&body, "v", MAX_REPLY).map_err(|e| malformed(step, e))?;
    body.deserialize::<OwnedVariant>()
        .map_err(|e| malformed(step, clip(&e.to_string(), MAX_TEXT)))
}

async fn observe(
    conn: &Connection,
    tx: &Sender<Event>,
    unit_path: &str,
) -> Result<Observed, DbusError> {
    let active = get(conn, tx, unit_path, UNIT, "ActiveState").await?;
    let active_state = state_name(Step::Read("ActiveState"), "ActiveState", active)?;
    let job = get(conn, tx, unit_path, UNIT, "Job").await?;
    let job = job_queued(Step::Read("Job"), job)?;
    let system = get(conn, tx, SD_PATH, MANAGER, "SystemState").await?;
    let system_state = state_name(Step::Read("SystemState"), "SystemState", system)?;
    Ok(Observed {
        active_state,
        job,
        system_state,
    })
}

async fn next(stream: &mut MessageStream) -> Option<zbus::Result<zbus::Message>> {
    use futures_core::Stream;
    std::future::poll_fn(|cx| std::pin::Pin::new(&mut *stream).poll_next(cx)).await
}

/// A socket connected by us, not by zbus.
enum Own {
    Unix(UnixStream),
    Tcp(std::net::TcpStream),
}

/// Connect to a `unix:path=`, `unix:abstract=` or `tcp:` (without nonce) bus ourselves, to
/// keep a handle on the socket for [`Cancel`]. `None` for other transports (zbus connects
/// to those; the waiting loop still gives them up in time).
fn own_socket(address: &zbus::Address, cancel: &Cancel) -> Option<std::io::Result<Own>> {
    use rustix::net::SocketAddrUnix;
    use zbus::address::transport::{TcpTransportFamily, Transport, UnixSocket};
    let unix = match address.transport() {
        Transport::Unix(unix) => unix,
        Transport::Tcp(tcp) if tcp.nonce_file().is_none() => {
            use std::net::ToSocketAddrs;
            let connect = || -> std::io::Result<std::net::TcpStream> {
                let mut last = std::io::Error::new(std::io::ErrorKind::NotFound, "no address");
                for a in (tcp.host(), tcp.port()).to_socket_addrs()? {
                    let wanted = match tcp.family() {
                        Some(TcpTransportFamily::Ipv4) => a.is_ipv4(),
                        Some(TcpTransportFamily::Ipv6) => a.is_ipv6(),
                        _ => true,
                    };
                    if !wanted {
                        continue;
                    }
                    match std::net::TcpStream::connect_timeout(&a, STEP_TIMEOUT) {
                        Ok(s) => {
                            cancel.watch(OwnedFd::from(s.try_clone()?));
                            return Ok(s);
                        }
                        Err(e) => last = e,
                    }
                }
                Err(last)
            };
            return Some(connect().map(Own::Tcp));
        }
        _ => return None,
    };
    let addr = match unix.path() {
        UnixSocket::File(p) => SocketAddrUnix::new(p.as_path()),
        UnixSocket::Abstract(name) => SocketAddrUnix::new_abstract_name(
            std::os::unix::ffi::OsStrExt::as_bytes(name.as_os_str()),
        ),
        _ => return None,
    };
    let connect = || -> std::io::Result<UnixStream> {
        // A listener with a full backlog makes connect() wait: at most STEP_TIMEOUT.
        crate::user_manager::connect_unix_with(&addr?, STEP_TIMEOUT, |fd| {
            cancel.watch(fd.try_clone()?);
            Ok(())
        })
    };
    Some(connect().map(Own::Unix))
}

async fn connect(tx: &Sender<Event>, cancel: &Cancel) -> Result<Connection, DbusError> {
    use zbus::connection::Builder;
    let _ = tx.send(Event::Step(Step::Connect));
    let connect_error = |e: &dyn fmt::Display| DbusError::Connect(clip(&e.to_string(), MAX_TEXT));
    let address = zbus::Address::system().map_err(|e| connect_error(&e))?;
    let builder = match own_socket(&address, cancel) {
        Some(Ok(Own::Unix(stream))) => Builder::unix_stream(stream),
        Some(Ok(Own::Tcp(stream))) => Builder::tcp_stream(stream),
        Some(Err(e)) => return Err(connect_error(&e)),
        None => Builder::system(),
    };
    // zbus's own limit on calls, a little after ours: the waiting loop gives up first,
    // and this ends the thread where there is no socket of ours to shut down.
    builder
        .method_timeout(STEP_TIMEOUT * 2)
        .build()
        .await
        .map_err(|e| connect_error(&e))
}

async fn watch(unit: &str, tx: &Sender<Event>, cancel: &Cancel) -> Result<(), DbusError> {
    let conn = connect(tx, cancel).await?;
    // Everything addressed to us, filtered below; created before the match rules so that no
    // signal between them and the first reading is lost.
    let mut stream = MessageStream::from(&conn);
    let (subscribe, load) = (
        (SD, SD_PATH, MANAGER, "Subscribe"),
        (SD, SD_PATH, MANAGER, "LoadUnit"),
    );
    call(&conn, tx, Step::Subscribe, subscribe, &()).await?;
    let reply = call(&conn, tx, Step::LoadUnit, load, &(unit,)).await?;
    let body = reply.body();
    typed::check_body(&body, "o", MAX_REPLY).map_err(|e| malformed(Step::LoadUnit, e))?;
    let path: OwnedObjectPath = body
        .deserialize()
        .map_err(|e| malformed(Step::LoadUnit, clip(&e.to_string(), MAX_TEXT)))?;
    if path.as_str().len() > MAX_PATH {
        return Err(malformed(
            Step::LoadUnit,
            format!("a unit path of {} bytes", path.as_str().len()),
        ));
    }
    let path = path.as_str().to_owned();
    for rule in [
        format!("type='signal',sender='{SD}',path='{path}',interface='{PROPS}',member='PropertiesChanged'"),
        format!("type='signal',sender='{SD}',path='{SD_PATH}',interface='{MANAGER}',member='StartupFinished'"),
        format!("type='signal',sender='{BUS}',member='NameOwnerChanged',arg0='{SD}'"),
    ] {
        let add = (BUS, "/org/freedesktop/DBus", BUS, "AddMatch");
        call(&conn, tx, Step::AddMatch, add, &(rule.as_str(),)).await?;
    }
    loop {
        let o = observe(&conn, tx, &path).await?;
        let done = o.active_state == "active";
        if tx.send(Event::Observed(o)).is_err() || done {
            return Ok(());
        }
        loop {
            let msg = match next(&mut stream).await {
                None => return Err(DbusError::Closed),
                Some(Err(e)) => {
                    return Err(DbusError::Failed(clip(&e.to_string(), MAX_TEXT)));
                }
                Some(Ok(m)) => m,
            };
            let h = msg.header();
            if h.message_type() != zbus::message::Type::Signal {
                continue;
            }
            match h.member().map(|m| m.as_str()) {
                Some("PropertiesChanged") | Some("StartupFinished") => break,
                Some("NameOwnerChanged") => {
                    // Only the bus itself says who owns a name (anyone may send us a signal).
                    if h.sender().map(|s| s.as_str()) != Some(BUS) {
                        continue;
                    }
                    let body = msg.body();
                    if !matches!(body.signature().to_string().as_str(), "sss" | "(sss)") {
                        continue;
                    }
                    // systemd re-executing drops and retakes its name; gone for good means
                    // the manager is stopping.
                    let (_, _, new): (String, String, String) =
                        body.deserialize().unwrap_or_default();
                    if new.is_empty() {
                        return Err(DbusError::ManagerLeft);
                    }
                    break;
                }
                _ => continue,
            }
        }
    }
}

/// Where a panic on a thread other than the main one is reported (see [`report_panic`]).
static PANIC_TX: Mutex<Option<Sender<Event>>> = Mutex::new(None);

/// Report a panic of a helper thread (inside zbus, say) as a lost bus. Called by the
/// binary's panic hook, which then parks that thread instead of letting the process abort:
/// the wait goes on with the route check, and in exec mode the daemon still starts.
pub fn report_panic(what: &str) {
    let tx = PANIC_TX.lock().unwrap_or_else(|e| e.into_inner()).clone();
    if let Some(tx) = tx {
        let _ = tx.send(Event::Lost(DbusError::Internal(clip(what, MAX_TEXT))));
    }
}

/// Watch `unit` on a thread of its own; events arrive on `tx` until the unit is active,
/// the bus is lost (one `Lost`), the receiver is gone, or `cancel` is called.
pub fn spawn(
    unit: String,
    tx: Sender<Event>,
    cancel: Cancel,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    *PANIC_TX.lock().unwrap_or_else(|e| e.into_inner()) = Some(tx.clone());
    std::thread::Builder::new()
        .name("dbus".into())
        .spawn(move || {
            if let Err(why) = zbus::block_on(watch(&unit, &tx, &cancel)) {
                let _ = tx.send(Event::Lost(why));
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use zbus::{ObjectPath, Variant};

    fn owned(v: Variant<'static>) -> OwnedVariant {
        OwnedVariant::try_from(v).unwrap()
    }

    #[test]
    fn job_of_the_wrong_shape_is_malformed_not_a_panic() {
        let step = Step::Read("Job");
        // `(u)` where `(uo)` belongs: this used to panic inside zbus.
        let v = owned(Variant::from(zbus::Structure::from((7u32,))));
        let e = job_queued(step, v).unwrap_err();
        assert!(matches!(e, DbusError::Malformed { .. }), "{e}");
        assert!(e.to_string().contains("`(u)`"), "{e}");
        for v in [
            Variant::from(7u32),
            Variant::from("x"),
            Variant::from(zbus::Structure::from((7u32, 8u32))),
            Variant::from(zbus::Structure::from((
                7u32,
                ObjectPath::try_from("/a").unwrap(),
                1u8,
            ))),
        ] {
            assert!(job_queued(step, owned(v)).is_err());
        }
        let ok = Variant::from(zbus::Structure::from((
            7u32,
            ObjectPath::try_from("/org/freedesktop/systemd1/job/7").unwrap(),
        )));
        assert_eq!(job_queued(step, owned(ok)), Ok(true));
        let none = Variant::from(zbus::Structure::from((
            0u32,
            ObjectPath::try_from("/").unwrap(),
        )));
        assert_eq!(job_queued(step, owned(none)), Ok(false));
    }

    #[test]
    fn states_must_be_short_names() {
        let step = Step::Read("ActiveState");
        let s = |v: Variant<'static>| state_name(step, "ActiveState", owned(v));
        assert_eq!(s(Variant::from("activating")), Ok("activating".into()));
        assert!(s(Variant::from(3u32)).is_err());
        assert!(s(Variant::from("")).is_err());
        assert!(s(Variant::from("active\nrootlet-wait-online: forged")).is_err());
        let huge = "a".repeat(10_000_000);
        let e = s(Variant::from(huge)).unwrap_err().to_string();
        assert!(e.len() < 300, "bounded: {} bytes", e.len());
        assert!(e.contains("10000000 bytes"), "{e}");
    }

    #[test]
    fn cancel_before_the_socket_exists_still_shuts_it_down() {
        let (a, mut b) = UnixStream::pair().unwrap();
        let c = Cancel::default();
        c.cancel();
        c.watch(OwnedFd::from(a));
        use std::io::Read;
        let mut buf = [0u8; 4];
        // Shut down both ways: the peer sees the end at once.
        assert_eq!(b.read(&mut buf).unwrap(), 0);
        assert!(c.is_cancelled());
    }
}
