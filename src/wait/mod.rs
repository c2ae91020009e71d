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
//! - a time limit ends the wait (the dependent units start anyway: they use `Wants=`);
//! - the bus is not trusted: each exchange with it has [`dbus::STEP_TIMEOUT`] and each
//!   reading [`dbus::READING_TIMEOUT`], far below the time limit; a bus that is silent,
//!   slow or answers nonsense counts as unusable (the fallback again), and its socket is
//!   shut down. Nothing it sends can panic the helper or reach the log unbounded.
//!
//! One log line per change of state, never one per check; progress goes to systemd as
//! `STATUS=` through the callback of [`run`].

pub mod dbus;
pub mod notify;
pub mod route;
pub mod state;

use dbus::{DbusError, Event, Step};
use state::{decide, Decision};
use std::fmt;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The longest `--timeout` accepted.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(365 * 24 * 3600);
/// The longest log line, in bytes (values from the bus are clipped well before this).
pub const MAX_LOG_LINE: usize = 2048;

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
    /// How long one exchange with the bus may take before the bus counts as lost.
    pub step_timeout: Duration,
    /// How long one whole reading (connecting, or the three properties) may take.
    pub reading_timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            unit: "network-online.target".into(),
            timeout: Duration::from_secs(90),
            fallback: Fallback::Route,
            tables: route::Tables::default(),
            tick: Duration::from_secs(5),
            step_timeout: dbus::STEP_TIMEOUT,
            reading_timeout: dbus::READING_TIMEOUT,
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

/// A `fmt::Write` that keeps at most `max` bytes, control characters escaped (a value
/// cannot forge a log line), and stops the formatting once full.
struct Capped {
    out: String,
    max: usize,
    full: bool,
}

impl fmt::Write for Capped {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for c in s.chars() {
            let before = self.out.len();
            if c.is_control() {
                self.out.extend(c.escape_default());
            } else {
                self.out.push(c);
            }
            if self.out.len() > self.max {
                self.out.truncate(before);
                self.full = true;
                return Err(fmt::Error);
            }
        }
        Ok(())
    }
}

/// Format `args` into at most `max` bytes (plus `…` when cut), control characters escaped.
/// Formatting stops at the limit: a 100 MB value costs no 100 MB copy.
pub fn clip_fmt(args: fmt::Arguments<'_>, max: usize) -> String {
    let mut c = Capped {
        out: String::new(),
        max,
        full: false,
    };
    let _ = fmt::write(&mut c, args);
    if c.full {
        c.out.push('…');
    }
    c.out
}

/// `s` clipped to `max` bytes, control characters escaped; see [`clip_fmt`].
pub fn clip(s: &str, max: usize) -> String {
    clip_fmt(format_args!("{s}"), max)
}

/// Whether the wait still listens to the bus, or has given up on it.
struct Giving<'a> {
    opts: &'a Options,
    fallback: bool,
    given_up: bool,
}

impl Giving<'_> {
    /// The unit will not come or the bus cannot tell: say so once, and fall back.
    fn up(&mut self, why: &str) {
        if self.fallback || self.given_up {
            return;
        }
        let unit = &self.opts.unit;
        match self.opts.fallback {
            Fallback::Route => {
                log::warn!("{why}; checking for a default route instead");
                self.fallback = true;
            }
            Fallback::None => {
                log::warn!("{why}; --fallback=none: waiting for {unit} anyway");
                self.given_up = true;
            }
        }
    }
}

/// The wait's view of the bus: the exchange and the reading under way (for the bus's own
/// deadlines), the unit's last state, and whether the wait still listens.
struct Bus<'a> {
    opts: &'a Options,
    cancel: dbus::Cancel,
    giving: Giving<'a>,
    /// The exchange with the bus under way, and since when.
    step: Option<(Step, Instant)>,
    /// Since when the reading under way (connecting included) has been going on.
    reading: Option<Instant>,
    state: String,
    last_reason: String,
}

impl Bus<'_> {
    /// The bus's own deadlines: the earlier of one exchange's and one whole reading's,
    /// with what to say when it passes.
    fn deadline(&self) -> Option<(Instant, DbusError)> {
        let opts = self.opts;
        let step_end = self.step.map(|(s, since)| {
            let why = DbusError::NoReply {
                step: s,
                timeout: opts.step_timeout,
            };
            (since.checked_add(opts.step_timeout).unwrap_or(since), why)
        });
        let reading_end = self.reading.map(|since| {
            let why = DbusError::SlowReading(opts.reading_timeout);
            (
                since.checked_add(opts.reading_timeout).unwrap_or(since),
                why,
            )
        });
        match (step_end, reading_end) {
            (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
            (a, b) => a.or(b),
        }
    }

    /// Past the bus's own deadline, stop listening; returns `wait` shortened to that
    /// deadline otherwise.
    fn enforce_deadline(&mut self, now: Instant, mut wait: Duration) -> Duration {
        if let Some((end, why)) = self.deadline() {
            if now >= end {
                // A bus that accepts and then says nothing, or too slowly: stop listening.
                (self.step, self.reading) = (None, None);
                self.cancel.cancel();
                self.giving.up(&why.to_string());
            } else {
                wait = wait.min(end - now);
            }
        }
        wait
    }

    /// Take in what the bus thread reported; `Some` when the unit is active.
    fn on_event(&mut self, event: Option<Event>, start: Instant) -> Option<Outcome> {
        let unit = self.opts.unit.as_str();
        match event {
            Some(Event::Step(s)) => {
                if !self.cancel.is_cancelled() {
                    let now = Instant::now();
                    self.step = Some((s, now));
                    self.reading.get_or_insert(now);
                }
            }
            Some(Event::Observed(o)) => {
                (self.step, self.reading) = (None, None);
                self.state = o.active_state.clone();
                match decide(unit, &o) {
                    Decision::Done => {
                        log::info!("{unit} is active after {} s: done", secs(start.elapsed()));
                        return Some(Outcome::Active);
                    }
                    Decision::Wait(why) => {
                        if why != self.last_reason {
                            log::info!("waiting: {why}");
                            self.last_reason = why;
                        }
                    }
                    Decision::Fallback(why) => self.giving.up(&why),
                }
            }
            Some(Event::Lost(why)) => {
                (self.step, self.reading) = (None, None);
                self.giving.up(&why.to_string());
            }
            Some(Event::RouteChanged) | None => {}
        }
        None
    }
}

/// Wait as described in the module documentation. `status` receives the `STATUS=` text.
pub fn run(opts: &Options, mut status: impl FnMut(&str)) -> Outcome {
    let start = Instant::now();
    // `None` only past the year 2^63: the parser refuses such time spans.
    let deadline = start.checked_add(opts.timeout);
    let unit = opts.unit.as_str();
    let (tx, rx) = mpsc::channel();
    let cancel = dbus::Cancel::default();
    if let Err(e) = dbus::spawn(opts.unit.clone(), tx.clone(), cancel.clone()) {
        let e = DbusError::Spawn(clip(&e.to_string(), 256));
        let _ = tx.send(Event::Lost(e));
    }
    let mut bus = Bus {
        opts,
        cancel,
        giving: Giving {
            opts,
            fallback: false,
            given_up: false,
        },
        step: None,
        reading: None,
        state: String::from("asking systemd"),
        last_reason: String::new(),
    };
    let mut netlink = false;
    loop {
        if bus.giving.fallback {
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
        if deadline.is_some_and(|d| now >= d) {
            log::warn!(
                "gave up after {} s (--timeout): {}; the units ordered after this one start anyway",
                secs(opts.timeout),
                if bus.giving.fallback {
                    "still no default route".to_owned()
                } else {
                    format!("{unit} is still {}", bus.state)
                }
            );
            return Outcome::TimedOut;
        }
        let mut wait = opts.tick;
        if let Some(d) = deadline {
            wait = wait.min(d.saturating_duration_since(now));
        }
        let wait = bus.enforce_deadline(now, wait);
        if let Some(done) = bus.on_event(rx.recv_timeout(wait).ok(), start) {
            return done;
        }
        let what = if bus.giving.fallback {
            "a default route".to_owned()
        } else {
            format!("{unit} ({})", bus.state)
        };
        let text = format!("waiting for {what} {} s", start.elapsed().as_secs());
        status(&clip(&text, 256));
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

/// `90`, `90s`, `1min 30s`, `2m`, `500ms`, `1h`: systemd's time spans (seconds by default),
/// at most [`MAX_TIMEOUT`]. Every step is checked: a huge value is an error, never a panic.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let shown = clip(s, 64);
    let too_long = || {
        format!(
            "`{shown}` is longer than the limit of {} days",
            MAX_TIMEOUT.as_secs() / 86400
        )
    };
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
            .map_err(|_| format!("`{shown}` is not a time span"))?;
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
            _ => return Err(format!("`{shown}`: unknown time unit `{}`", clip(u, 32))),
        };
        let part = Duration::try_from_secs_f64(n * mult).map_err(|_| too_long())?;
        total = total
            .checked_add(part)
            .filter(|t| *t <= MAX_TIMEOUT)
            .ok_or_else(too_long)?;
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

    #[test]
    fn huge_durations_are_errors_not_panics() {
        for s in [
            "18446744073709551615",
            "99999999999999999999",
            "10000000000000000000",
            "1e400",
            &"9".repeat(400),
            "366d",
            "8761h",
            "365 days",
            "1.7976931348623157e308",
            "100000000000000000000000h",
            &"200000h ".repeat(100),
        ] {
            assert!(parse_duration(s).is_err(), "{s}");
        }
        let e = parse_duration(&"9".repeat(5000)).unwrap_err();
        assert!(e.len() < 200, "{e}");
        assert_eq!(parse_duration("8760h"), Ok(MAX_TIMEOUT));
        assert!(parse_duration("1.5.5").is_err());
        assert!(parse_duration(".").is_err());
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
    }

    #[test]
    fn clipping_bounds_and_escapes() {
        assert_eq!(clip("active", 32), "active");
        assert_eq!(clip("a\nb\u{1b}[31m", 64), "a\\nb\\u{1b}[31m");
        let big = "x".repeat(100_000_000);
        let c = clip(&big, 100);
        assert_eq!(c.len(), 100 + '…'.len_utf8());
        // Cut on a character boundary.
        let c = clip(&"é".repeat(100), 11);
        assert_eq!(c, format!("{}…", "é".repeat(5)));
    }
}
