//! The user manager over the user's D-Bus session bus (zbus, no tokio): unit states,
//! start, stop, reload. Every operation runs on a thread of its own under a deadline: a
//! manager that does not answer costs the caller at most that long, never a hang.
//! The last journal line of a unit comes from `journalctl`, also under a deadline.

use super::ManageError;
use std::sync::mpsc;
use std::time::{Duration, Instant};
use zbus::{Connection, OwnedObjectPath, OwnedVariant};

const SD: &str = "org.freedesktop.systemd1";
const SD_PATH: &str = "/org/freedesktop/systemd1";
const MANAGER: &str = "org.freedesktop.systemd1.Manager";
const UNIT: &str = "org.freedesktop.systemd1.Unit";
const PROPS: &str = "org.freedesktop.DBus.Properties";

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
fn on_thread<T, F, Fut>(deadline: Duration, make: F) -> Result<T, ManageError>
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
        .map_err(|e| ManageError::Manager(format!("cannot start a thread: {e}")))?;
    match rx.recv_timeout(deadline) {
        Ok(r) => r.map_err(ManageError::Manager),
        Err(mpsc::RecvTimeoutError::Timeout) => Err(ManageError::Manager(format!(
            "no answer within {} s",
            deadline.as_secs()
        ))),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            Err(ManageError::Manager("the D-Bus thread failed".into()))
        }
    }
}

async fn connect() -> Result<Connection, String> {
    zbus::connection::Builder::session()
        .method_timeout(CALL_TIMEOUT)
        .build()
        .await
        .map_err(|e| format!("cannot connect to the session bus: {e}"))
}

async fn get(
    conn: &Connection,
    path: &str,
    iface: &str,
    prop: &str,
) -> Result<OwnedVariant, String> {
    conn.call_method(Some(SD), path, Some(PROPS), "Get", &(iface, prop))
        .await
        .map_err(|e| format!("reading {prop}: {e}"))?
        .body()
        .deserialize::<OwnedVariant>()
        .map_err(|e| format!("reading {prop}: {e}"))
}

async fn get_string(
    conn: &Connection,
    path: &str,
    iface: &str,
    prop: &str,
) -> Result<String, String> {
    String::try_from(get(conn, path, iface, prop).await?)
        .map_err(|_| format!("unexpected type of {prop}"))
}

async fn unit_path(conn: &Connection, unit: &str) -> Result<String, String> {
    let p: OwnedObjectPath = conn
        .call_method(Some(SD), SD_PATH, Some(MANAGER), "LoadUnit", &(unit,))
        .await
        .map_err(|e| format!("LoadUnit({unit}): {e}"))?
        .body()
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
    let job = get(conn, path, UNIT, "Job").await?;
    Ok(<(u32, OwnedObjectPath)>::try_from(job)
        .map_err(|_| "unexpected type of Job".to_string())?
        .0
        != 0)
}

/// Whether the user manager can be asked at all (the session bus is there).
pub fn reachable() -> bool {
    on_thread(CALL_TIMEOUT, || async {
        let conn = connect().await?;
        conn.call_method(Some(SD), SD_PATH, Some(PROPS), "Get", &(MANAGER, "Version"))
            .await
            .map_err(|e| e.to_string())?;
        Ok(())
    })
    .is_ok()
}

/// The states of `units`, in order (one connection for all).
pub fn states(units: &[String]) -> Result<Vec<UnitState>, ManageError> {
    let units = units.to_vec();
    let deadline = CALL_TIMEOUT + Duration::from_millis(50 * units.len() as u64);
    on_thread(deadline, move || async move {
        let conn = connect().await?;
        let mut v = Vec::with_capacity(units.len());
        for u in &units {
            v.push(state(&conn, u).await?);
        }
        Ok(v)
    })
}

/// `Manager.Reload()` (what `systemctl --user daemon-reload` does): generators run again.
pub fn reload() -> Result<(), ManageError> {
    on_thread(CALL_TIMEOUT + Duration::from_secs(5), || async {
        let conn = connect().await?;
        conn.call_method(Some(SD), SD_PATH, Some(MANAGER), "Reload", &())
            .await
            .map_err(|e| format!("Reload: {e}"))?;
        Ok(())
    })
}

/// `ResetFailedUnit(unit)`: forget a failed unit's state (after its source is removed).
pub fn reset_failed(unit: &str) -> Result<(), ManageError> {
    let unit = unit.to_owned();
    on_thread(CALL_TIMEOUT + Duration::from_secs(5), move || async move {
        let conn = connect().await?;
        conn.call_method(
            Some(SD),
            SD_PATH,
            Some(MANAGER),
            "ResetFailedUnit",
            &(unit.as_str(),),
        )
        .await
        .map_err(|e| format!("ResetFailedUnit({unit}): {e}"))?;
        Ok(())
    })
}

/// Queue `method` (`StartUnit`, `StopUnit`) for `unit` and wait, polling every 100 ms,
/// until its job is done and the unit has settled (not activating, e.g. waiting to be
/// restarted, nor deactivating), or `wait` has passed; returns the state then.
fn job(method: &'static str, unit: &str, wait: Duration) -> Result<UnitState, ManageError> {
    let unit = unit.to_owned();
    on_thread(wait + CALL_TIMEOUT, move || async move {
        let conn = connect().await?;
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
pub fn start(unit: &str, wait: Duration) -> Result<UnitState, ManageError> {
    job("StartUnit", unit, wait)
}

/// [`start`] or [`stop`] for several units at once (each on its own thread, so that slow
/// ones do not add up); results in order.
pub fn all(
    f: fn(&str, Duration) -> Result<UnitState, ManageError>,
    units: &[String],
    wait: Duration,
) -> Vec<Result<UnitState, ManageError>> {
    std::thread::scope(|s| {
        let handles: Vec<_> = units.iter().map(|u| s.spawn(move || f(u, wait))).collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(ManageError::Manager("a D-Bus thread failed".into())))
            })
            .collect()
    })
}

/// Stop `unit`, wait for the stop job (at most `wait`).
pub fn stop(unit: &str, wait: Duration) -> Result<UnitState, ManageError> {
    job("StopUnit", unit, wait)
}

/// The last journal line about a failed user unit, or `None` when there is none or
/// journalctl does not answer within `deadline` (per call). The unit's own processes are
/// asked first (`_SYSTEMD_USER_UNIT=UNIT`: the program's, podman's and the container's
/// output, podman's container ids and event records left out), then everything about the unit
/// (`journalctl --user -u UNIT -n 1 -o cat`: systemd's own lines too).
pub fn last_log_line(unit: &str, deadline: Duration) -> Option<String> {
    let own = format!("_SYSTEMD_USER_UNIT={unit}");
    // Container ids (`podman rm` prints them) and podman's event records
    // (`2026-01-01 10:00:00.1 +0000 UTC m=+0.03 container remove ...`) say nothing new.
    let is_id = |l: &str| {
        (l.len() == 64 && l.bytes().all(|b| b.is_ascii_hexdigit())) || l.contains(" UTC m=+")
    };
    journal(&["-n", "10", own.as_str()], deadline)
        .and_then(|lines| lines.into_iter().rev().find(|l| !is_id(l)))
        .or_else(|| journal(&["-n", "1", "-u", unit], deadline)?.pop())
}

/// `journalctl --user --no-pager -q -o cat ARGS`: its non-empty lines, or `None` if it
/// cannot be run or does not finish within `deadline` (then it is killed).
pub(crate) fn journal(args: &[&str], deadline: Duration) -> Option<Vec<String>> {
    use std::io::Read;
    use std::process::{Command, Stdio};
    let mut child = Command::new("journalctl")
        .args(["--user", "--no-pager", "-q", "-o", "cat"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let mut out = child.stdout.take()?;
    // Read on a thread: a full pipe must not stall journalctl while we wait for it.
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = (&mut out).take(256 * 1024).read_to_end(&mut buf);
        buf
    });
    let until = Instant::now() + deadline;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() < until => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
    let buf = reader.join().ok()?;
    let lines: Vec<String> = String::from_utf8_lossy(&buf)
        .lines()
        .map(|l| l.trim_end().to_owned())
        .filter(|l| !l.trim().is_empty())
        .collect();
    (!lines.is_empty()).then_some(lines)
}
