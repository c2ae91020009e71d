//! The network-online wait of `rootlet-wait-online`.
//!
//! A user unit cannot depend on the system's `network-online.target`; quadlet's answer is
//! a shell loop polling `systemctl is-active` twice a second for up to 90 s, which hangs
//! the full 90 s wherever nothing pulls the target in. This waits the way systemd intends:
//! - the target is `active`: done at once;
//! - it is activating, has a job queued, or the system is still starting: sleep on
//!   systemd's D-Bus signals until that changes (no polling of systemd);
//! - it is inactive with no job after the system finished starting, or failed, or the bus
//!   cannot be used: it will never come, so check the network itself: a default route
//!   through an up, non-loopback interface ([`route`]), woken by rtnetlink;
//! - a time limit ends the wait (the dependent units start anyway: they use `Wants=`).
//!
//! One log line per change of state, never one per check; progress goes to systemd as
//! `STATUS=` through the callback of [`run`].

pub mod dbus;
pub mod route;
pub mod state;

use dbus::Event;
use state::{decide, Decision};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// What to do when the unit will never become active.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fallback {
    /// Wait for a default route instead.
    Route,
    /// Keep waiting for the unit until the time limit.
    None,
}

#[derive(Debug, Clone)]
pub struct Options {
    /// The system unit to wait for (`network-online.target`).
    pub unit: String,
    pub timeout: Duration,
    pub fallback: Fallback,
    pub tables: route::Tables,
    /// How often `STATUS=` is refreshed, and the route re-checked as a safety net.
    pub tick: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            unit: "network-online.target".into(),
            timeout: Duration::from_secs(90),
            fallback: Fallback::Route,
            tables: route::Tables::default(),
            tick: Duration::from_secs(5),
        }
    }
}

/// How the wait ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The unit became (or was) active.
    Active,
    /// The unit will never come, and a default route is there.
    Route(route::DefaultRoute),
    /// The time limit was reached.
    TimedOut,
}

fn secs(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64())
}

/// Wait as described in the module documentation. `status` receives the `STATUS=` text.
pub fn run(opts: &Options, mut status: impl FnMut(&str)) -> Outcome {
    let start = Instant::now();
    let deadline = start + opts.timeout;
    let unit = opts.unit.as_str();
    let (tx, rx) = mpsc::channel();
    if let Err(e) = dbus::spawn(opts.unit.clone(), tx.clone()) {
        let _ = tx.send(Event::Lost(format!("cannot start the D-Bus thread: {e}")));
    }
    let mut last_reason = String::new();
    let mut state = String::from("asking systemd");
    let mut fallback = false;
    let mut given_up = false;
    let mut netlink = false;
    loop {
        if fallback {
            if let Some(r) = opts.tables.default_route() {
                log::info!(
                    "default {} route through {} is up after {} s: done",
                    if r.ipv6 { "IPv6" } else { "IPv4" },
                    r.interface,
                    secs(start.elapsed())
                );
                return Outcome::Route(r);
            }
            if !netlink && opts.tables.is_real_root() {
                netlink = true;
                start_netlink(tx.clone());
            }
        }
        let now = Instant::now();
        if now >= deadline {
            log::warn!(
                "gave up after {} s (--timeout): {}; the units ordered after this one start anyway",
                secs(opts.timeout),
                if fallback {
                    "still no default route".to_owned()
                } else {
                    format!("{unit} is still {state}")
                }
            );
            return Outcome::TimedOut;
        }
        let event = rx.recv_timeout(opts.tick.min(deadline - now));
        let mut give_up = |why: String, fallback: &mut bool| {
            if *fallback || given_up {
                return;
            }
            match opts.fallback {
                Fallback::Route => {
                    log::warn!("{why}; checking for a default route instead");
                    *fallback = true;
                }
                Fallback::None => {
                    log::warn!("{why}; --fallback=none: waiting for {unit} anyway");
                    given_up = true;
                }
            }
        };
        match event {
            Ok(Event::Observed(o)) => {
                state = o.active_state.clone();
                match decide(unit, &o) {
                    Decision::Done => {
                        log::info!("{unit} is active after {} s: done", secs(start.elapsed()));
                        return Outcome::Active;
                    }
                    Decision::Wait(why) => {
                        if why != last_reason {
                            log::info!("waiting: {why}");
                            last_reason = why;
                        }
                    }
                    Decision::Fallback(why) => give_up(why, &mut fallback),
                }
            }
            Ok(Event::Lost(why)) => give_up(why, &mut fallback),
            Ok(Event::RouteChanged) | Err(_) => {}
        }
        let what = if fallback {
            "a default route".to_owned()
        } else {
            format!("{unit} ({state})")
        };
        status(&format!(
            "waiting for {what} {} s",
            start.elapsed().as_secs()
        ));
    }
}

/// rtnetlink on a thread: each link or route change wakes the loop to look again.
fn start_netlink(tx: mpsc::Sender<Event>) {
    let fd = match route::subscribe() {
        Ok(fd) => fd,
        Err(e) => {
            log::info!("no rtnetlink ({e}): re-checking the route every few seconds");
            return;
        }
    };
    let _ = std::thread::Builder::new()
        .name("netlink".into())
        .spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = rustix::io::read(&fd, &mut buf) {
                if n == 0 || tx.send(Event::RouteChanged).is_err() {
                    return;
                }
            }
        });
}

/// `90`, `90s`, `1min 30s`, `2m`, `500ms`, `1h`: systemd's time spans (seconds by default).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let mut total = Duration::ZERO;
    let mut rest = s.trim();
    if rest.is_empty() {
        return Err("empty time span".into());
    }
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (num, tail) = rest.split_at(num_end);
        let n: f64 = num
            .parse()
            .map_err(|_| format!("`{s}` is not a time span"))?;
        let tail = tail.trim_start();
        let unit_end = tail
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(tail.len());
        let (u, after) = tail.split_at(unit_end);
        let mult = match u {
            "" | "s" | "sec" | "secs" | "second" | "seconds" => 1.0,
            "ms" | "msec" => 0.001,
            "m" | "min" | "mins" | "minute" | "minutes" => 60.0,
            "h" | "hr" | "hour" | "hours" => 3600.0,
            _ => return Err(format!("`{s}`: unknown time unit `{u}`")),
        };
        total += Duration::from_secs_f64(n * mult);
        rest = after.trim_start();
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1min 30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert!(parse_duration("").is_err());
        assert!(parse_duration("5 parsecs").is_err());
    }
}
