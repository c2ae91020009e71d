//! The system manager over D-Bus: `Subscribe()` (or systemd sends no unit signals),
//! `LoadUnit` (not `GetUnit`: that fails for a unit nothing loaded), the unit's
//! `ActiveState` and `Job`, the manager's `SystemState`; then sleep on the unit's
//! `PropertiesChanged`, the manager's `StartupFinished` and the bus name's owner changes.
//! No polling: every read follows a signal.

use super::state::Observed;
use std::sync::mpsc::Sender;
use zbus::{Connection, MessageStream, OwnedObjectPath, OwnedVariant};

const SD: &str = "org.freedesktop.systemd1";
const SD_PATH: &str = "/org/freedesktop/systemd1";
const MANAGER: &str = "org.freedesktop.systemd1.Manager";
const UNIT: &str = "org.freedesktop.systemd1.Unit";
const PROPS: &str = "org.freedesktop.DBus.Properties";

/// What the watcher thread reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A fresh reading after a change (the first one right after connecting).
    Observed(Observed),
    /// The bus cannot be used (unreachable, access denied, connection lost): why.
    Lost(String),
    /// rtnetlink saw a link or route change.
    RouteChanged,
}

fn describe(context: &str, e: zbus::Error) -> String {
    let text = e.to_string();
    if text.contains("AccessDenied") {
        format!("{context}: access denied ({text})")
    } else {
        format!("{context}: {text}")
    }
}

async fn get(
    conn: &Connection,
    path: &str,
    iface: &str,
    prop: &str,
) -> Result<OwnedVariant, String> {
    let reply = conn
        .call_method(Some(SD), path, Some(PROPS), "Get", &(iface, prop))
        .await
        .map_err(|e| describe(&format!("reading {prop}"), e))?;
    reply
        .body()
        .deserialize::<OwnedVariant>()
        .map_err(|e| describe(&format!("reading {prop}"), e))
}

async fn observe(conn: &Connection, unit_path: &str) -> Result<Observed, String> {
    let active = get(conn, unit_path, UNIT, "ActiveState").await?;
    let job = get(conn, unit_path, UNIT, "Job").await?;
    let system = get(conn, SD_PATH, MANAGER, "SystemState").await?;
    let bad = |what: &str| format!("unexpected type of {what}");
    Ok(Observed {
        active_state: String::try_from(active).map_err(|_| bad("ActiveState"))?,
        job: <(u32, OwnedObjectPath)>::try_from(job)
            .map_err(|_| bad("Job"))?
            .0
            != 0,
        system_state: String::try_from(system).map_err(|_| bad("SystemState"))?,
    })
}

async fn add_match(conn: &Connection, rule: &str) -> Result<(), String> {
    conn.call_method(
        Some("org.freedesktop.DBus"),
        "/org/freedesktop/DBus",
        Some("org.freedesktop.DBus"),
        "AddMatch",
        &(rule,),
    )
    .await
    .map(|_| ())
    .map_err(|e| describe("subscribing to signals", e))
}

async fn next(stream: &mut MessageStream) -> Option<zbus::Result<zbus::Message>> {
    use futures_core::Stream;
    std::future::poll_fn(|cx| std::pin::Pin::new(&mut *stream).poll_next(cx)).await
}

async fn watch(unit: &str, tx: &Sender<Event>) -> Result<(), String> {
    let conn = Connection::system()
        .await
        .map_err(|e| describe("cannot connect to the system bus", e))?;
    // Everything addressed to us, filtered below; created before the match rules so that no
    // signal between them and the first reading is lost.
    let mut stream = MessageStream::from(&conn);
    conn.call_method(Some(SD), SD_PATH, Some(MANAGER), "Subscribe", &())
        .await
        .map_err(|e| describe("Manager.Subscribe", e))?;
    let path: OwnedObjectPath = conn
        .call_method(Some(SD), SD_PATH, Some(MANAGER), "LoadUnit", &(unit,))
        .await
        .map_err(|e| describe(&format!("Manager.LoadUnit({unit})"), e))?
        .body()
        .deserialize()
        .map_err(|e| describe("LoadUnit reply", e))?;
    let path = path.as_str().to_owned();
    add_match(&conn, &format!("type='signal',sender='{SD}',path='{path}',interface='{PROPS}',member='PropertiesChanged'")).await?;
    add_match(&conn, &format!("type='signal',sender='{SD}',path='{SD_PATH}',interface='{MANAGER}',member='StartupFinished'")).await?;
    add_match(
        &conn,
        &format!(
            "type='signal',sender='org.freedesktop.DBus',member='NameOwnerChanged',arg0='{SD}'"
        ),
    )
    .await?;
    loop {
        let o = observe(&conn, &path).await?;
        let done = o.active_state == "active";
        if tx.send(Event::Observed(o)).is_err() || done {
            return Ok(());
        }
        loop {
            let msg = match next(&mut stream).await {
                None => return Err("the system bus connection was closed".into()),
                Some(Err(e)) => return Err(describe("the system bus connection failed", e)),
                Some(Ok(m)) => m,
            };
            let h = msg.header();
            if h.message_type() != zbus::message::Type::Signal {
                continue;
            }
            match h.member().map(|m| m.as_str()) {
                Some("PropertiesChanged") | Some("StartupFinished") => break,
                Some("NameOwnerChanged") => {
                    // systemd re-executing drops and retakes its name; gone for good means
                    // the manager is stopping.
                    let (_, _, new): (String, String, String) =
                        msg.body().deserialize().unwrap_or_default();
                    if new.is_empty() {
                        return Err(format!("{SD} left the system bus"));
                    }
                    break;
                }
                _ => continue,
            }
        }
    }
}

/// Watch `unit` on a thread of its own; events arrive on `tx` until the unit is active,
/// the bus is lost (one `Lost`), or the receiver is gone.
pub fn spawn(unit: String, tx: Sender<Event>) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("dbus".into())
        .spawn(move || {
            if let Err(why) = zbus::block_on(watch(&unit, &tx)) {
                let _ = tx.send(Event::Lost(why));
            }
        })
}
