//! The day-2 commands' command line: `rootlet print|rm|add|list` (logic in
//! `rootlet::manage`), their printing and exit codes. The download of `rootlet add URL` is
//! `rootlet::manage::fetch`.

use crate::ui::{out, say, shown, Exit};
use clap::{Args, ValueEnum};
use rootlet::error::SourceError;
use rootlet::manage::{self, add, list, print, rm, ManageError, Places};
use rootlet::user_manager as systemd;
use std::io::IsTerminal;
use std::path::Path;
use std::time::Duration;

#[derive(Args)]
pub struct PrintArgs {
    /// A source (`web.container`), its unit (`web.service`) or its name (`web`).
    name: String,
    /// Print the unit it becomes (translated in memory) instead of the source.
    #[arg(long)]
    unit: bool,
}

#[derive(Args)]
pub struct RmArgs {
    /// Sources (`web.container`, `web.service`, `web`) or applications.
    #[arg(required_unless_present = "all")]
    names: Vec<String>,
    /// Remove every source on your own search path and every application.
    #[arg(long, short)]
    all: bool,
    /// Stop running units first (else they are refused).
    #[arg(long, short)]
    force: bool,
    /// Unknown names are not an error.
    #[arg(long, short)]
    ignore: bool,
    /// Do not reload the user manager afterwards.
    #[arg(long)]
    no_reload: bool,
}

#[derive(Args)]
pub struct AddArgs {
    /// Quadlet files, directories (one application each), `.quadlets` bundles, or
    /// `https://` URLs (`http://` only to loopback).
    #[arg(required = true)]
    paths: Vec<String>,
    /// Overwrite existing files (a symlink there is replaced, never written through).
    #[arg(long, short)]
    replace: bool,
    /// With --replace: also take files that belong to another application.
    #[arg(long, short, requires = "replace")]
    force: bool,
    /// Do not reload the user manager afterwards.
    #[arg(long)]
    no_reload: bool,
    /// Also start the units added.
    #[arg(long, conflicts_with = "no_reload")]
    now: bool,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    Table,
    Json,
}

#[derive(Args)]
pub struct ListArgs {
    /// Only sources whose file or unit name matches `name=GLOB`, or whose application
    /// matches `app=GLOB` (repeatable: all must match).
    #[arg(long, short, value_name = "name=GLOB|app=GLOB")]
    filter: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
}

/// How long `rm --force` waits for a unit to stop and `add --now` for it to start.
const JOB_WAIT: Duration = Duration::from_secs(120);

fn places() -> Result<Places, Exit> {
    match Places::from_process() {
        Ok(p) => Ok(Places {
            on_lock_wait: crate::ui::lock_wait,
            ..p
        }),
        Err(e) => {
            say!("rootlet: {e}");
            Err(Exit::Failed)
        }
    }
}

/// Print an error: each source error on a line of its own (`file:line: message`).
fn fail(e: &ManageError) -> Exit {
    if let ManageError::Invalid(errors) = e {
        for x in errors {
            say!("{x}");
        }
    }
    say!("rootlet: {e}");
    Exit::Failed
}

/// Paths, one a line, for stdout.
fn lines(paths: &[std::path::PathBuf]) -> String {
    paths.iter().map(|p| shown(p) + "\n").collect()
}

fn reload(no_reload: bool) -> bool {
    if no_reload {
        return true;
    }
    let op = systemd::Op::reload();
    match systemd::run(&op) {
        Ok(()) => true,
        Err(e) => {
            say!("rootlet: {e}");
            say!(
                "rootlet: the files are in place; run `{}` (or pass --no-reload)",
                op.shown()
            );
            false
        }
    }
}

pub fn print(a: PrintArgs) -> Exit {
    let places = match places() {
        Ok(p) => p,
        Err(c) => return c,
    };
    let r = if a.unit {
        let (opts, _) = rootlet::generator::Options::from_env();
        print::unit(&places, &opts, &a.name)
    } else {
        print::source(&places, &a.name)
    };
    match r {
        Ok(text) => {
            out(&text);
            Exit::Ok
        }
        Err(e) => fail(&e),
    }
}

pub fn rm(a: RmArgs) -> Exit {
    let places = match places() {
        Ok(p) => p,
        Err(c) => return c,
    };
    let opts = rm::RmOptions {
        all: a.all,
        force: a.force,
        ignore: a.ignore,
        stop_wait: JOB_WAIT,
    };
    let plan = match rm::plan(&places, &a.names, &opts) {
        Ok(p) => p,
        Err(e) => return fail(&e),
    };
    let removed = match rm::remove(&places, plan, &opts) {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    if let Some(why) = &removed.states_unknown {
        say!("rootlet: note: units not checked for running ({why})");
    }
    for n in &removed.ignored {
        say!("rootlet: note: {n}: not found, ignored");
    }
    for u in &removed.stopped {
        say!("rootlet: stopped {u}");
    }
    for n in &removed.notes {
        say!("rootlet: note: {n}");
    }
    out(&lines(&removed.files));
    if removed.files.is_empty() {
        say!("rootlet: nothing to remove");
    }
    if removed.files.is_empty() || reload(a.no_reload) {
        Exit::Ok
    } else {
        Exit::Failed
    }
}

pub fn add(a: AddArgs) -> Exit {
    let places = match places() {
        Ok(p) => p,
        Err(c) => return c,
    };
    let mut inputs = Vec::new();
    let mut errors: Vec<SourceError> = Vec::new();
    for p in &a.paths {
        let r = if p.starts_with("https://") || p.starts_with("http://") {
            match manage::fetch::download(p) {
                Ok((name, data)) => add::from_bytes(&name, data, Path::new(p)),
                Err(why) => Err(vec![SourceError::new(Path::new(p), 0, why)]),
            }
        } else {
            add::read_path(Path::new(p))
        };
        match r {
            Ok(i) => inputs.push(i),
            Err(e) => errors.extend(e),
        }
    }
    for i in &inputs {
        for n in &i.notes {
            say!("rootlet: note: {n}");
        }
    }
    if !errors.is_empty() {
        fail(&ManageError::Invalid(errors));
        say!("rootlet: nothing was written");
        return Exit::Failed;
    }
    let (opts, _) = rootlet::generator::Options::from_env();
    let how = add::AddOptions {
        replace: a.replace,
        force: a.force,
    };
    let added = match add::add(&places, &opts, &inputs, how) {
        Ok(x) => x,
        Err(e @ ManageError::Invalid(_)) => {
            fail(&e);
            say!("rootlet: nothing was written");
            return Exit::Failed;
        }
        Err(e) => return fail(&e),
    };
    for n in &added.notes {
        say!("rootlet: note: {n}");
    }
    out(&lines(&added.files));
    if !reload(a.no_reload) {
        if a.now && !added.units.is_empty() {
            let start = systemd::Op::new(systemd::Verb::Start, &added.units);
            say!("rootlet: then run `{}`", start.shown());
        }
        return Exit::Failed;
    }
    let mut ok = true;
    if a.now {
        let mut started = Vec::new();
        let results = systemd::all(systemd::start, &added.units, JOB_WAIT);
        for (u, r) in added.units.iter().zip(results) {
            match r {
                Ok(s) if s.active == "active" => started.push(u.clone()),
                Ok(s) => {
                    ok = false;
                    not_started(u, &s);
                }
                Err(e) => {
                    ok = false;
                    say!("rootlet: {u}: {e}");
                }
            }
        }
        // A container that exits at once was "started" (podman said so): look again.
        if !started.is_empty() {
            std::thread::sleep(SETTLE);
            match systemd::states(&started) {
                Ok(states) => {
                    for (u, s) in started.iter().zip(states) {
                        if s.active == "active" || s.active == "reloading" {
                            say!("rootlet: started {u}");
                        } else {
                            ok = false;
                            not_started(u, &s);
                        }
                    }
                }
                Err(e) => {
                    ok = false;
                    say!("rootlet: {e}");
                }
            }
        }
    }
    if ok {
        Exit::Ok
    } else {
        Exit::Failed
    }
}

/// How long after starting units `add --now` looks at them again.
const SETTLE: Duration = Duration::from_secs(2);

fn not_started(u: &str, s: &systemd::UnitState) {
    let why = list::reason(u, Duration::from_secs(10));
    say!(
        "rootlet: {u} did not start: {}/{}{}{}",
        s.active,
        s.sub,
        if s.result.is_empty() || s.result == "success" {
            String::new()
        } else {
            format!(" ({})", s.result)
        },
        why.map(|l| format!(": {l}")).unwrap_or_default()
    );
}

pub fn list(a: ListArgs) -> Exit {
    let places = match places() {
        Ok(p) => p,
        Err(c) => return c,
    };
    let mut globs = Vec::new();
    for f in &a.filter {
        match list::parse_filter(f) {
            Ok(g) => globs.push(g),
            Err(e) => {
                say!("rootlet: {e}");
                return Exit::Usage;
            }
        }
    }
    let (opts, _) = rootlet::generator::Options::from_env();
    let listing = match list::list(&places, &globs, true, Some(&opts)) {
        Ok(l) => l,
        Err(e) => return fail(&e),
    };
    if let Some(why) = &listing.states_unknown {
        say!("rootlet: note: states unknown: {why}");
    }
    let mut out = String::new();
    match a.format {
        Format::Json => out = json(&listing.entries),
        Format::Table => {
            let colour = std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").map_or(true, |v| v.is_empty());
            const COLS: usize = 6;
            let rows: Vec<[String; COLS]> = listing
                .entries
                .iter()
                .map(|e| {
                    // Names from the user's files (and states from the bus) can hold
                    // terminal escapes and newlines: escaped like every name printed.
                    [
                        shown(&e.name),
                        shown(&e.unit),
                        shown(e.status()),
                        shown(e.socket_text()),
                        e.app.as_ref().map_or_else(|| "-".into(), shown),
                        shown(&e.path),
                    ]
                })
                .collect();
            let head = ["NAME", "UNIT", "STATE", "SOCKET", "APPLICATION", "PATH"];
            let mut w = head.map(|h| h.chars().count());
            for r in &rows {
                for (i, c) in r.iter().enumerate() {
                    w[i] = w[i].max(c.chars().count());
                }
            }
            // `paint`: the colour of the STATE and SOCKET cells.
            let line = |cells: [&str; COLS], paint: [Option<&str>; 2]| {
                let mut s = String::new();
                for (i, c) in cells.iter().enumerate() {
                    let pad = " ".repeat(w[i].saturating_sub(c.chars().count()));
                    match (i, paint.get(i.wrapping_sub(2)).copied().flatten()) {
                        (2 | 3, Some(code)) => s.push_str(&format!("\x1b[{code}m{c}\x1b[0m{pad}")),
                        _ if i == COLS - 1 => s.push_str(c),
                        _ => s.push_str(&format!("{c}{pad}")),
                    }
                    if i < COLS - 1 {
                        s.push_str("  ");
                    }
                }
                s.push('\n');
                s
            };
            out.push_str(&line(head, [None, None]));
            for (r, e) in rows.iter().zip(&listing.entries) {
                let paint = if colour {
                    [state_colour(e), sockets_colour(e)]
                } else {
                    [None, None]
                };
                out.push_str(&line([&r[0], &r[1], &r[2], &r[3], &r[4], &r[5]], paint));
                let parts = e.sockets.iter().chain(&e.proxy);
                let logs = std::iter::once((&e.unit, &e.last_log))
                    .chain(parts.map(|p| (&p.unit, &p.last_log)));
                for (u, l) in logs {
                    if let Some(l) = l {
                        let l: String = l.chars().filter(|c| !c.is_control()).collect();
                        out.push_str(&format!("  └ {}: {l}\n", shown(u)));
                    }
                }
                if let Some(l) = &e.error {
                    let l: String = l.chars().filter(|c| !c.is_control()).collect();
                    out.push_str(&format!("  └ no unit: {l}\n"));
                }
            }
        }
    }
    crate::ui::out(&out);
    Exit::Ok
}

/// The colour of a state: green when up (or idle: waiting for a connection is not
/// broken), red when failed, yellow on its way.
fn colour_of(active: Option<&str>) -> Option<&'static str> {
    match active {
        Some("active") => Some("32"),
        Some("failed") => Some("31"),
        Some("activating") | Some("deactivating") | Some("reloading") => Some("33"),
        _ => None,
    }
}

fn state_colour(e: &list::Entry) -> Option<&'static str> {
    if e.idle() {
        return Some("32");
    }
    colour_of(e.state.as_ref().map(|s| s.active.as_str()))
}

/// The SOCKET cell's colour: that of its worst unit (failed, then on its way, then up).
fn sockets_colour(e: &list::Entry) -> Option<&'static str> {
    let colours: Vec<Option<&str>> = (e.sockets.iter())
        .map(|s| colour_of(s.state.as_ref().map(|s| s.active.as_str())))
        .chain(e.proxy.iter().map(|p| match e.idle() {
            true => Some("32"),
            false => colour_of(p.state.as_ref().map(|s| s.active.as_str())),
        }))
        .collect();
    ["31", "33"]
        .into_iter()
        .find(|c| colours.contains(&Some(c)))
        .or_else(|| {
            let up = !colours.is_empty() && colours.iter().all(|c| *c == Some("32"));
            up.then_some("32")
        })
}

/// `"load": ..., "active": ..., "sub": ..., "result": ..., "status": ...` of a state.
fn json_state(st: &Option<systemd::UnitState>, status: &str) -> String {
    use rootlet::doctor::json_string as s;
    let st = st.clone().unwrap_or_else(|| systemd::UnitState {
        load: "unknown".into(),
        active: "unknown".into(),
        sub: "unknown".into(),
        result: String::new(),
    });
    format!(
        "\"load\": {}, \"active\": {}, \"sub\": {}, \"result\": {}, \"status\": {}",
        s(&st.load),
        s(&st.active),
        s(&st.sub),
        s(&st.result),
        s(status),
    )
}

fn json(entries: &[list::Entry]) -> String {
    use rootlet::doctor::json_string as s;
    let opt = |v: &Option<String>| v.as_deref().map_or("null".into(), s);
    let part = |p: &list::Part, status: String| {
        format!(
            "{{\"unit\": {}, {}, \"last_log\": {}}}",
            s(&p.unit),
            json_state(&p.state, &status),
            opt(&p.last_log)
        )
    };
    let mut out = String::from("[");
    for (i, e) in entries.iter().enumerate() {
        let sockets: Vec<String> = (e.sockets.iter())
            .map(|p| part(p, list::socket_state_text(&p.state)))
            .collect();
        let proxy = match (&e.proxy, e.proxy_status()) {
            (Some(p), Some(status)) => part(p, status),
            _ => "null".into(),
        };
        out.push_str(if i == 0 { "\n  " } else { ",\n  " });
        out.push_str(&format!(
            "{{\"name\": {}, \"unit\": {}, \"path\": {}, \"app\": {}, {}, \"last_log\": {}, \"error\": {}, \"sockets\": [{}], \"proxy\": {}}}",
            s(&e.name),
            s(&e.unit),
            s(&e.path.display().to_string()),
            opt(&e.app),
            json_state(&e.state, &e.status()),
            opt(&e.last_log),
            opt(&e.error),
            sockets.join(", "),
            proxy,
        ));
    }
    out.push_str(if entries.is_empty() { "]\n" } else { "\n]\n" });
    out
}
