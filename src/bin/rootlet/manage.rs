//! The day-2 commands' command line: `rootlet print|rm|add|list` (logic in
//! `rootlet::manage`), their printing and exit codes, and the small HTTP client of
//! `rootlet add URL` (here, in the `rootlet` binary only: `http://` to loopback over a plain
//! TcpStream, `https://` through `curl`).

use clap::{Args, ValueEnum};
use rootlet::error::SourceError;
use rootlet::manage::{self, add, list, print, rm, ManageError, Places};
use rootlet::user_manager as systemd;
use std::io::{IsTerminal, Read, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

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
    /// Only sources whose file or unit name matches: `name=GLOB` (repeatable: all must match).
    #[arg(long, short, value_name = "name=GLOB")]
    filter: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
}

/// How long `rm --force` waits for a unit to stop and `add --now` for it to start.
const JOB_WAIT: Duration = Duration::from_secs(120);

fn places() -> Result<Places, ExitCode> {
    Places::from_process().map_err(|e| {
        eprintln!("rootlet: {e}");
        ExitCode::FAILURE
    })
}

/// Print an error: each source error on a line of its own (`file:line: message`).
fn fail(e: &ManageError) -> ExitCode {
    if let ManageError::Invalid(errors) = e {
        for x in errors {
            eprintln!("{x}");
        }
    }
    eprintln!("rootlet: {e}");
    ExitCode::FAILURE
}

fn reload(no_reload: bool) -> bool {
    if no_reload {
        return true;
    }
    match systemd::reload() {
        Ok(()) => true,
        Err(e) => {
            eprintln!("rootlet: {e}");
            eprintln!("rootlet: the files are in place; run `systemctl --user daemon-reload` (or pass --no-reload)");
            false
        }
    }
}

pub fn print(a: PrintArgs) -> ExitCode {
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
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e),
    }
}

pub fn rm(a: RmArgs) -> ExitCode {
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
        eprintln!("rootlet: note: units not checked for running ({why})");
    }
    for n in &removed.ignored {
        eprintln!("rootlet: note: {n}: not found, ignored");
    }
    for u in &removed.stopped {
        eprintln!("rootlet: stopped {u}");
    }
    for f in &removed.files {
        println!("{}", f.display());
    }
    if removed.files.is_empty() {
        eprintln!("rootlet: nothing to remove");
    }
    if removed.files.is_empty() || reload(a.no_reload) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

pub fn add(a: AddArgs) -> ExitCode {
    let places = match places() {
        Ok(p) => p,
        Err(c) => return c,
    };
    let mut inputs = Vec::new();
    let mut errors: Vec<SourceError> = Vec::new();
    for p in &a.paths {
        let r = if p.starts_with("https://") || p.starts_with("http://") {
            match download(p) {
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
            eprintln!("rootlet: note: {n}");
        }
    }
    if !errors.is_empty() {
        fail(&ManageError::Invalid(errors));
        eprintln!("rootlet: nothing was written");
        return ExitCode::FAILURE;
    }
    let (opts, _) = rootlet::generator::Options::from_env();
    if let Err(e) = add::check(&places, &opts, &inputs, a.replace) {
        fail(&e);
        eprintln!("rootlet: nothing was written");
        return ExitCode::FAILURE;
    }
    let added = match add::write(&places, &inputs) {
        Ok(x) => x,
        Err(e) => return fail(&e),
    };
    for f in &added.files {
        println!("{}", f.display());
    }
    if !reload(a.no_reload) {
        return ExitCode::FAILURE;
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
                    eprintln!("rootlet: {u}: {e}");
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
                            eprintln!("rootlet: started {u}");
                        } else {
                            ok = false;
                            not_started(u, &s);
                        }
                    }
                }
                Err(e) => {
                    ok = false;
                    eprintln!("rootlet: {e}");
                }
            }
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// How long after starting units `add --now` looks at them again.
const SETTLE: Duration = Duration::from_secs(2);

fn not_started(u: &str, s: &systemd::UnitState) {
    let why = systemd::last_log_line(u, Duration::from_secs(10));
    eprintln!(
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

fn state_text(s: &Option<systemd::UnitState>) -> String {
    match s {
        None => "unknown".into(),
        Some(s) if s.load == "not-found" => "not loaded".into(),
        Some(s) if s.active == "failed" && !s.result.is_empty() => {
            format!("failed ({})", s.result)
        }
        Some(s) => format!("{}/{}", s.active, s.sub),
    }
}

pub fn list(a: ListArgs) -> ExitCode {
    let places = match places() {
        Ok(p) => p,
        Err(c) => return c,
    };
    let mut globs = Vec::new();
    for f in &a.filter {
        match list::parse_filter(f) {
            Ok(g) => globs.push(g),
            Err(e) => {
                eprintln!("rootlet: {e}");
                return ExitCode::from(2);
            }
        }
    }
    let listing = match list::list(&places, &globs, true) {
        Ok(l) => l,
        Err(e) => return fail(&e),
    };
    if let Some(why) = &listing.states_unknown {
        eprintln!("rootlet: note: states unknown: {why}");
    }
    let mut out = String::new();
    match a.format {
        Format::Json => out = json(&listing.entries),
        Format::Table => {
            let colour = std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").map_or(true, |v| v.is_empty());
            let rows: Vec<[String; 5]> = listing
                .entries
                .iter()
                .map(|e| {
                    [
                        e.name.clone(),
                        e.unit.clone(),
                        state_text(&e.state),
                        e.app.clone().unwrap_or_else(|| "-".into()),
                        e.path.display().to_string(),
                    ]
                })
                .collect();
            let head = ["NAME", "UNIT", "STATE", "APPLICATION", "PATH"];
            let mut w = head.map(|h| h.chars().count());
            for r in &rows {
                for (i, c) in r.iter().enumerate() {
                    w[i] = w[i].max(c.chars().count());
                }
            }
            let line = |cells: [&str; 5], paint: Option<&str>| {
                let mut s = String::new();
                for (i, c) in cells.iter().enumerate() {
                    let pad = " ".repeat(w[i].saturating_sub(c.chars().count()));
                    match (i, paint) {
                        (2, Some(code)) => s.push_str(&format!("\x1b[{code}m{c}\x1b[0m{pad}")),
                        _ if i == 4 => s.push_str(c),
                        _ => s.push_str(&format!("{c}{pad}")),
                    }
                    if i < 4 {
                        s.push_str("  ");
                    }
                }
                s.push('\n');
                s
            };
            out.push_str(&line(head, None));
            for (r, e) in rows.iter().zip(&listing.entries) {
                let active = e.state.as_ref().map(|s| s.active.as_str());
                let paint = match active {
                    _ if !colour => None,
                    Some("active") => Some("32"),
                    Some("failed") => Some("31"),
                    Some("activating") | Some("deactivating") | Some("reloading") => Some("33"),
                    _ => None,
                };
                out.push_str(&line([&r[0], &r[1], &r[2], &r[3], &r[4]], paint));
                if let Some(l) = &e.last_log {
                    let l: String = l.chars().filter(|c| !c.is_control()).collect();
                    out.push_str(&format!("  └ {}: {l}\n", e.unit));
                }
            }
        }
    }
    let _ = std::io::stdout().write_all(out.as_bytes());
    ExitCode::SUCCESS
}

fn json(entries: &[list::Entry]) -> String {
    use rootlet::doctor::json_string as s;
    let opt = |v: &Option<String>| v.as_deref().map_or("null".into(), s);
    let mut out = String::from("[");
    for (i, e) in entries.iter().enumerate() {
        let st = e.state.clone().unwrap_or_else(|| systemd::UnitState {
            load: "unknown".into(),
            active: "unknown".into(),
            sub: "unknown".into(),
            result: String::new(),
        });
        out.push_str(if i == 0 { "\n  " } else { ",\n  " });
        out.push_str(&format!(
            "{{\"name\": {}, \"unit\": {}, \"path\": {}, \"app\": {}, \"load\": {}, \"active\": {}, \"sub\": {}, \"result\": {}, \"status\": {}, \"last_log\": {}}}",
            s(&e.name),
            s(&e.unit),
            s(&e.path.display().to_string()),
            opt(&e.app),
            s(&st.load),
            s(&st.active),
            s(&st.sub),
            s(&st.result),
            s(&state_text(&e.state)),
            opt(&e.last_log),
        ));
    }
    out.push_str(if entries.is_empty() { "]\n" } else { "\n]\n" });
    out
}

// --- downloads

/// Deadline for one download, all of it.
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(60);

/// The file name a URL names: its path's last segment.
fn url_file_name(url: &str) -> Result<String, String> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let path = rest.split(['?', '#']).next().unwrap_or("");
    let name = path.split_once('/').map_or("", |(_, p)| p);
    let name = name.rsplit('/').next().unwrap_or("");
    if manage::valid_file_name(name) {
        Ok(name.to_owned())
    } else {
        Err(
            "the URL names no file (its path must end in NAME.container, NAME.quadlets, ...)"
                .into(),
        )
    }
}

/// Fetch a URL: (file name, content).
fn download(url: &str) -> Result<(String, Vec<u8>), String> {
    let name = url_file_name(url)?;
    let data = if let Some(rest) = url.strip_prefix("http://") {
        http_get(rest)?
    } else {
        curl(url)?
    };
    Ok((name, data))
}

/// `https://` through curl: only https, redirects too, bounded in size and time.
fn curl(url: &str) -> Result<Vec<u8>, String> {
    use std::process::{Command, Stdio};
    let mut child = Command::new("curl")
        .args(["-fsSL", "--proto", "=https", "--proto-redir", "=https"])
        .args(["--max-time", &DOWNLOAD_TIMEOUT.as_secs().to_string()])
        .args([
            "--max-filesize",
            &manage::MAX_INPUT.to_string(),
            "-o",
            "-",
            "--",
            url,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("https:// needs curl, which cannot be run: {e}"))?;
    let mut stdout = child.stdout.take().ok_or("no pipe")?;
    let mut stderr = child.stderr.take().ok_or("no pipe")?;
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = (&mut stdout)
            .take(manage::MAX_INPUT + 1)
            .read_to_end(&mut buf);
        buf
    });
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = (&mut stderr).take(4096).read_to_end(&mut buf);
        buf
    });
    let until = Instant::now() + DOWNLOAD_TIMEOUT + Duration::from_secs(10);
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if Instant::now() < until => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return Err("curl did not finish in time".into());
            }
        }
    };
    let data = reader.join().map_err(|_| "reading curl's output failed")?;
    let err = err_reader.join().unwrap_or_default();
    if !status.success() {
        let msg = String::from_utf8_lossy(&err).trim().to_owned();
        return Err(format!(
            "curl failed ({status}){}",
            if msg.is_empty() {
                String::new()
            } else {
                format!(": {msg}")
            }
        ));
    }
    if data.len() as u64 > manage::MAX_INPUT {
        return Err(format!("larger than {} bytes", manage::MAX_INPUT));
    }
    Ok(data)
}

/// `http://HOST[:PORT]/PATH` with HTTP/1.1, to loopback addresses only (plain HTTP over
/// any real network would let anyone on the way change the units); no redirects.
fn http_get(rest: &str) -> Result<Vec<u8>, String> {
    use std::net::{TcpStream, ToSocketAddrs};
    let (authority, path) = match rest.find(['/', '?', '#']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let path = path.split('#').next().unwrap_or("/");
    let path = if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("/{path}")
    };
    if authority.is_empty()
        || authority.contains('@')
        || path.chars().any(|c| c.is_control() || c == ' ')
    {
        return Err("not a usable http:// URL".into());
    }
    let host_port = if authority.starts_with('[')
        || authority
            .rsplit_once(':')
            .is_some_and(|(_, p)| p.chars().all(|c| c.is_ascii_digit()))
    {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    };
    let addrs: Vec<_> = host_port
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {authority}: {e}"))?
        .collect();
    if addrs.is_empty() || !addrs.iter().all(|a| a.ip().is_loopback()) {
        return Err(
            "http:// is taken for loopback addresses only (for tests); use https://".into(),
        );
    }
    let start = Instant::now();
    let left = || {
        DOWNLOAD_TIMEOUT
            .checked_sub(start.elapsed())
            .filter(|d| !d.is_zero())
    };
    let mut stream = TcpStream::connect_timeout(&addrs[0], Duration::from_secs(10))
        .map_err(|e| format!("cannot connect to {authority}: {e}"))?;
    stream.set_write_timeout(Some(Duration::from_secs(10))).ok();
    let host = authority;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: rootlet/{}\r\nAccept: */*\r\nConnection: close\r\n\r\n",
        env!("CARGO_PKG_VERSION")
    )
    .map_err(|e| format!("sending the request: {e}"))?;
    let limit = manage::MAX_INPUT + 64 * 1024;
    let mut raw = Vec::new();
    let mut chunk = [0u8; 16384];
    loop {
        let Some(t) = left() else {
            return Err("no complete answer in time".into());
        };
        stream.set_read_timeout(Some(t)).ok();
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("reading the answer: {e}")),
        }
        if raw.len() as u64 > limit {
            return Err(format!("larger than {} bytes", manage::MAX_INPUT));
        }
    }
    parse_response(&raw)
}

/// An HTTP/1.x response read to its end: the body of a 200, by Content-Length, chunked,
/// or up to the close.
fn parse_response(raw: &[u8]) -> Result<Vec<u8>, String> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("not an HTTP answer")?;
    let head = std::str::from_utf8(&raw[..end]).map_err(|_| "not an HTTP answer")?;
    let body = &raw[end + 4..];
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap_or("");
    let code = status.split_whitespace().nth(1).unwrap_or("");
    if !status.starts_with("HTTP/1.") {
        return Err("not an HTTP/1 answer".into());
    }
    if code != "200" {
        return Err(format!("the server answered {}", status.trim()));
    }
    let mut length = None;
    let mut chunked = false;
    for l in lines {
        let Some((k, v)) = l.split_once(':') else {
            continue;
        };
        let v = v.trim();
        if k.eq_ignore_ascii_case("content-length") {
            length = Some(v.parse::<usize>().map_err(|_| "a bad Content-Length")?);
        } else if k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked") {
            chunked = true;
        }
    }
    if chunked {
        let mut out = Vec::new();
        let mut rest = body;
        loop {
            let i = rest
                .windows(2)
                .position(|w| w == b"\r\n")
                .ok_or("a truncated chunked body")?;
            let size_text = std::str::from_utf8(&rest[..i]).map_err(|_| "a bad chunk")?;
            let size_text = size_text.split(';').next().unwrap_or("").trim();
            let size = usize::from_str_radix(size_text, 16).map_err(|_| "a bad chunk size")?;
            rest = &rest[i + 2..];
            if size == 0 {
                return Ok(out);
            }
            if size.checked_add(2).map_or(true, |n| rest.len() < n) {
                return Err("a truncated chunked body".into());
            }
            out.extend_from_slice(&rest[..size]);
            rest = &rest[size + 2..];
        }
    }
    match length {
        Some(n) if body.len() < n => Err("a truncated answer".into()),
        Some(n) => Ok(body[..n].to_vec()),
        None => Ok(body.to_vec()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses() {
        assert_eq!(
            parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcdef").unwrap(),
            b"abc"
        );
        assert_eq!(
            parse_response(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n").unwrap(),
            b"abcde"
        );
        assert!(parse_response(b"HTTP/1.1 404 Not Found\r\n\r\n").is_err());
        assert!(parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc").is_err());
        assert!(parse_response(b"garbage").is_err());
        assert!(parse_response(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n"
        )
        .is_err());
        for huge in [
            &b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\nab"[..],
            b"HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551615\r\n\r\nab",
            b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\nab",
            b"HTTP/1.1 200\r\n\r\n\xff\xfe",
        ] {
            let _ = parse_response(huge); // no panic
        }
    }

    #[test]
    fn url_names() {
        assert_eq!(
            url_file_name("https://h/a/web.container?x=1").unwrap(),
            "web.container"
        );
        assert!(url_file_name("https://h/").is_err());
        assert!(url_file_name("https://h").is_err());
    }
}
